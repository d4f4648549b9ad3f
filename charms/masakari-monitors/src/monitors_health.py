"""Whether each masakari monitor on this hypervisor is doing its work: daemon and helpers.

The daemon (run by the machine's python3 as root:
``python3 /usr/local/lib/masakari-monitors-charm/monitors_health.py --config
/etc/masakari-monitors-health.json``) samples every monitor's main process every 10 s
(:mod:`liveness`: context switches and process state), writes the state file the charm's
status and the Nagios check read, and serves the ``masakari_monitor_*`` families on
127.0.0.1:9869. The charm copies :data:`COPIED_MODULES` into one directory and renders
:func:`config_text`; :func:`status_problems` turns the state file into status messages.

A monitor counts as wedged when its main process stayed unscheduled for its whole
window. Each loop's quiet stretches are bounded by its own options (masakari-monitors
17 to 22 loop alike), so the window is three times the longest of them, and never
below a floor (:func:`monitor_windows`):

* host monitor: one check, then ``[host] monitoring_interval`` (default 60) asleep;
  ``stonith_wait`` (30) after a failed corosync check, ``ipmi_retry_interval`` (10) and
  ``api_retry_interval`` (10) between retries, ``tcpdump_timeout``/``ipmi_timeout`` (5)
  per command. Between two checks the eventlet hub may not be scheduled at all.
* process monitor: ``[process] check_interval`` (5) between ``ps`` checks,
  ``restart_interval`` (5) and ``api_retry_interval`` (10) between retries. It also
  runs the restart commands and waits on them (``systemctl restart`` may take up to
  systemd's 90 s start timeout), hence a floor of 120 s.
* instance monitor: the libvirt connection check wakes every second (hard-coded), a
  native thread runs libvirt's event loop (keepalive every 5 s), and notifications
  are retried every ``[callback] retry_interval`` (10): the floor (30 s) rules.
* introspective instance monitor: the same libvirt loop, plus guest-agent checks every
  ``[introspectiveinstancemonitor] guest_monitoring_interval`` (10), each waiting up to
  ``guest_monitoring_timeout`` (2).

Limit: the host and process monitors are one OS thread (eventlet), so any wedge shows.
In the two instance monitors libvirt's event-loop thread wakes for its keepalive even
when the main loop is stuck; there the signal catches a stopped process or one blocked
as a whole (libvirtd hung), not a main loop stuck while libvirt's thread still runs.

The daemon's modules sit next to this file on the machine; in the charm they come from
the staged library.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import logging
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

try:  # in the charm: the staged library
    from openstack_charm_lib import exporter, liveness
except ImportError:  # the daemon: the charm copied the modules next to this file
    import exporter  # pyright: ignore[reportMissingImports]
    import liveness  # pyright: ignore[reportMissingImports]

DAEMON_DIR = "/usr/local/lib/masakari-monitors-charm"
CONFIG = "/etc/masakari-monitors-health.json"
STATE_FILE = "/run/masakari-monitors-health/state.json"
LISTEN_PORT = 9869
SAMPLE_INTERVAL = 10.0
DEFAULTS = liveness.DaemonSettings(LISTEN_PORT, STATE_FILE, SAMPLE_INTERVAL)
# Readers (the charm, the Nagios check) ignore a state file older than this: the daemon
# has stopped sampling.
STATE_MAX_AGE = 6 * SAMPLE_INTERVAL
COPIED_MODULES = (Path(__file__), *(Path(inspect.getfile(m)) for m in (liveness, exporter)))

METRIC_FAMILIES = {
    "masakari_monitor_running": "1 if the monitor's service has a live main process, else 0",
    "masakari_monitor_progressing": (
        "1 if the monitor's main process was scheduled within its window (its loop runs), else 0"
    ),
    "masakari_monitor_seconds_since_progress": (
        "Seconds since the monitor's main process was last seen scheduled"
    ),
}

WINDOW_FACTOR = 3
MIN_WINDOW = 30.0


@dataclasses.dataclass(frozen=True)
class Loop:
    """The options (section, key, upstream default) bounding one monitor's quiet stretches."""

    options: tuple[tuple[str, str, int], ...]
    floor: float = MIN_WINDOW


