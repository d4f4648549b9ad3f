"""Whether a long-running service is doing its work, not merely running.

A monitor loop that is wedged (deadlocked, SIGSTOPped, blocked forever on a read or on
a child that never exits) keeps its systemd unit ``active``. What it cannot fake is
scheduling: a loop that sleeps and wakes is switched out and back in by the kernel, and
each switch is counted. The progress signal is therefore the sum, over every thread of
the service's main process, of ``voluntary_ctxt_switches`` and
``nonvoluntary_ctxt_switches`` (``/proc/<pid>/task/*/status``), plus the process state:
``T``/``t`` (stopped, traced) is never progress whatever the counters say.

Children are left out on purpose: the monitors run their checks as short-lived commands
(crm_mon, tcpdump, ipmitool, systemctl) and through a privsep daemon, and a child that
spins while the loop waits on it forever must not count as the loop's progress.

:class:`Sampler`, called every ~10 s, keeps per-service history: a service is
*progressing* while its counter changed within its window (seconds). A new process
(another PID or start time) is a fresh start: progressing until a window passes without
change. Windows must exceed the longest legitimate quiet stretch of the loop -- an
eventlet loop asleep between checks is not scheduled at all (a real process monitor
with ``check_interval = 2`` showed flat counters for 1.5 s) -- so the caller derives
them from the loop's own options, as masakari-monitors' health daemon does
(``monitors_health.LOOPS``, 3 x the longest, at least 30 s):

* masakari-hostmonitor: ``[host] monitoring_interval`` between crm_mon/cibadmin checks
  (also ``stonith_wait``, ``ipmi_retry_interval``, ``api_retry_interval``);
* masakari-processmonitor: ``[process] check_interval`` between ``ps`` checks (also
  ``restart_interval``, ``api_retry_interval``; it waits on restart commands, so 120 s
  at least);
* masakari-instancemonitor: no option; its libvirt connection check wakes every second
  and libvirt's event loop thread every 5 s (keepalive), so the floor;
* masakari-introspectiveinstancemonitor: the same, plus guest-agent polls every
  ``[introspectiveinstancemonitor] guest_monitoring_interval``.

The samples are written atomically as JSON (:func:`write_state`) so every reader (the
charm's status, the Nagios check, the exporter) sees one source of truth;
:func:`read_state` returns it or None, never raising. Both health daemons
(masakari-monitors', pacemaker-remote's) share the rest: their configuration's common
keys (:func:`daemon_settings`) and the loop (:func:`serve_samples`: sample every few
seconds, write the state file, serve the newest sample's metrics, stop on SIGTERM).

Stdlib only: this module runs on the machine's system python3.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

logger = logging.getLogger(__name__)

PROC = Path("/proc")
STOPPED_STATES = frozenset("Tt")  # stopped by a signal, stopped by a tracer
STATE_VERSION = 1


@dataclasses.dataclass(frozen=True)
class ProcessSample:
    """One reading of a process: identity, summed switch counter and state letter."""

    pid: int
    start_time: int  # clock ticks after boot: tells a reused PID from the old process
    switches: int
    state: str

    @property
    def stopped(self) -> bool:
        """Whether the process is stopped (SIGSTOP, a tracer): no progress possible."""
        return self.state in STOPPED_STATES


def read_process(pid: int, proc: Path = PROC) -> ProcessSample | None:
    """Read ``pid`` from ``proc``; None when it is gone, a zombie or unreadable."""
    if pid <= 0:
        return None
    base = proc / str(pid)
    try:
        stat = (base / "stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may itself hold ") "; fields follow the last.
    fields = stat[stat.rfind(")") + 2 :].split()
    if len(fields) < 20 or fields[0] in ("Z", "X"):
        return None
    switches = 0
    try:
        tasks = list((base / "task").iterdir())
    except OSError:
        return None
    for task in tasks:
        try:
            status = (task / "status").read_text()
        except OSError:
            continue  # the thread exited between the listing and the read
        switches += _switches(status)
    return ProcessSample(pid=pid, start_time=int(fields[19]), switches=switches, state=fields[0])


def _switches(status: str) -> int:
    total = 0
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key in ("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"):
            total += int(value.strip() or 0)
    return total


def main_pid(unit: str, timeout: float = 10.0) -> int:
    """The main PID systemd records for ``unit``; 0 when it has none or systemd fails."""
    try:
        proc = subprocess.run(
            ["systemctl", "show", "-p", "MainPID", "--value", unit],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return 0
    text = proc.stdout.strip()
    return int(text) if proc.returncode == 0 and text.isdigit() else 0


@dataclasses.dataclass(frozen=True)
class ServiceState:
    """What one sample says about one service."""

    running: bool
    progressing: bool
    seconds_since_progress: float
    pid: int
    sampled_at: float

    def as_json(self) -> dict[str, Any]:
        """The JSON object of the state file."""
        return dataclasses.asdict(self)


@dataclasses.dataclass
class _History:
    pid: int
    start_time: int
    switches: int
    changed_at: float


class Sampler:
    """Per-service progress history across periodic samples.

    ``windows`` maps a systemd unit to the seconds its counter may stay flat before the
    service counts as not progressing. ``find_pid`` and ``read`` are the systemd and
    /proc readers (replaceable to watch processes that no unit owns).
    """

    def __init__(
        self,
        windows: Mapping[str, float],
        find_pid: Callable[[str], int] = main_pid,
        read: Callable[[int], ProcessSample | None] = read_process,
    ):
        self.windows = dict(windows)
        self._find_pid = find_pid
        self._read = read
        self._history: dict[str, _History] = {}

    def sample(self, now: float | None = None) -> dict[str, ServiceState]:
        """Sample every service once; ``now`` defaults to the wall clock."""
        now = time.time() if now is None else now
        return {unit: self._sample_one(unit, window, now) for unit, window in self.windows.items()}

    def _sample_one(self, unit: str, window: float, now: float) -> ServiceState:
        process = self._read(self._find_pid(unit))
        if process is None:
            self._history.pop(unit, None)  # whatever starts next is a fresh start
            return ServiceState(False, False, 0.0, 0, now)
        seen = self._history.get(unit)
        if seen is None or (seen.pid, seen.start_time) != (process.pid, process.start_time):
            seen = _History(process.pid, process.start_time, process.switches, now)
            self._history[unit] = seen
        elif process.switches != seen.switches:
            # "Changed", not "grew": a thread that exits takes its counts with it.
            seen.switches, seen.changed_at = process.switches, now
        quiet = max(0.0, now - seen.changed_at)
        progressing = not process.stopped and quiet <= window
        return ServiceState(True, progressing, round(quiet, 3), process.pid, now)


def write_state(path: str | Path, states: Mapping[str, ServiceState], now: float) -> None:
    """Write the services' ``states`` sampled at ``now`` to ``path`` (see write_document)."""
    services = {unit: state.as_json() for unit, state in states.items()}
    write_document(path, {"services": services}, now)


