"""The Nagios plugins run as nrpe runs them: processes, a real HTTP server, a fake systemctl."""

from __future__ import annotations

import contextlib
import http.server
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
from openstack_charm_lib.nagios_plugins import check_exporter_metric as metric
from openstack_charm_lib.nagios_plugins import check_systemd_units as units

PLUGINS = Path(metric.__file__).parent
OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3

PAGE = r"""# HELP masakari_host_on_maintenance 1 when the host is on maintenance
# TYPE masakari_host_on_maintenance gauge
masakari_host_on_maintenance{segment="rack, \"a\"",host="compute-2"} 1
masakari_host_on_maintenance{host="compute-1",segment="rack, \"a\""} 1
masakari_host_on_maintenance { segment = "b" , host = "compute-3" , } 0 1712345678000
masakari_host_on_maintenance{segment="c\\d\n",host="odd}, name|"} 0
# HELP masakari_monitor_running 1 when the monitor's service runs
# TYPE masakari_monitor_running gauge
masakari_monitor_running{monitor="masakari-hostmonitor"} 1
masakari_monitor_running{monitor="masakari-processmonitor"} 0
masakari_monitor_running{monitor="masakari-instancemonitor"} 1
# HELP masakari_notifications_unfinished notifications not finished
# TYPE masakari_notifications_unfinished gauge
# HELP masakari_notification_oldest_unfinished_age_seconds age of the oldest
masakari_notification_oldest_unfinished_age_seconds 95.5
haproxy_backend_status{proxy="masakari-api_10.0.0.1"} +Inf
"""


class _Handler(http.server.BaseHTTPRequestHandler):
    pages: dict[str, tuple[int, str, float]] = {}

    def do_GET(self):  # noqa: N802 - the http.server API
        status, body, delay = self.pages.get(self.path, (404, "not found\n", 0.0))
        time.sleep(delay)
        data = body.encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the plugin gave up first (the timeout test)

    def log_message(self, format, *args):  # noqa: A002 - quiet
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    _Handler.pages = {
        "/metrics": (200, PAGE, 0.0),
        "/broken": (200, 'm{a="b} 1\n', 0.0),
        "/nan": (200, "# TYPE m gauge\nm NaN\n", 0.0),
        "/slow": (200, PAGE, 3.0),
        "/error": (500, "boom", 0.0),
        "/odd": (200, 'odd{host="a\\nb|c"} 3\n', 0.0),
    }
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