LOOPS = {
    "masakari-host-monitor": Loop(
        (
            ("host", "monitoring_interval", 60),
            ("host", "stonith_wait", 30),
            ("host", "ipmi_retry_interval", 10),
            ("host", "api_retry_interval", 10),
            ("host", "tcpdump_timeout", 5),
            ("host", "ipmi_timeout", 5),
        )
    ),
    "masakari-instance-monitor": Loop((("callback", "retry_interval", 10),)),
    "masakari-introspective-instance-monitor": Loop(
        (
            ("introspectiveinstancemonitor", "guest_monitoring_interval", 10),
            ("introspectiveinstancemonitor", "guest_monitoring_timeout", 2),
            ("callback", "retry_interval", 10),
        )
    ),
    "masakari-process-monitor": Loop(
        (
            ("process", "check_interval", 5),
            ("process", "restart_interval", 5),
            ("process", "api_retry_interval", 10),
        ),
        floor=120.0,
    ),
}


def monitor_windows(
    monitors: Iterable[str], sections: Mapping[str, Mapping[str, str]]
) -> dict[str, float]:
    """Each monitor's window, from masakarimonitors.conf's ``sections`` as rendered.

    An option the file leaves out (or sets to something that is no whole number, which
    the monitor would refuse anyway) counts at its upstream default. A monitor this
    module does not know gets the floor.
    """
    result = {}
    for monitor in monitors:
        loop = LOOPS.get(monitor, Loop(()))
        longest = max(
            (
                _seconds(sections.get(section, {}).get(key), default)
                for section, key, default in loop.options
            ),
            default=0,
        )
        result[monitor] = float(max(WINDOW_FACTOR * longest, loop.floor))
    return result


def _seconds(value: str | None, default: int) -> int:
    try:
        return max(0, int(str(value).strip())) if value is not None else default
    except ValueError:
        return default


def config_text(
    windows: Mapping[str, float],
    listen_port: int = LISTEN_PORT,
    state_file: str = STATE_FILE,
) -> str:
    """The daemon's JSON configuration: the monitors to watch and their windows."""
    document = {
        "monitors": {monitor: {"window": float(window)} for monitor, window in windows.items()},
        "listen_port": listen_port,
        "state_file": state_file,
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


@dataclasses.dataclass(frozen=True)
class Config:
    """The daemon's configuration, as :func:`config_text` wrote it."""

    windows: dict[str, float]
    daemon: liveness.DaemonSettings = DEFAULTS


def load_config(text: str) -> Config:
    """Parse the daemon's configuration; ValueError (with the reason) when unusable."""
    try:
        document: Any = json.loads(text)
        monitors = document["monitors"]
        windows = {str(m): liveness.number(entry["window"]) for m, entry in monitors.items()}
        if min(windows.values(), default=1) <= 0:
            raise ValueError("windows must be positive")
        return Config(windows, liveness.daemon_settings(document, DEFAULTS))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ValueError(f"invalid monitors health configuration: {exc!r}") from None


def families(states: Mapping[str, liveness.ServiceState] | None) -> list[exporter.Family]:
    """The ``masakari_monitor_*`` families of one sample (no samples before the first)."""
    states = states or {}
    values = {
        "masakari_monitor_running": lambda s: s.running,
        "masakari_monitor_progressing": lambda s: s.progressing,
        "masakari_monitor_seconds_since_progress": lambda s: s.seconds_since_progress,
    }
    return [
        exporter.family(
            name,
            METRIC_FAMILIES[name],
            samples=[({"monitor": m}, float(value(s))) for m, s in states.items()],
        )
        for name, value in values.items()
    ]


def status_problems(state: Mapping[str, liveness.ServiceState] | None) -> list[str]:
    """One message per monitor that runs but makes no progress; [] when none (or no state).

    A monitor that is not running is the service status's business, not this one's.
    """
    return [
        f"{monitor} has made no progress for {s.seconds_since_progress:.0f}s (wedged?); "
        "run the restart-services action"
        for monitor, s in sorted((state or {}).items())
        if s.running and not s.progressing
    ]


def main(argv: list[str] | None = None, stop: threading.Event | None = None) -> None:
    """Run the daemon until SIGTERM (or ``stop``: one already set means one sample)."""
    config = load_config(liveness.daemon_config(argv, "masakari monitors health", CONFIG))
    settings = config.daemon
    sampler = liveness.Sampler(config.windows)
    logging.getLogger(__name__).info("watching %s", ", ".join(config.windows) or "nothing")
    liveness.serve_samples(
        settings,
        sample=sampler.sample,
        persist=lambda states, now: liveness.write_state(settings.state_file, states, now),
        make_server=lambda newest: exporter.MetricsServer(
            settings.listen_address, settings.listen_port, lambda: families(newest()), 1.0
        ),
        max_age=3 * settings.sample_interval,
        stop=stop,
    )


if __name__ == "__main__":
    main()
