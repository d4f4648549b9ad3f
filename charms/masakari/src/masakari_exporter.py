"""The masakari state exporter: segments, hosts and notifications as Prometheus metrics.

A daemon on the masakari leader unit, run by systemd as root with the system python3::

    python3 /usr/local/lib/masakari-charm/masakari_exporter.py --config /etc/masakari/exporter.conf

It serves ``127.0.0.1:<listen_port>/metrics`` (9868) and asks the Masakari API at most
once per 30 seconds however many scrapers there are. One collection is a bounded number
of calls, whatever the number of hosts: the segments listing, one hosts listing per
segment, at most ``MAX_PAGES`` pages of the notifications generated in the last 24 hours,
one page per unfinished status and one call for the newest finished notification (plus
a token and the version document when the client starts or keystone's token expired).

The charm copies ``COPIED_MODULES`` into ``DAEMON_DIR`` side by side (this module, the
API client and the library's stdlib-only exporter; nothing else is imported), writes
the configuration with ``config_text`` (root:root 0600: it holds the service user's
password) and starts the service. This module also imports in the charm's environment, where the
charm reads ``COPIED_MODULES`` and ``config_text`` from it.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import inspect
import json
import logging
import signal
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

import masakari_api
from masakari_api import (
    ApiError,
    Credentials,
    MasakariApi,
    urllib_transport,
)

try:  # in the charm: the staged library
    from openstack_charm_lib import exporter
except ImportError:  # the daemon: the charm copied the modules next to this file
    import exporter  # pyright: ignore[reportMissingImports]

logger = logging.getLogger("masakari_exporter")

# The files the charm copies into one directory (DAEMON_DIR) for the daemon to run:
# this module and every module it imports beyond the standard library (masakari_api
# imports only the standard library; the library's exporter.py too).
COPIED_MODULES = (Path(__file__), *(Path(inspect.getfile(m)) for m in (masakari_api, exporter)))
DAEMON_DIR = "/usr/local/lib/masakari-charm"
CONFIG = "/etc/masakari/exporter.conf"
LISTEN_ADDRESS = "127.0.0.1"  # the COS collector scrapes from the same machine
DEFAULT_PORT = 9868
MIN_INTERVAL = 30.0  # seconds a collection is reused for
PAGE_SIZE = 1000  # masakari's default osapi_max_limit: larger pages would be cut short
MAX_PAGES = 5  # pages of the last 24 hours' notifications read per collection
WINDOW = 24 * 3600  # seconds of notifications masakari_notifications counts

NOTIFICATION_TYPES = ("COMPUTE_HOST", "VM", "PROCESS")
NOTIFICATION_STATUSES = ("new", "running", "error", "failed", "ignored", "finished")
UNFINISHED_STATUSES = ("new", "running", "error")

METRIC_FAMILIES: dict[str, str] = {
    "masakari_api_up": "1 if the last collection from the Masakari API fully succeeded, else 0",
    "masakari_exporter_api_calls": "API calls (including keystone tokens) of the last collection",
    "masakari_exporter_collection_duration_seconds": "Wall time of the last collection",
    "masakari_segment_enabled": (
        "1 if the failover segment is enabled, 0 if disabled (1 when the API predates it)"
    ),
    "masakari_segment_hosts": "Hosts registered in the failover segment",
    "masakari_segment_hosts_on_maintenance": "Hosts of the segment on maintenance",
    "masakari_segment_hosts_reserved": "Reserved hosts of the segment",
    "masakari_host_on_maintenance": "1 if the host is on maintenance, else 0",
    "masakari_notifications": (
        "Notifications generated in the last 24 hours, by type and status; counts stop at "
        f"the newest {MAX_PAGES * PAGE_SIZE}"
    ),
    "masakari_notifications_unfinished": (
        "Notifications new, running or in error, of any age, by type and status; counts stop "
        f"at {PAGE_SIZE} per status"
    ),
    "masakari_notification_oldest_unfinished_age_seconds": (
        "Age of the oldest notification new, running or in error; 0 when there is none"
    ),
    "masakari_last_recovery_finished_timestamp_seconds": (
        "Unix time the newest finished notification was last updated; 0 when there is none"
    ),
}


class ConfigError(ValueError):
    """The configuration file is missing, not JSON, or has a missing or wrong key."""


@dataclasses.dataclass(frozen=True)
class ExporterConfig:
    """The client's credentials (:class:`masakari_api.Credentials`) and the port to serve.

    There is no CA option: the charm installs the CA of its certificates in the system
    store (update-ca-certificates), which the client trusts.
    """

    credentials: Credentials
    listen_port: int = DEFAULT_PORT  # 0 picks a free port (tests)


_CREDENTIAL_KEYS = tuple(f.name for f in dataclasses.fields(Credentials))
_KEYS = (*_CREDENTIAL_KEYS, "listen_port")
INTERFACES = ("public", "internal", "admin")


def config_text(config: ExporterConfig) -> str:
    """The configuration file's content for ``config`` (JSON, sorted keys, one level)."""
    data = {**dataclasses.asdict(config.credentials), "listen_port": config.listen_port}
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def load_config(path: str) -> ExporterConfig:
    """The configuration in ``path``; a ConfigError naming the problem (never a value)."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError:  # a JSON error message quotes the file: it may hold the password
        raise ConfigError(f"{path} is not JSON") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not a JSON object")
    unknown = sorted(set(data) - set(_KEYS))
    missing = [key for key in _CREDENTIAL_KEYS if key not in data]
    if unknown or missing:
        raise ConfigError(f"{path}: missing keys {missing}, unknown keys {unknown}")
    for key in _CREDENTIAL_KEYS:
        if not isinstance(data[key], str) or not data[key]:
            raise ConfigError(f"{path}: {key} must be a non-empty string")
    if data["interface"] not in INTERFACES:
        raise ConfigError(f"{path}: interface must be one of {', '.join(INTERFACES)}")
    port = data.get("listen_port", DEFAULT_PORT)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError(f"{path}: listen_port must be a TCP port")
    credentials = Credentials(**{key: data[key] for key in _CREDENTIAL_KEYS})
    # keystone's URL as the client wants it: before /v3, which the client adds.
    url = credentials.keystone_url.rstrip("/").removesuffix("/v3")
    return ExporterConfig(dataclasses.replace(credentials, keystone_url=url), port)


# (labels, value) pairs of one family, as exporter.family takes them.
Samples = list[tuple[Mapping[str, str], float]]


def _total_calls(api: MasakariApi) -> int:
    return sum(api.calls.values())


def _timestamp(text: object) -> float | None:
    """Unix time of masakari's ``2026-11-22T05:00:00.000000`` (UTC), or None."""
    if not isinstance(text, str):
        return None
    try:
        parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:  # masakari writes UTC without saying so
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.timestamp()


