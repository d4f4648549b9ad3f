"""The masakari state exporter against the in-memory Masakari API, in process and as a daemon."""

from __future__ import annotations

import dataclasses
import datetime
import http.server
import json
import logging
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import masakari_exporter as mx
import pytest
from fake_masakari_api import ENDPOINT, KEYSTONE, FakeMasakari, http_handler
from masakari_api import Credentials, MasakariApi, urllib_transport
from openstack_charm_lib.exporter import Family, MetricsServer, render

CHARM = Path(__file__).resolve().parents[2]
PASSWORD = "ks-secret-pw"
NOW = datetime.datetime(2026, 11, 22, 12, 0, tzinfo=datetime.timezone.utc).timestamp()
HOUR = 3600.0
# The columns of masakari's notifications table: what its API accepts as sort_key (it
# hands the key to oslo.db's paginate_query, which refuses any other).
SORT_KEYS = {
    "id",
    "notification_uuid",
    "generated_time",
    "type",
    "payload",
    "status",
    "source_host_uuid",
    "failover_segment_uuid",
    "message",
    "created_at",
    "updated_at",
    "deleted_at",
    "deleted",
}


def iso(unix: float) -> str:
    """A time as masakari writes it: UTC, microseconds, no zone."""
    moment = datetime.datetime.fromtimestamp(unix, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")


def _error(status: int, message: str):
    return status, {}, json.dumps({"error": {"message": message, "code": status}}).encode()


class Fake(FakeMasakari):
    """FakeMasakari with masakari's notification listing and expiring tokens.

    Listing as masakari 17 does it: filters status, type, source_host_uuid and
    generated-since (on generated_time); sort_key/sort_dir over the table's columns
    (default created_at desc, then id); the marker is the position after an item in
    that order. ``expired`` makes keystone's token refused until a new one is issued.
    """

    def __init__(self) -> None:
        super().__init__(password=PASSWORD)
        self.expired = False

    def notify(
        self, host: dict, kind: str, status: str, age: float, updated_age: float | None = None
    ) -> dict:
        notification = self.add_notification(host, status)
        notification.update(
            type=kind,
            generated_time=iso(NOW - age),
            created_at=iso(NOW - age),
            updated_at=None if updated_age is None else iso(NOW - updated_age),
        )
        return notification

    def _answer(self, method, url, headers, body):
        if url.startswith(KEYSTONE):
            self.expired = False
        elif self.expired and not self.down:
            self.calls.append((method, urllib.parse.urlsplit(url).path))
            return _error(401, "The request you have made requires authentication.")
        return super()._answer(method, url, headers, body)

    def _notifications(self, query):
        found = [
            n
            for n in self.notifications
            if all(
                n.get(k) == query[k] for k in ("status", "type", "source_host_uuid") if k in query
            )
        ]
        if "generated-since" in query:
            try:
                since = datetime.datetime.fromisoformat(query["generated-since"].replace("Z", ""))
            except ValueError:
                return _error(400, "Invalid generated-since value")
            found = [
                n for n in found if datetime.datetime.fromisoformat(n["generated_time"]) >= since
            ]
        key = query.get("sort_key", "created_at")
        if key not in SORT_KEYS:
            return _error(400, f"Sort key supplied is invalid: {key}")
        if query.get("sort_dir", "desc") not in ("asc", "desc"):
            return _error(400, "Unknown sort direction, must be 'asc' or 'desc'")
        found.sort(
            key=lambda n: (n.get(key) or "", n["id"]), reverse=query.get("sort_dir") != "asc"
        )
        if "marker" in query:
            ids = [n["id"] for n in found]
            if int(query["marker"]) not in ids:
                return _error(400, f"Marker {query['marker']} could not be found.")
            found = found[ids.index(int(query["marker"])) + 1 :]
        limit = min(int(query.get("limit", self.max_limit)), self.max_limit)
        return 200, {}, json.dumps({"notifications": found[:limit]}).encode()


def credentials() -> Credentials:
    return Credentials(
        keystone_url=KEYSTONE,
        username="masakari",
        password=PASSWORD,
        user_domain="service_domain",
        project="services",
        project_domain="service_domain",
        region="RegionOne",
        interface="internal",
    )


@pytest.fixture
def masakari() -> Fake:
    return Fake()


@pytest.fixture
def api(masakari: Fake) -> MasakariApi:
    return MasakariApi(credentials(), page_size=mx.PAGE_SIZE, transport=masakari)


def figures(families: list[Family]) -> dict[str, dict[frozenset, float]]:
    """Map name -> {labels: value}, after checking every family is declared and unique."""
    names = [f.name for f in families]
    assert len(names) == len(set(names))
    for fam in families:
        assert mx.METRIC_FAMILIES[fam.name] == fam.help and fam.kind == "gauge"
    return {f.name: {frozenset(labels): value for labels, value in f.samples} for f in families}


def labels(**pairs: str) -> frozenset:
    return frozenset(pairs.items())


def deployment(masakari: Fake) -> None:
    """Segments (one disabled, one empty), hosts reserved and on maintenance, notifications.

    Notifications of each type and status, two of them older than a day.
    """
    az1 = masakari.add_segment("az1")
    az2 = masakari.add_segment("az2")
    az2["enabled"] = False
    masakari.add_segment("empty")
    h1 = masakari.add_host(az1, "cmp-1")
    masakari.add_host(az1, "cmp-2", reserved=True)
    masakari.add_host(az1, "cmp-3", maintenance=True)
    masakari.add_host(az1, "cmp-4", reserved=True, maintenance=True)
    h5 = masakari.add_host(az2, "cmp-5", maintenance=True)
    masakari.notify(h1, "COMPUTE_HOST", "finished", 3 * HOUR, updated_age=300)  # long recovery
    masakari.notify(h1, "VM", "finished", 0.5 * HOUR, updated_age=0.4 * HOUR)
    masakari.notify(h5, "PROCESS", "new", 600)
    masakari.notify(h5, "VM", "running", 1200)
    masakari.notify(h1, "COMPUTE_HOST", "error", 2 * HOUR, updated_age=HOUR)
    masakari.notify(h1, "PROCESS", "failed", 3 * HOUR, updated_age=3 * HOUR)
    masakari.notify(h1, "VM", "ignored", 4 * HOUR, updated_age=4 * HOUR)
    masakari.notify(h5, "COMPUTE_HOST", "error", 48 * HOUR, updated_age=47 * HOUR)  # old
    masakari.notify(h5, "COMPUTE_HOST", "finished", 30 * HOUR, updated_age=29 * HOUR)  # old


def test_figures_of_a_deployment(masakari, api):
    deployment(masakari)
    got = figures(mx.collect(api, NOW))
    assert set(got) == set(mx.METRIC_FAMILIES)
    assert got["masakari_api_up"] == {labels(): 1}
    # segment: enabled, hosts, on maintenance, reserved
    per_segment = {"az1": (1, 4, 2, 2), "az2": (0, 1, 1, 0), "empty": (1, 0, 0, 0)}
    for column, suffix in enumerate(
        ("enabled", "hosts", "hosts_on_maintenance", "hosts_reserved")
    ):
        assert got[f"masakari_segment_{suffix}"] == {
            labels(segment=name): row[column] for name, row in per_segment.items()
        }, suffix
    assert got["masakari_host_on_maintenance"] == {
        labels(segment="az1", host="cmp-1"): 0,
        labels(segment="az1", host="cmp-2"): 0,
        labels(segment="az1", host="cmp-3"): 1,
        labels(segment="az1", host="cmp-4"): 1,
        labels(segment="az2", host="cmp-5"): 1,
    }
    recent = {k: v for k, v in got["masakari_notifications"].items() if v}
    assert recent == {
        labels(type="COMPUTE_HOST", status="finished"): 1,
        labels(type="VM", status="finished"): 1,
        labels(type="PROCESS", status="new"): 1,
        labels(type="VM", status="running"): 1,
        labels(type="COMPUTE_HOST", status="error"): 1,
        labels(type="PROCESS", status="failed"): 1,
        labels(type="VM", status="ignored"): 1,
    }
    assert len(got["masakari_notifications"]) == 18  # every type x status, zeros included
    unfinished = got["masakari_notifications_unfinished"]
    assert {k: v for k, v in unfinished.items() if v} == {
        labels(type="PROCESS", status="new"): 1,
        labels(type="VM", status="running"): 1,
        labels(type="COMPUTE_HOST", status="error"): 2,  # the one of two days ago too
    }
    assert len(unfinished) == 9
    assert got["masakari_notification_oldest_unfinished_age_seconds"] == {labels(): 48 * HOUR}
    # The newest *updated* finished one (a long recovery), not the newest created.
    assert got["masakari_last_recovery_finished_timestamp_seconds"] == {labels(): NOW - 300}
    assert got["masakari_exporter_collection_duration_seconds"][labels()] >= 0


def test_an_empty_deployment_gives_zeros_not_gaps(masakari, api):
    got = figures(mx.collect(api, NOW))
    assert got["masakari_api_up"] == {labels(): 1}
    assert got["masakari_segment_hosts"] == {}
    assert got["masakari_notification_oldest_unfinished_age_seconds"] == {labels(): 0}
    assert got["masakari_last_recovery_finished_timestamp_seconds"] == {labels(): 0}
    assert set(got["masakari_notifications"].values()) == {0}
    assert "# TYPE masakari_segment_hosts gauge" in render(mx.collect(api, NOW))


def test_a_masakari_older_than_segment_enabling_counts_segments_enabled(masakari, api):
    masakari.max_version = "1.0"
    del masakari.add_segment("old")["enabled"]
    got = figures(mx.collect(api, NOW))
    assert got["masakari_segment_enabled"] == {labels(segment="old"): 1}


def test_unknown_types_and_statuses_are_counted_not_dropped(masakari, api):
    host = masakari.add_host(masakari.add_segment("s"), "cmp")
    masakari.notify(host, "FUTURE_KIND", "new", 60)
    got = figures(mx.collect(api, NOW))
    assert got["masakari_notifications"][labels(type="FUTURE_KIND", status="new")] == 1
    assert got["masakari_notifications_unfinished"][labels(type="FUTURE_KIND", status="new")] == 1


@pytest.mark.parametrize(
    ("text", "unix"),
    [
        ("2026-11-22T12:00:00.000000", NOW),
        ("2026-11-22T12:00:00", NOW),
        ("2026-11-22T12:00:00Z", NOW),
        ("2026-11-22T14:00:00+02:00", NOW),
        ("yesterday", None),
        (None, None),
    ],
)
def test_masakari_times_are_read_as_utc(text, unix):
    assert mx._timestamp(text) == unix


def test_a_finished_notification_never_updated_counts_its_creation(masakari, api):
    host = masakari.add_host(masakari.add_segment("s"), "cmp")
    masakari.notify(host, "VM", "finished", 120)  # updated_at None
    got = figures(mx.collect(api, NOW))
    assert got["masakari_last_recovery_finished_timestamp_seconds"] == {labels(): NOW - 120}
    masakari.notifications[0].update(updated_at="garbage", created_at="garbage")
    got = figures(mx.collect(api, NOW))
    assert got["masakari_last_recovery_finished_timestamp_seconds"] == {labels(): 0}


def calls_of_one_collection(hosts: int) -> tuple[int, int]:
    """(calls of a first collection, of the next one) with ``hosts`` in one segment."""
    masakari = Fake()
    segment = masakari.add_segment("big")
    for i in range(hosts):
        masakari.add_host(segment, f"cmp-{i:04d}", maintenance=i % 7 == 0)
    api = MasakariApi(credentials(), page_size=mx.PAGE_SIZE, transport=masakari)
    counts = []
    for _ in range(2):
        before = len(masakari.calls)
        got = figures(mx.collect(api, NOW))
        assert got["masakari_segment_hosts"] == {labels(segment="big"): hosts}
        assert len(got["masakari_host_on_maintenance"]) == hosts
        # The exporter's own count is what the API saw.
        counts.append(int(got["masakari_exporter_api_calls"][labels()]))
        assert counts[-1] == len(masakari.calls) - before
    return counts[0], counts[1]


def test_api_calls_do_not_grow_with_the_number_of_hosts():
    # token + version document, then segments, hosts, 24 h, 3 unfinished, newest finished.
    assert calls_of_one_collection(10) == (9, 7)
    assert calls_of_one_collection(999) == (9, 7)
    # One page holds PAGE_SIZE (masakari's osapi_max_limit); a full one is followed by
    # the (empty) next, as for any listing.
    assert calls_of_one_collection(1000) == (10, 8)


def test_notifications_of_the_last_day_are_read_in_a_bounded_number_of_pages(masakari, api):
    masakari.max_limit = 10
    host = masakari.add_host(masakari.add_segment("s"), "cmp")
    for i in range(80):
        masakari.notify(host, "VM", "finished", 60 + i, updated_age=30 + i)
    for i in range(15):
        masakari.notify(host, "VM", "error", 10 * HOUR + i)
    before = len(masakari.calls)
    got = figures(mx.collect(api, NOW, page_size=10, max_pages=5))
    # 5 pages (the newest 50) of the 95 of the last day; one page of the 15 errors, the
    # oldest first, so that the oldest one's age is still right.
    assert got["masakari_notifications"][labels(type="VM", status="finished")] == 50
    assert got["masakari_notifications"][labels(type="VM", status="error")] == 0
    assert got["masakari_notifications_unfinished"][labels(type="VM", status="error")] == 10
    assert got["masakari_notification_oldest_unfinished_age_seconds"] == {labels(): 10 * HOUR + 14}
    assert got["masakari_last_recovery_finished_timestamp_seconds"] == {labels(): NOW - 30}
    listed = [c for c in masakari.calls[before:] if c[1].endswith("/notifications")]
    assert len(listed) == 5 + 3 + 1


def test_the_sort_keys_and_filters_sent_are_ones_masakari_accepts(masakari):
    listings: list[dict[str, str]] = []

    def recording(method, url, headers, body):
        parts = urllib.parse.urlsplit(url)
        if parts.path.endswith("/notifications"):
            listings.append(dict(urllib.parse.parse_qsl(parts.query)))
        return masakari(method, url, headers, body)

    api = MasakariApi(credentials(), page_size=mx.PAGE_SIZE, transport=recording)
    assert figures(mx.collect(api, NOW))["masakari_api_up"] == {labels(): 1}
    assert listings == [
        {"generated-since": "2026-11-21T12:00:00Z", "limit": "1000"},
        *(
            {"status": status, "sort_key": "created_at", "sort_dir": "asc", "limit": "1000"}
            for status in ("new", "running", "error")
        ),
        {"status": "finished", "sort_key": "updated_at", "sort_dir": "desc", "limit": "1"},
    ]
    assert {q["sort_key"] for q in listings if "sort_key" in q} <= SORT_KEYS


def test_a_token_is_reused_and_renewed_once_when_it_expires(masakari, api, caplog):
    deployment(masakari)
    mx.collect(api, NOW)
    assert api.calls["token"] == 1
    mx.collect(api, NOW)
    assert api.calls["token"] == 1  # reused
    masakari.expired = True
    got = figures(mx.collect(api, NOW))
    assert got["masakari_api_up"] == {labels(): 1}
    assert api.calls["token"] == 2
    # 9 (3 segments: 1 + 3 hosts listings + 5 of notifications), the refused one, a token.
    assert got["masakari_exporter_api_calls"] == {labels(): 11}
    assert "masakari API" not in caplog.text


def test_a_refused_fresh_token_is_not_retried_in_a_loop(masakari, api, caplog):
    masakari.password = "rotated"
    for _ in range(2):
        got = figures(mx.collect(api, NOW))
        assert got == {
            "masakari_api_up": {labels(): 0},
            "masakari_exporter_api_calls": {labels(): 1},  # the token asked, refused
            "masakari_exporter_collection_duration_seconds": got[
                "masakari_exporter_collection_duration_seconds"
            ],
        }
    assert "keystone refused the service credentials" in caplog.text


@pytest.mark.parametrize(
    "breakage",
    [
        lambda m: setattr(m, "down", True),
        lambda m: m.fail.update({"GET /v1/c0ffee/notifications": 500}),
        lambda m: m.fail.update({r"GET /v1/c0ffee/segments/[^/]+/hosts": 503}),
    ],
    ids=["unreachable", "notifications-fail", "hosts-fail"],
)
def test_api_down_is_api_up_0_and_no_partial_state(masakari, api, caplog, breakage):
    deployment(masakari)
    assert figures(mx.collect(api, NOW))["masakari_api_up"] == {labels(): 1}
    breakage(masakari)
    with caplog.at_level(logging.WARNING, logger="masakari_exporter"):
        got = figures(mx.collect(api, NOW))
    assert set(got) == {
        "masakari_api_up",
        "masakari_exporter_api_calls",
        "masakari_exporter_collection_duration_seconds",
    }
    assert got["masakari_api_up"] == {labels(): 0}
    assert [r.getMessage() for r in caplog.records][0].startswith("masakari API: ")
    # Once it answers again, everything is back.
    masakari.down = False
    masakari.fail.clear()
    assert set(figures(mx.collect(api, NOW))) == set(mx.METRIC_FAMILIES)


def test_an_answer_of_the_wrong_shape_is_an_api_error(masakari, api, caplog):
    host = masakari.add_host(masakari.add_segment("s"), "cmp")
    del masakari.notify(host, "VM", "new", 60)["type"]
    assert figures(mx.collect(api, NOW))["masakari_api_up"] == {labels(): 0}
    assert "unexpected answer" in caplog.text


def test_the_password_never_appears_in_output_or_logs(masakari, api, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    deployment(masakari)
    texts = [render(mx.collect(api, NOW))]
    masakari.expired = True
    texts.append(render(mx.collect(api, NOW)))
    masakari.password = "changed"
    masakari.expired = True
    texts.append(render(mx.collect(api, NOW)))
    masakari.down = True
    texts.append(render(mx.collect(api, NOW)))
    config = sample_config()
    texts += [repr(config), repr(config.credentials), caplog.text, *capfd.readouterr()]
    assert "masakari_api_up 0" in texts[2] and "masakari_api_up 1" in texts[1]
    for text in texts:
        assert PASSWORD not in text and "fake-token" not in text


# -- configuration -------------------------------------------------------------------
def sample_config(listen_port: int = mx.DEFAULT_PORT, **changes) -> mx.ExporterConfig:
    values = {
        "keystone_url": "https://10.5.0.11:35357",
        "username": "masakari",
        "password": PASSWORD,
        "user_domain": "service_domain",
        "project": "services",
        "project_domain": "service_domain",
        "region": "RegionOne",
        "interface": "internal",
    }
    return mx.ExporterConfig(Credentials(**{**values, **changes}), listen_port)


def test_config_round_trip(tmp_path):
    config = sample_config()
    path = tmp_path / "exporter.conf"
    path.write_text(mx.config_text(config))
    assert mx.load_config(str(path)) == config
    data = json.loads(path.read_text())
    assert data["listen_port"] == 9868
    assert set(data) == {*(f.name for f in dataclasses.fields(Credentials)), "listen_port"}


@pytest.mark.parametrize(
    ("keystone_url", "expected"),
    [
        ("https://ks:5000/v3", "https://ks:5000"),
        ("https://ks:5000/v3/", "https://ks:5000"),
        ("https://ks:5000", "https://ks:5000"),
        ("http://[fd00::1]:5000/", "http://[fd00::1]:5000"),
    ],
)
def test_keystones_url_is_read_without_v3(tmp_path, keystone_url, expected):
    path = tmp_path / "exporter.conf"
    path.write_text(mx.config_text(sample_config(keystone_url=keystone_url)))
    creds = mx.load_config(str(path)).credentials
    assert creds.keystone_url == expected
    assert (creds.username, creds.password, creds.project) == ("masakari", PASSWORD, "services")
    assert (creds.user_domain, creds.project_domain) == ("service_domain", "service_domain")
    assert (creds.region, creds.interface) == ("RegionOne", "internal")


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ('{"password": "ks-secret-pw", ', "is not JSON"),
        ("[1, 2]", "is not a JSON object"),
        ("{}", "missing keys"),
        ("UNKNOWN", "unknown keys ['surprise']"),
        ("EMPTY", "username must be a non-empty string"),
        ("INTERFACE", "interface must be one of public, internal, admin"),
        ("PORT_TEXT", "listen_port must be a TCP port"),
        ("PORT_BOOL", "listen_port must be a TCP port"),
        ("PORT_BIG", "listen_port must be a TCP port"),
    ],
)
def test_a_bad_config_is_refused_without_quoting_it(tmp_path, content, complaint):
    good = json.loads(mx.config_text(sample_config()))
    variants = {
        "UNKNOWN": {**good, "surprise": 1},
        "EMPTY": {**good, "username": ""},
        "INTERFACE": {**good, "interface": "private"},
        "PORT_TEXT": {**good, "listen_port": "9868"},
        "PORT_BOOL": {**good, "listen_port": True},
        "PORT_BIG": {**good, "listen_port": 70000},
    }
    path = tmp_path / "exporter.conf"
    path.write_text(json.dumps(variants[content]) if content in variants else content)
    with pytest.raises(mx.ConfigError, match=complaint.replace("[", r"\[")) as err:
        mx.load_config(str(path))
    assert PASSWORD not in str(err.value)