def read_state(path: str | Path, now: float, max_age: float) -> dict[str, ServiceState] | None:
    """The services of the state file at ``path``; None when missing, stale or garbled."""
    document = read_document(path, now, max_age)
    if document is None:
        return None
    try:
        return {
            str(unit): ServiceState(
                running=flag(entry["running"]),
                progressing=flag(entry["progressing"]),
                seconds_since_progress=number(entry["seconds_since_progress"]),
                pid=int(number(entry["pid"])),
                sampled_at=number(entry["sampled_at"]),
            )
            for unit, entry in document["services"].items()
        }
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def write_document(path: str | Path, document: Mapping[str, Any], now: float) -> None:
    """Write ``document`` (JSON) stamped with ``now`` to ``path`` atomically.

    A reader sees the old file or the new one, never a part. The file is world-readable:
    it holds states, never secrets, and the Nagios check may run unprivileged.
    """
    path = Path(path)
    path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    stamped = {**document, "version": STATE_VERSION, "sampled_at": now}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(stamped, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_document(path: str | Path, now: float, max_age: float) -> dict[str, Any] | None:
    """The JSON object :func:`write_document` wrote at ``path``, or None. Never raises.

    None when the file is missing, unreadable, not such an object, of another version, or
    stale: sampled more than ``max_age`` seconds before ``now`` (the sampler died) or as
    far in the future (the clock jumped: its age is unknowable).
    """
    try:
        document = json.loads(Path(path).read_text())
        if not isinstance(document, dict) or document.get("version") != STATE_VERSION:
            return None
        if abs(now - number(document.get("sampled_at"))) > max_age:
            return None
        return document
    except (OSError, ValueError, TypeError, RecursionError):
        return None


def flag(value: object) -> bool:
    """``value`` if it is a JSON boolean; TypeError otherwise."""
    if not isinstance(value, bool):
        raise TypeError("not a boolean")
    return value


def number(value: object) -> float:
    """``value`` as a float if it is a finite JSON number; TypeError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TypeError("not a finite number")
    return float(value)


T = TypeVar("T")


class StaleSampleError(RuntimeError):
    """The newest sample is too old: the sampling loop is stuck; serve nothing."""


class Latest(Generic[T]):
    """The newest sample: set by the sampling loop, read by the HTTP threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: tuple[float, T] | None = None

    def set(self, value: T, at: float) -> None:
        """Record ``value``, sampled at ``at`` (unix seconds)."""
        with self._lock:
            self._value = (at, value)

    def get(self, now: float, max_age: float) -> T | None:
        """The newest sample; None before the first one.

        Raises StaleSampleError when it is more than ``max_age`` seconds old: a failed scrape
        says the daemon is stuck, where old values would say all is well.
        """
        with self._lock:
            value = self._value
        if value is None:
            return None
        if abs(now - value[0]) > max_age:
            raise StaleSampleError(f"the newest sample is {now - value[0]:.0f}s old")
        return value[1]


class Server(Protocol):
    """What :func:`run_daemon` needs of the metrics server (exporter.MetricsServer)."""

    @property
    def server_port(self) -> int: ...  # noqa: D102

    def serve_forever(self) -> None: ...  # noqa: D102

    def shutdown(self) -> None: ...  # noqa: D102


def run_daemon(
    step: Callable[[], None],
    interval: float,
    server: Server,
    stop: threading.Event | None = None,
) -> None:
    """Call ``step`` every ``interval`` seconds while ``server`` serves, until stopped.

    Stopped by ``stop`` or, when called from the main thread, SIGTERM or SIGINT; the
    first step runs whatever, so a ``stop`` already set means one step. A ``step`` that
    raises is logged and the loop goes on: the next sample may succeed, and the metrics
    say how old the newest one is.
    """
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    http = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    http.start()
    try:
        while True:
            started = time.monotonic()
            try:
                step()
            except Exception:
                logger.exception("sampling failed")
            if stop.wait(max(0.0, interval - (time.monotonic() - started))):
                break
    finally:
        server.shutdown()
        http.join(timeout=10)


@dataclasses.dataclass(frozen=True)
class DaemonSettings:
    """The keys every health daemon's JSON configuration shares."""

    listen_port: int
    state_file: str
    sample_interval: float
    listen_address: str = "127.0.0.1"


def daemon_settings(document: Mapping[str, Any], defaults: DaemonSettings) -> DaemonSettings:
    """The shared keys of a daemon's configuration ``document``; ValueError when unusable."""
    settings = DaemonSettings(
        listen_port=int(number(document.get("listen_port", defaults.listen_port))),
        state_file=str(document.get("state_file", defaults.state_file)),
        sample_interval=number(document.get("sample_interval", defaults.sample_interval)),
        listen_address=str(document.get("listen_address", defaults.listen_address)),
    )
    if settings.sample_interval <= 0:
        raise ValueError("sample_interval must be positive")
    if not 0 <= settings.listen_port <= 65535:
        raise ValueError("listen_port must be a TCP port")
    return settings


def daemon_config(argv: list[str] | None, description: str, default: str) -> str:
    """The text of the configuration ``--config`` names; logging set up for the journal."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", default=default)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return Path(args.config).read_text()


def serve_samples(
    settings: DaemonSettings,
    sample: Callable[[], T],
    persist: Callable[[T, float], None],
    make_server: Callable[[Callable[[], T | None]], Server],
    max_age: float,
    stop: threading.Event | None = None,
) -> None:
    """Sample every ``settings.sample_interval``, persist each, serve metrics; until SIGTERM.

    ``make_server`` gets the newest sample's getter (None before the first; raising
    :class:`StaleSampleError` past ``max_age``) and returns the metrics server. ``stop``
    as for :func:`run_daemon`.
    """
    latest: Latest[T] = Latest()

    def step() -> None:
        value = sample()
        now = time.time()
        latest.set(value, now)  # first: the metrics hold even if the file cannot be written
        persist(value, now)

    server = make_server(lambda: latest.get(time.time(), max_age))
    logger.info("metrics on %s:%d", settings.listen_address, server.server_port)
    run_daemon(step, settings.sample_interval, server, stop)