def _isotime(unix: float) -> str:
    moment = datetime.datetime.fromtimestamp(unix, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _notification_page(api: MasakariApi, query: Mapping[str, str]) -> list[dict]:
    """One page of GET /notifications; an ApiError unless each item has what we read."""
    answer = api.request(
        "GET", f"/notifications?{urllib.parse.urlencode(query)}", kind="/notifications"
    )
    page = answer.get("notifications") if isinstance(answer, dict) else None
    if not isinstance(page, list) or not all(
        isinstance(n, dict)
        and isinstance(n.get("status"), str)
        and isinstance(n.get("type"), str)
        and isinstance(n.get("id"), int | str)
        for n in page
    ):
        raise ApiError("GET /notifications: unexpected answer (no list of notifications)")
    return page


def _notifications(
    api: MasakariApi, query: Mapping[str, str], page_size: int, max_pages: int
) -> list[dict]:
    """The notifications matching ``query``, at most ``max_pages`` pages of them."""
    params = dict(query, limit=str(page_size))
    found: list[dict] = []
    for _ in range(max_pages):
        page = _notification_page(api, params)
        found.extend(page)
        if len(page) < page_size:
            break
        params["marker"] = str(page[-1]["id"])  # masakari's markers are database ids
    else:
        logger.info("more than %d notifications match %s: counted the first", len(found), query)
    return found


def _by_type_and_status(notifications: Sequence[dict], statuses: Sequence[str]) -> Samples:
    """Counts per (type, status): every known pair (0 when none), and any unknown one."""
    counts = dict.fromkeys(((t, s) for t in NOTIFICATION_TYPES for s in statuses), 0)
    for notification in notifications:
        key = (notification["type"], notification["status"])
        counts[key] = counts.get(key, 0) + 1
    return [({"type": t, "status": s}, n) for (t, s), n in counts.items()]


def _state(api: MasakariApi, now: float, page_size: int, max_pages: int) -> list[exporter.Family]:
    """The families of the deployment's state; ApiError when any call fails."""
    enabled: Samples = []
    hosts: Samples = []
    maintenance: Samples = []
    reserved: Samples = []
    host_flags: Samples = []
    for segment in api.segments():
        name = segment["name"]
        members = api.hosts(segment["uuid"])
        labels = {"segment": name}
        enabled.append((labels, 0 if segment.get("enabled", True) is False else 1))
        hosts.append((labels, len(members)))
        maintenance.append((labels, sum(bool(h.get("on_maintenance")) for h in members)))
        reserved.append((labels, sum(bool(h.get("reserved")) for h in members)))
        host_flags.extend(
            ({"segment": name, "host": h["name"]}, bool(h.get("on_maintenance"))) for h in members
        )

    recent = _notifications(api, {"generated-since": _isotime(now - WINDOW)}, page_size, max_pages)
    unfinished: list[dict] = []
    for status in UNFINISHED_STATUSES:
        # Oldest first: when a status has more than a page, the oldest one still counts.
        query = {"status": status, "sort_key": "created_at", "sort_dir": "asc"}
        unfinished.extend(_notifications(api, query, page_size, 1))
    started = [
        t
        for n in unfinished
        if (t := _timestamp(n.get("generated_time") or n.get("created_at"))) is not None
    ]
    # updated_at is a sort key of every masakari release (any model column is).
    query = {"status": "finished", "sort_key": "updated_at", "sort_dir": "desc", "limit": "1"}
    newest = _notification_page(api, query)
    finished = (
        _timestamp(newest[0].get("updated_at") or newest[0].get("created_at")) if newest else None
    )
    return [
        _family("masakari_segment_enabled", enabled),
        _family("masakari_segment_hosts", hosts),
        _family("masakari_segment_hosts_on_maintenance", maintenance),
        _family("masakari_segment_hosts_reserved", reserved),
        _family("masakari_host_on_maintenance", host_flags),
        _family("masakari_notifications", _by_type_and_status(recent, NOTIFICATION_STATUSES)),
        _family(
            "masakari_notifications_unfinished",
            _by_type_and_status(unfinished, UNFINISHED_STATUSES),
        ),
        _family(
            "masakari_notification_oldest_unfinished_age_seconds",
            [({}, max(0.0, now - min(started)) if started else 0)],
        ),
        _family("masakari_last_recovery_finished_timestamp_seconds", [({}, finished or 0)]),
    ]


def _family(name: str, samples: Samples) -> exporter.Family:
    return exporter.family(name, METRIC_FAMILIES[name], "gauge", samples)


def collect(
    api: MasakariApi, now: float, *, page_size: int = PAGE_SIZE, max_pages: int = MAX_PAGES
) -> list[exporter.Family]:
    """Every family of one collection at unix time ``now``.

    When a call fails the state families are left out (a partial answer would read as
    a change of state), ``masakari_api_up`` is 0 and the error's message is logged; the
    exporter's own families (calls, duration) are always there.
    """
    started, calls = time.perf_counter(), _total_calls(api)
    try:
        state, up = _state(api, now, page_size, max_pages), 1
    except ApiError as exc:  # its message never holds the password or the token
        logger.warning("masakari API: %s", exc)
        state, up = [], 0
    own = [
        _family("masakari_api_up", [({}, up)]),
        _family("masakari_exporter_api_calls", [({}, _total_calls(api) - calls)]),
        _family(
            "masakari_exporter_collection_duration_seconds",
            [({}, round(time.perf_counter() - started, 6))],
        ),
    ]
    return own + state


def build_api(config: ExporterConfig) -> MasakariApi:
    """The API client the daemon keeps for its lifetime."""
    return MasakariApi(config.credentials, page_size=PAGE_SIZE, transport=urllib_transport)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the metrics until SIGTERM; 2 on a bad configuration, 1 when the port is taken."""
    parser = argparse.ArgumentParser(description="Serve the Masakari state as metrics.")
    parser.add_argument("--config", default=CONFIG, help="the JSON configuration")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        config = load_config(args.config)
        api = build_api(config)
    except ConfigError as exc:
        logger.error("%s", exc)
        return 2
    try:
        server = exporter.MetricsServer(
            LISTEN_ADDRESS,
            config.listen_port,
            lambda: collect(api, time.time()),
            min_interval=MIN_INTERVAL,
        )
    except OSError as exc:
        logger.error("cannot listen on %s:%d: %s", LISTEN_ADDRESS, config.listen_port, exc)
        return 1

    def stop(signum: int, _frame: object) -> None:
        # shutdown() waits for serve_forever, which runs in this (the main) thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    logger.info("serving metrics on %s:%d", LISTEN_ADDRESS, server.server_port)
    server.serve_forever()
    logger.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