def test_a_missing_config_file_is_a_config_error(tmp_path):
    with pytest.raises(mx.ConfigError, match="cannot read .*No such file"):
        mx.load_config(str(tmp_path / "absent.conf"))


# -- over HTTP -----------------------------------------------------------------------
def test_the_server_end_to_end_over_http(masakari, api):
    deployment(masakari)
    server = MetricsServer("127.0.0.1", 0, lambda: mx.collect(api, NOW), min_interval=30)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as resp:
            body = resp.read().decode()
            assert resp.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        calls = len(masakari.calls)
        for _ in range(3):  # more scrapers within min_interval: no API call
            with urllib.request.urlopen(url, timeout=10) as resp:
                assert resp.read().decode() == body
        assert len(masakari.calls) == calls
    finally:
        server.shutdown()
        thread.join(5)
    assert "masakari_api_up 1\n" in body
    assert 'masakari_segment_hosts{segment="az1"} 4\n' in body
    assert 'masakari_host_on_maintenance{host="cmp-3",segment="az1"} 1\n' in body
    assert 'masakari_notifications_unfinished{status="error",type="COMPUTE_HOST"} 2\n' in body
    parser = pytest.importorskip("prometheus_client.parser")
    names = {f.name for f in parser.text_string_to_metric_families(body)}
    assert names == set(mx.METRIC_FAMILIES)