def plugin(name: str, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run plugin ``name`` as nrpe does (a process), and in this process: both must agree."""
    done = subprocess.run(
        [sys.executable, str(PLUGINS / name), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert done.stderr == ""
    assert done.stdout.count("\n") == 1, "exactly one line of output"
    module = {"check_exporter_metric.py": metric, "check_systemd_units.py": units}[name]
    output = io.StringIO()
    with mock.patch.dict(os.environ, env or {}), contextlib.redirect_stdout(output):
        code = module.main(list(args))
    assert (code, output.getvalue()) == (done.returncode, done.stdout)
    return done.returncode, done.stdout.rstrip("\n")


def exporter(server: str, *args: str, path: str = "/metrics") -> tuple[int, str]:
    return plugin("check_exporter_metric.py", "--url", server + path, *args)


MAINTENANCE = ("--family", "masakari_host_on_maintenance", "--describe", "hosts on maintenance")


def test_critical_names_the_offending_series(server):
    code, line = exporter(server, *MAINTENANCE, "--critical", "1", "--name-label", "host")
    assert code == CRITICAL
    assert line == (
        "CRITICAL: 2 hosts on maintenance (compute-1, compute-2)"
        " | 'masakari_host_on_maintenance'=2;;1"
    )


def test_labels_with_escaped_quotes_and_commas_select_series(server):
    code, line = exporter(server, *MAINTENANCE, "--label", 'segment=rack, "a"', "--warning", "2")
    assert (code, line.split(" |")[0]) == (WARNING, "WARNING: 2 hosts on maintenance")
    code, line = exporter(server, *MAINTENANCE, "--label", "segment=b", "--critical", "1")
    assert (code, line) == (OK, "OK: 0 hosts on maintenance | 'masakari_host_on_maintenance'=0;;1")
    # The \\ and \n escapes decode to the characters they stand for.
    code, _ = exporter(server, "--family", "odd", "--label", "host=a\nb|c", "--critical", "3",
                       path="/odd")  # fmt: skip
    assert code == CRITICAL
    code, _ = exporter(server, *MAINTENANCE, "--label", "segment=b", "--label", "host=x")
    assert code == OK


def test_below_names_the_series_at_zero(server):
    args = ("--family", "masakari_monitor_running", "--describe", "monitors running")
    code, line = exporter(server, *args, "--below", "--critical", "2", "--name-label", "monitor")
    assert code == CRITICAL
    assert line.startswith("CRITICAL: 2 monitors running (at zero: masakari-processmonitor) |")
    code, line = exporter(server, *args, "--below", "--critical", "1", "--warning", "2")
    assert (code, line) == (
        WARNING,
        "WARNING: 2 monitors running | 'masakari_monitor_running'=2;2;1",
    )
    code, _ = exporter(server, *args, "--below", "--critical", "1")
    assert code == OK


def test_a_declared_family_without_samples_is_zero_and_an_absent_one_unknown(server):
    code, line = exporter(
        server, "--family", "masakari_notifications_unfinished", "--warning", "1"
    )
    assert code == OK and line.startswith("OK: 0 masakari_notifications_unfinished |")
    code, line = exporter(server, "--family", "masakari_api_up", "--critical", "1", "--below")
    assert (code, line) == (UNKNOWN, "UNKNOWN: masakari_api_up is not on the metrics page")


def test_float_and_infinite_values(server):
    family = ("--family", "masakari_notification_oldest_unfinished_age_seconds")
    code, line = exporter(server, *family, "--warning", "60", "--critical", "3600")
    assert code == WARNING and line.startswith("WARNING: 95.5 ")
    code, _ = exporter(server, "--family", "haproxy_backend_status", "--critical", "1e9")
    assert code == CRITICAL


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/missing", "UNKNOWN: metrics page answered HTTP 404"),
        ("/error", "UNKNOWN: metrics page answered HTTP 500"),
        ("/broken", "UNKNOWN: line 1: unterminated label value"),
        ("/nan", "UNKNOWN: m has a NaN sample"),
    ],
)
def test_pages_that_cannot_be_read_are_unknown(server, path, expected):
    assert exporter(server, "--family", "m", path=path) == (UNKNOWN, expected)


def test_an_unreachable_or_slow_exporter_is_unknown(server):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # bound, never listening: refused
        code, line = plugin(
            "check_exporter_metric.py", "--url", f"http://127.0.0.1:{closed}/metrics",
            "--family", "m",
        )  # fmt: skip
    assert code == UNKNOWN and line.startswith("UNKNOWN: cannot fetch the metrics page (")
    code, line = exporter(server, "--family", "m", "--timeout", "0.5", path="/slow")
    assert code == UNKNOWN and line.startswith("UNKNOWN: cannot fetch the metrics page")


def test_a_hostile_series_name_stays_on_one_line_before_the_perfdata(server):
    code, line = exporter(server, "--family", "odd", "--critical", "1", "--name-label", "host",
                          path="/odd")  # fmt: skip
    assert code == CRITICAL
    assert line == "CRITICAL: 3 odd (a b/c) | 'odd'=3;;1"


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("--url", "http://127.0.0.1:1/metrics"),
        ("--url", "file:///etc/passwd", "--family", "m"),
        ("--url", "http://127.0.0.1:1/", "--family", "bad-name"),
        ("--url", "http://127.0.0.1:1/", "--family", "m", "--label", "novalue"),
        ("--url", "http://127.0.0.1:1/", "--family", "m", "--critical", "many"),
    ],
)
def test_usage_errors_are_unknown_not_critical(args):
    code, line = plugin("check_exporter_metric.py", *args)
    assert code == UNKNOWN and line.startswith("UNKNOWN: ")


@pytest.mark.parametrize(
    ("page", "samples"),
    [
        ('a{x="1",y="2",} 1\n', [("a", {"x": "1", "y": "2"}, 1.0)]),
        ('a{x="q\\"uo,t"} -2.5e3 123\n', [("a", {"x": 'q"uo,t'}, -2500.0)]),
        ('a{x="\\\\n\\t"} 1\n', [("a", {"x": "\\n\\t"}, 1.0)]),
        ("a{} 0\r\n\n  # comment\nb -Inf\n", [("a", {}, 0.0), ("b", {}, float("-inf"))]),
        ('a{x="}"}1\n', [("a", {"x": "}"}, 1.0)]),
    ],
)
def test_the_exposition_parser(page, samples):
    assert metric.parse(page)[1] == samples


@pytest.mark.parametrize(
    "page",
    ["1a 1\n", "a{1x=\"v\"} 1\n", "a{x} 1\n", "a{x=v} 1\n", 'a{x="v" y="w"} 1\n', "a\n",
     "a 1 2 3\n", "a one\n", "a 1_000\n"],
)  # fmt: skip
def test_the_parser_rejects_malformed_lines(page):
    with pytest.raises(metric.nc.UnknownError, match="line 1"):
        metric.parse(page)


def test_many_names_are_counted_not_listed():
    series = [({"host": f"h{i:02d}"}, 1.0) for i in range(13)]
    assert metric._named(series, "host", False) == (
        " (h00, h01, h02, h03, h04, h05, h06, h07, h08, h09 and 3 more)"
    )
    assert metric._named([({}, 1.0)], "host", False) == " (unnamed)"
    assert metric._named([({"host": "a"}, 0.0)], "host", False) == ""  # none counts


def test_an_oversized_page_is_unknown(server, monkeypatch):
    monkeypatch.setattr(metric, "MAX_PAGE", 100)
    with pytest.raises(metric.nc.UnknownError, match="too large"):
        metric.fetch(server + "/metrics")


def test_main_in_process_answers_unknown_on_any_error(capsys, monkeypatch):
    monkeypatch.setattr(metric, "check", lambda argv: 1 / 0)
    assert metric.main(["x"]) == UNKNOWN
    assert capsys.readouterr().out == "UNKNOWN: ZeroDivisionError\n"


def test_main_in_process(server, capsys):
    args = ["--url", server + "/metrics", *MAINTENANCE, "--critical", "3"]
    assert metric.main(args) == OK
    assert capsys.readouterr().out.startswith("OK: 2 hosts on maintenance |")
    assert metric.main(["--url", "http://[::1", "--family", "m"]) == UNKNOWN  # a bad URL


# check_systemd_units ----------------------------------------------------------------------

FAKE_SYSTEMCTL = """#!{python}
import json, os, sys
log = os.environ.get("FAKE_SYSTEMCTL_LOG")
if log:
    with open(log, "a") as f:
        f.write(json.dumps(sys.argv[1:]) + "\\n")
if os.environ.get("FAKE_SYSTEMCTL_HANG"):
    import time; time.sleep(30)
states = json.loads(os.environ.get("FAKE_SYSTEMCTL_STATES", "{{}}"))
names = [a for a in sys.argv[2:] if a != "--"]
lines = int(os.environ.get("FAKE_SYSTEMCTL_LINES", len(names)))
for name in names[:lines]:
    print(states.get(name, "inactive"))
sys.exit(0 if all(states.get(n) == "active" for n in names) else 3)
"""


@pytest.fixture
def systemctl(tmp_path, monkeypatch) -> Path:
    """A fake ``systemctl`` first on PATH; states come from FAKE_SYSTEMCTL_STATES."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "systemctl"
    fake.write_text(FAKE_SYSTEMCTL.format(python=sys.executable))
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SYSTEMCTL_LOG", str(tmp_path / "calls"))
    return tmp_path


def states(**by_unit: str) -> dict[str, str]:
    return {
        "FAKE_SYSTEMCTL_STATES": json.dumps({k.replace("_", "-"): v for k, v in by_unit.items()})
    }


def test_all_units_active_is_ok(systemctl):
    env = states(masakari_api="active", masakari_engine="active")
    code, line = plugin("check_systemd_units.py", "masakari-api", "masakari-engine", env=env)
    assert (code, line) == (OK, "OK: masakari-api, masakari-engine are active")
    calls = (systemctl / "calls").read_text().splitlines()
    expected = ["is-active", "--", "masakari-api", "masakari-engine"]
    assert [json.loads(c) for c in calls] == [expected, expected]  # a process, then in-process
    code, line = plugin("check_systemd_units.py", "masakari-api", env=env)
    assert (code, line) == (OK, "OK: masakari-api is active")


def test_units_that_are_not_active_are_critical_and_named(systemctl):
    env = states(masakari_api="active", masakari_engine="failed", haproxy="activating")
    code, line = plugin(
        "check_systemd_units.py", "masakari-api", "masakari-engine", "haproxy", "gone", env=env
    )
    assert code == CRITICAL
    assert line == "CRITICAL: masakari-engine is failed, haproxy is activating, gone is inactive"


def test_a_paused_unit_is_ok_while_the_flag_file_exists(systemctl):
    flag = systemctl / "paused"
    env = states(masakari_engine="inactive")
    args = ("check_systemd_units.py", "--paused-file", str(flag), "masakari-engine")
    assert plugin(*args, env=env)[0] == CRITICAL
    flag.write_text("")
    assert plugin(*args, env=env) == (OK, "OK: paused by the pause action")


def test_systemctl_trouble_is_unknown(systemctl, monkeypatch):
    code, line = plugin("check_systemd_units.py", "a", "b", env={"FAKE_SYSTEMCTL_LINES": "1"})
    assert (code, line) == (UNKNOWN, "UNKNOWN: systemctl is-active gave 1 states for 2 units")
    code, line = plugin("check_systemd_units.py", "a", env={"PATH": str(systemctl / "empty")})
    assert (code, line) == (UNKNOWN, "UNKNOWN: systemctl failed (FileNotFoundError)")
    monkeypatch.setenv("FAKE_SYSTEMCTL_HANG", "1")
    monkeypatch.setattr(units, "TIMEOUT", 0.5)
    with pytest.raises(units.nc.UnknownError, match="TimeoutExpired"):
        units.check(["a"])


def test_usage_errors_are_unknown(systemctl, capsys):
    assert plugin("check_systemd_units.py")[0] == UNKNOWN
    assert plugin("check_systemd_units.py", "--bogus", "a")[0] == UNKNOWN
    assert units.main([]) == UNKNOWN
    assert capsys.readouterr().out.startswith("UNKNOWN: usage: ")


def test_systemd_main_in_process(systemctl, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_SYSTEMCTL_STATES", json.dumps({"x": "failed"}))
    assert units.main(["x"]) == CRITICAL
    assert capsys.readouterr().out == "CRITICAL: x is failed\n"
    monkeypatch.setattr(units, "check", lambda argv: {}["boom"])
    assert units.main(["x"]) == UNKNOWN
    assert capsys.readouterr().out == "UNKNOWN: KeyError\n"
