"""The monitors health daemon: windows, config, metrics, status, and real runs of it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import monitors_health as mh
import pytest
from monitors_config import MONITORS, TUNABLES
from openstack_charm_lib import exporter, liveness

SYSTEM_PYTHON = "/usr/bin/python3"
SLEEPER = "import time\nprint('ready', flush=True)\nwhile True:\n    time.sleep(0.2)\n"
BLOCKED = "import sys\nprint('ready', flush=True)\nsys.stdin.read()\n"


@pytest.fixture
def spawn() -> Iterator:
    children: list[subprocess.Popen] = []

    def start(argv: list[str], **kwargs) -> subprocess.Popen:
        child = subprocess.Popen(argv, **kwargs)
        children.append(child)
        return child

    yield start
    for child in children:
        child.kill()
        child.wait(timeout=10)
        for pipe in (child.stdin, child.stdout, child.stderr):
            if pipe is not None:
                pipe.close()


def python_child(spawn, code: str) -> subprocess.Popen:
    child = spawn(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout.readline() == "ready\n"
    return child


def test_default_windows():
    assert mh.monitor_windows(MONITORS.values(), {}) == {
        "masakari-host-monitor": 180.0,  # 3 x monitoring_interval 60
        "masakari-instance-monitor": 30.0,  # the floor: its loop wakes every second
        "masakari-introspective-instance-monitor": 30.0,  # 3 x 10
        "masakari-process-monitor": 120.0,  # the floor: it waits on restart commands
    }


def test_windows_follow_the_rendered_options():
    sections = {
        "host": {"monitoring_interval": "5", "stonith_wait": "2", "api_retry_interval": "3"},
        "introspectiveinstancemonitor": {"guest_monitoring_interval": "100"},
        "process": {"check_interval": "50"},
    }
    assert mh.monitor_windows(MONITORS.values(), sections) == {
        "masakari-host-monitor": 30.0,  # 3 x ipmi_retry_interval 10 (its default)
        "masakari-instance-monitor": 30.0,
        "masakari-introspective-instance-monitor": 300.0,
        "masakari-process-monitor": 150.0,
    }
    slow = {"host": {"monitoring_interval": "600"}}
    assert mh.monitor_windows(["masakari-host-monitor"], slow) == {"masakari-host-monitor": 1800.0}


def test_windows_ignore_values_the_monitor_would_refuse_and_unknown_monitors():
    sections = {"host": {"monitoring_interval": "five", "stonith_wait": " 100 "}}
    assert mh.monitor_windows(["masakari-host-monitor", "other"], sections) == {
        "masakari-host-monitor": 300.0,
        "other": 30.0,
    }
    negative = {"host": {"monitoring_interval": "-600"}}
    assert mh.monitor_windows(["masakari-host-monitor"], negative)["masakari-host-monitor"] == 90


def test_every_monitor_of_the_charm_has_a_loop_whose_options_the_charm_can_set():
    assert set(mh.LOOPS) == set(MONITORS.values())
    settable = {(t.section, t.key) for t in TUNABLES.values()}
    for loop in mh.LOOPS.values():
        for section, key, _default in loop.options:
            assert (section, key) in settable


def test_the_defaults_are_upstream_defaults():
    conf = pytest.importorskip("masakarimonitors.conf")
    from masakarimonitors.conf import opts

    upstream = {
        (group, opt.dest): opt.default
        for group, options in opts.list_opts()
        for opt in options
        if group is not None
    }
    assert conf is not None
    for loop in mh.LOOPS.values():
        for section, key, default in loop.options:
            assert upstream[(section, key)] == default, (section, key)


def test_config_round_trip():
    text = mh.config_text({"masakari-host-monitor": 180, "masakari-process-monitor": 120.5})
    assert json.loads(text) == {
        "listen_port": 9869,
        "monitors": {
            "masakari-host-monitor": {"window": 180.0},
            "masakari-process-monitor": {"window": 120.5},
        },
        "state_file": "/run/masakari-monitors-health/state.json",
    }
    assert mh.load_config(text) == mh.Config(
        windows={"masakari-host-monitor": 180.0, "masakari-process-monitor": 120.5}
    )
    assert text == mh.config_text(
        {"masakari-process-monitor": 120.5, "masakari-host-monitor": 180}
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[]",
        "{}",
        '{"monitors": []}',
        '{"monitors": {"m": {}}}',
        '{"monitors": {"m": {"window": "180"}}}',
        '{"monitors": {"m": {"window": 0}}}',
        '{"monitors": {"m": {"window": 10}}, "listen_port": 70000}',
        '{"monitors": {"m": {"window": 10}}, "listen_port": "9869"}',
        '{"monitors": {"m": {"window": 10}}, "sample_interval": 0}',
    ],
)
def test_an_unusable_config_is_a_value_error(text):
    with pytest.raises(ValueError, match="invalid monitors health configuration"):
        mh.load_config(text)


STATES = {
    "masakari-host-monitor": liveness.ServiceState(True, False, 240.4, 1234, 1000.0),
    "masakari-instance-monitor": liveness.ServiceState(True, True, 3.0, 99, 1000.0),
    "masakari-process-monitor": liveness.ServiceState(False, False, 0.0, 0, 1000.0),
}


def test_families_render_every_monitor():
    text = exporter.render(mh.families(STATES))
    assert text.splitlines() == [
        f"# HELP masakari_monitor_running {mh.METRIC_FAMILIES['masakari_monitor_running']}",
        "# TYPE masakari_monitor_running gauge",
        'masakari_monitor_running{monitor="masakari-host-monitor"} 1',
        'masakari_monitor_running{monitor="masakari-instance-monitor"} 1',
        'masakari_monitor_running{monitor="masakari-process-monitor"} 0',
        "# HELP masakari_monitor_progressing "
        + mh.METRIC_FAMILIES["masakari_monitor_progressing"],
        "# TYPE masakari_monitor_progressing gauge",
        'masakari_monitor_progressing{monitor="masakari-host-monitor"} 0',
        'masakari_monitor_progressing{monitor="masakari-instance-monitor"} 1',
        'masakari_monitor_progressing{monitor="masakari-process-monitor"} 0',
        "# HELP masakari_monitor_seconds_since_progress "
        + mh.METRIC_FAMILIES["masakari_monitor_seconds_since_progress"],
        "# TYPE masakari_monitor_seconds_since_progress gauge",
        'masakari_monitor_seconds_since_progress{monitor="masakari-host-monitor"} 240.4',
        'masakari_monitor_seconds_since_progress{monitor="masakari-instance-monitor"} 3',
        'masakari_monitor_seconds_since_progress{monitor="masakari-process-monitor"} 0',
    ]


def test_before_the_first_sample_the_families_are_known_but_empty():
    assert [(f.name, f.samples) for f in mh.families(None)] == [
        (name, ()) for name in mh.METRIC_FAMILIES
    ]


def test_status_problems_name_each_wedged_monitor():
    assert mh.status_problems(STATES) == [
        "masakari-host-monitor has made no progress for 240s (wedged?); "
        "run the restart-services action"
    ]
    assert mh.status_problems(None) == []
    assert mh.status_problems({}) == []


def test_copied_modules_are_this_daemon_and_its_stdlib_only_helpers():
    assert [p.name for p in mh.COPIED_MODULES] == [
        "monitors_health.py",
        "liveness.py",
        "exporter.py",
    ]
    assert all(p.is_file() for p in mh.COPIED_MODULES)


def fake_systemctl(bin_dir: Path, pids: dict[str, int]) -> None:
    """A ``systemctl show -p MainPID --value <unit>`` answering from ``pids``."""
    cases = "".join(f"  {unit}) echo {pid} ;;\n" for unit, pid in pids.items())
    script = bin_dir / "systemctl"
    script.write_text(
        '#!/bin/sh\n[ "$1 $2 $3 $4" = "show -p MainPID --value" ] || exit 9\n'
        f'case "$5" in\n{cases}  *) echo 0 ;;\nesac\n'
    )
    script.chmod(0o755)


def start_daemon(spawn, tmp_path: Path, windows: dict[str, float]) -> tuple:
    """The daemon as the charm installs it: its modules copied, run by system python3."""
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        pytest.skip("no system python3")
    install = tmp_path / "install"
    install.mkdir()
    for module in mh.COPIED_MODULES:
        shutil.copy(module, install / module.name)
    config = json.loads(
        mh.config_text(windows, listen_port=0, state_file=str(tmp_path / "s.json"))
    )
    config["sample_interval"] = 0.2
    (tmp_path / "config.json").write_text(json.dumps(config))
    env = {"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"}
    script, config_file = install / "monitors_health.py", tmp_path / "config.json"
    argv = [SYSTEM_PYTHON, "-E", "-s", str(script), "--config", str(config_file)]
    daemon = spawn(argv, stderr=subprocess.PIPE, text=True, env=env)
    lines = [daemon.stderr.readline(), daemon.stderr.readline()]
    assert "watching" in lines[0] and "metrics on 127.0.0.1:" in lines[1], lines
    return daemon, int(lines[1].rsplit(":", 1)[1])


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        return answer.read().decode()


def test_the_installed_daemon_tells_a_working_monitor_from_a_wedged_one(spawn, tmp_path):
    working, wedged = python_child(spawn, SLEEPER), python_child(spawn, BLOCKED)
    (tmp_path / "bin").mkdir()
    fake_systemctl(tmp_path / "bin", {"working": working.pid, "wedged": wedged.pid})
    windows = {"working": 1.0, "wedged": 1.0, "stopped": 1.0}
    daemon, port = start_daemon(spawn, tmp_path, windows)
    time.sleep(2.0)  # beyond the windows
    metrics = scrape(port)
    assert 'masakari_monitor_progressing{monitor="working"} 1' in metrics
    assert 'masakari_monitor_progressing{monitor="wedged"} 0' in metrics
    assert 'masakari_monitor_running{monitor="wedged"} 1' in metrics
    assert 'masakari_monitor_running{monitor="stopped"} 0' in metrics
    state = liveness.read_state(tmp_path / "s.json", time.time(), mh.STATE_MAX_AGE)
    assert state is not None and state["wedged"].pid == wedged.pid
    assert mh.status_problems(state) == [
        f"wedged has made no progress for {state['wedged'].seconds_since_progress:.0f}s "
        "(wedged?); run the restart-services action"
    ]
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=10) == 0


def test_the_daemon_serves_its_families_without_systemd(spawn, tmp_path):
    (tmp_path / "bin").mkdir()  # no systemctl at all: nothing is running
    daemon, port = start_daemon(spawn, tmp_path, {"masakari-host-monitor": 180})
    deadline = time.monotonic() + 10
    while "masakari_monitor_running{" not in (metrics := scrape(port)):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert 'masakari_monitor_running{monitor="masakari-host-monitor"} 0' in metrics
    with pytest.raises(urllib.error.HTTPError, match="404"):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10)
    daemon.send_signal(signal.SIGINT)
    assert daemon.wait(timeout=10) == 0


def masakari_processmonitor() -> Path:
    binary = Path(sys.executable).parent / "masakari-processmonitor"
    if not binary.exists():
        pytest.skip("masakari-processmonitor is not installed next to this Python")
    return binary


def test_the_real_process_monitor_progresses_until_stopped(spawn, tmp_path):
    (tmp_path / "process_list.yaml").write_text(
        "- process_name: /nonexistent/never-running\n"
        "  start_command: 'true'\n  pre_start_command: ''\n  post_start_command: ''\n"
        "  restart_command: 'true'\n  pre_restart_command: ''\n  post_restart_command: ''\n"
        "  run_as_root: false\n"
    )
    (tmp_path / "monitors.conf").write_text(
        f"[DEFAULT]\nlog_dir = {tmp_path}\n"
        f"[process]\ncheck_interval = 1\nrestart_retries = 0\napi_retry_max = 0\n"
        f"process_list_path = {tmp_path / 'process_list.yaml'}\n"
    )
    monitor = spawn(
        [str(masakari_processmonitor()), "--config-file", str(tmp_path / "monitors.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    log = tmp_path / "masakari-processmonitor.log"
    deadline = time.monotonic() + 60
    while "is not found" not in (log.read_text() if log.exists() else ""):
        assert monitor.poll() is None and time.monotonic() < deadline
        time.sleep(0.2)
    # The window: three loop intervals, as monitor_windows derives it (without its floor).
    sampler = liveness.Sampler({"pm": 3.0}, find_pid=lambda unit: monitor.pid)
    start = time.time()
    sampler.sample(start)
    time.sleep(3.5)
    assert sampler.sample(time.time())["pm"].progressing
    os.kill(monitor.pid, signal.SIGSTOP)
    deadline = time.monotonic() + 5
    while (sample := liveness.read_process(monitor.pid)) and not sample.stopped:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert not sampler.sample(time.time())["pm"].progressing


def test_main_with_stop_set_samples_once(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no systemctl: nothing runs
    config = json.loads(mh.config_text({"m": 1.0}, listen_port=0, state_file=str(tmp_path / "s")))
    (tmp_path / "config.json").write_text(json.dumps(config))
    stop = threading.Event()
    stop.set()
    mh.main(["--config", str(tmp_path / "config.json")], stop=stop)
    state = liveness.read_state(tmp_path / "s", time.time(), mh.STATE_MAX_AGE)
    assert state is not None and not state["m"].running