class HttpFake(Fake):
    """The fake behind one loopback HTTP server for keystone and masakari alike."""

    origin = ""

    def _token(self, data):
        status, headers, body = super()._token(data)
        masakari_origin = ENDPOINT.split("/v1")[0]
        return status, headers, body.replace(masakari_origin.encode(), self.origin.encode())


@pytest.fixture
def served_fake():
    fake = HttpFake()
    deployment(fake)

    def origin_of(handler) -> str:
        return KEYSTONE if handler.path.startswith("/v3/") else ENDPOINT.split("/v1")[0]

    Handler = http_handler(fake, origin_of)  # noqa: N806 - a class
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.origin = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield fake
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def write_config(tmp_path: Path, fake: HttpFake, port: int = 0) -> Path:
    path = tmp_path / "exporter.conf"
    config = sample_config(keystone_url=f"{fake.origin}/v3", listen_port=port)
    path.write_text(mx.config_text(config))
    path.chmod(0o600)
    return path


def test_the_daemon_runs_from_the_copied_modules_alone(tmp_path, served_fake):
    # Installed as the charm installs it: COPIED_MODULES, nothing else, and a Python
    # without site-packages (-S) or PYTHONPATH (-E): the system python3's standard library.
    assert [p.name for p in mx.COPIED_MODULES] == [
        "masakari_exporter.py",
        "masakari_api.py",
        "exporter.py",
    ]
    assert mx.COPIED_MODULES[2] == CHARM / "lib" / "openstack_charm_lib" / "exporter.py"
    install = tmp_path / "masakari-charm"
    install.mkdir()
    for source in mx.COPIED_MODULES:
        shutil.copy(source, install / source.name)
    config = write_config(tmp_path, served_fake)
    proc = subprocess.Popen(
        [sys.executable, "-S", "-E", str(install / "masakari_exporter.py"), "--config", config],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stderr is not None
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stderr or []])
    reader.start()
    try:
        first = lines.get(timeout=20)
        assert first.startswith("INFO serving metrics on 127.0.0.1:"), first
        port = int(first.rsplit(":", 1)[1])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=20) as resp:
            body = resp.read().decode()
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=20)
        err.value.close()
        assert err.value.code == 404
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(5)
        assert proc.stdout is not None
        proc.stdout.close()
        proc.stderr.close()
    log = first + "".join(lines.queue)
    assert "masakari_api_up 1\n" in body
    assert 'masakari_segment_enabled{segment="az2"} 0\n' in body
    assert log.splitlines()[-1] == "INFO stopped", log
    assert PASSWORD not in log and PASSWORD not in body


class RecordingServer(MetricsServer):
    started: queue.Queue[MetricsServer] = queue.Queue()

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self.started.put(self)
        super().serve_forever(0.05)


def test_main_serves_until_sigterm(tmp_path, served_fake, monkeypatch):
    monkeypatch.setattr(mx.exporter, "MetricsServer", RecordingServer)
    config = write_config(tmp_path, served_fake)
    previous = signal.getsignal(signal.SIGTERM)
    results: list[str] = []

    def scrape_then_terminate():
        server = RecordingServer.started.get(timeout=20)
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        with urllib.request.urlopen(url, timeout=20) as resp:
            results.append(resp.read().decode())
        signal.raise_signal(signal.SIGTERM)

    helper = threading.Thread(target=scrape_then_terminate)
    helper.start()
    try:
        assert mx.main(["--config", str(config)]) == 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        helper.join(10)
    assert "masakari_api_up 1\n" in results[0]


def test_main_refuses_a_bad_config_and_a_taken_port(tmp_path, served_fake, caplog):
    assert mx.main(["--config", str(tmp_path / "absent.conf")]) == 2
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config = write_config(tmp_path, served_fake, port=taken.getsockname()[1])
        assert mx.main(["--config", str(config)]) == 1
    assert "cannot listen on 127.0.0.1:" in caplog.text


def test_build_api_uses_the_system_store(tmp_path):
    assert mx.build_api(sample_config())._transport is urllib_transport
