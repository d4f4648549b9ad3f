"""Progress detection on real processes, and the state file every reader shares."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from openstack_charm_lib import liveness

SLEEPER = "import time\nprint('ready', flush=True)\nwhile True:\n    time.sleep(0.2)\n"
# Blocks forever reading stdin, a pipe nobody writes.
BLOCKED = "import sys\nprint('ready', flush=True)\nsys.stdin.read()\n"


@pytest.fixture
def spawn() -> Iterator:
    children: list[subprocess.Popen] = []

    def start(code: str) -> subprocess.Popen:
        child = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        children.append(child)
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
        return child

    yield start
    for child in children:
        child.kill()  # also ends a stopped child
        child.wait(timeout=10)
        for pipe in (child.stdin, child.stdout):
            if pipe is not None:
                pipe.close()


def wait_for_state(pid: int, letters: str, timeout: float = 5.0) -> liveness.ProcessSample:
    deadline = time.monotonic() + timeout
    while True:
        sample = liveness.read_process(pid)
        assert sample is not None
        if sample.state in letters or time.monotonic() > deadline:
            return sample
        time.sleep(0.01)


def settle(pid: int, timeout: float = 5.0) -> None:
    """Wait until ``pid`` sleeps with its context switches unchanged: blocked in its read."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        sample = liveness.read_process(pid)
        assert sample is not None
        if sample.state == "S" and last is not None and sample.switches == last.switches:
            return
        last = sample
        time.sleep(0.05)
    raise AssertionError(f"process {pid} still runs after {timeout} s")


def sampler_for(child: subprocess.Popen, window: float) -> liveness.Sampler:
    return liveness.Sampler({"svc": window}, find_pid=lambda unit: child.pid)


def test_a_sleeping_loop_is_progressing(spawn):
    child = spawn(SLEEPER)
    sampler = sampler_for(child, window=1.0)
    first = sampler.sample(now=100.0)["svc"]
    time.sleep(0.7)
    later = sampler.sample(now=101.5)["svc"]  # 1.5 s later: beyond the window
    assert first == liveness.ServiceState(True, True, 0.0, child.pid, 100.0)
    # The counter moved between the samples, so the quiet time starts again.
    assert later == liveness.ServiceState(True, True, 0.0, child.pid, 101.5)


def test_a_stopped_loop_is_not_progressing_at_once_and_its_counters_stay_flat(spawn):
    child = spawn(SLEEPER)
    sampler = sampler_for(child, window=60.0)
    sampler.sample(now=0.0)
    os.kill(child.pid, signal.SIGSTOP)
    stopped = wait_for_state(child.pid, "T")
    assert stopped.stopped
    state = sampler.sample(now=1.0)["svc"]
    assert state.running and not state.progressing  # well within the window
    time.sleep(0.5)
    after = liveness.read_process(child.pid)
    assert after is not None and after.switches == stopped.switches
    os.kill(child.pid, signal.SIGCONT)
    assert not wait_for_state(child.pid, "SR").stopped


def test_a_loop_blocked_on_a_read_stops_progressing_after_its_window(spawn):
    child = spawn(BLOCKED)
    settle(child.pid)
    sampler = sampler_for(child, window=1.0)
    start = time.time()
    assert sampler.sample(now=start)["svc"].progressing  # a fresh start
    time.sleep(1.5)
    state = sampler.sample(now=time.time())["svc"]
    assert state.running and not state.progressing
    assert state.seconds_since_progress >= 1.4
    blocked = liveness.read_process(child.pid)
    assert blocked is not None and blocked.state == "S"  # asleep, not stopped


def test_a_new_process_resets_the_history(spawn):
    first, second = spawn(BLOCKED), spawn(BLOCKED)
    for child in (first, second):  # the times below are made up: no start-up switches
        settle(child.pid)
    pid = {"svc": first.pid}
    sampler = liveness.Sampler({"svc": 10.0}, find_pid=lambda unit: pid[unit])
    sampler.sample(now=0.0)
    assert not sampler.sample(now=30.0)["svc"].progressing
    pid["svc"] = second.pid  # restarted
    restarted = sampler.sample(now=31.0)["svc"]
    assert restarted == liveness.ServiceState(True, True, 0.0, second.pid, 31.0)
    assert sampler.sample(now=41.0)["svc"].progressing  # exactly the window
    assert not sampler.sample(now=41.5)["svc"].progressing


def test_a_reused_pid_with_another_start_time_is_a_new_process():
    readings = iter(
        [
            liveness.ProcessSample(7, start_time=100, switches=5, state="S"),
            liveness.ProcessSample(7, start_time=100, switches=5, state="S"),
            liveness.ProcessSample(7, start_time=900, switches=5, state="S"),
        ]
    )
    sampler = liveness.Sampler({"svc": 10.0}, find_pid=lambda u: 7, read=lambda p: next(readings))
    sampler.sample(now=0.0)
    assert not sampler.sample(now=20.0)["svc"].progressing
    assert sampler.sample(now=21.0)["svc"].progressing


def test_a_counter_that_drops_is_a_change():
    readings = iter([50, 50, 20])  # a busy thread exited between samples
    sampler = liveness.Sampler(
        {"svc": 5.0},
        find_pid=lambda u: 7,
        read=lambda p: liveness.ProcessSample(7, 1, next(readings), "S"),
    )
    sampler.sample(now=0.0)
    assert sampler.sample(now=4.0)["svc"].seconds_since_progress == 4.0
    assert sampler.sample(now=8.0)["svc"] == liveness.ServiceState(True, True, 0.0, 7, 8.0)


def test_a_service_without_a_process_is_not_running_and_starts_fresh_later(spawn):
    child = spawn(BLOCKED)
    pid = {"svc": child.pid}
    sampler = liveness.Sampler({"svc": 10.0}, find_pid=lambda unit: pid[unit])
    sampler.sample(now=0.0)
    pid["svc"] = 0
    assert sampler.sample(now=50.0)["svc"] == liveness.ServiceState(False, False, 0.0, 0, 50.0)
    pid["svc"] = child.pid  # the same process again: history was dropped with it
    assert sampler.sample(now=60.0)["svc"].progressing


def test_threads_count_and_the_sum_covers_all_of_them(spawn):
    code = (
        "import threading, time\n"
        "threading.Thread(target=lambda: [time.sleep(0.01) for _ in iter(int, 1)],"
        " daemon=True).start()\n"
        "print('ready', flush=True)\n"
        "import sys; sys.stdin.read()\n"
    )
    child = spawn(code)
    tasks = os.listdir(f"/proc/{child.pid}/task")
    assert len(tasks) == 2
    # On a loaded machine the thread may not have run yet: wait for it, within bounds.
    seen: list[int] = []
    deadline = time.monotonic() + 20
    while len(seen) < 2:
        main_only = liveness._switches(Path(f"/proc/{child.pid}/status").read_text())
        sample = liveness.read_process(child.pid)
        assert sample is not None
        if sample.switches > main_only and (not seen or sample.switches > seen[-1]):
            seen.append(sample.switches)  # the thread's switches count, and keep counting
        assert time.monotonic() < deadline, (main_only, sample)
        time.sleep(0.05)


def test_read_process_of_gone_zombie_and_invalid_pids(spawn):
    assert liveness.read_process(0) is None
    assert liveness.read_process(-1) is None
    child = spawn(BLOCKED)
    child.kill()
    deadline = time.monotonic() + 5
    while " Z " not in Path(f"/proc/{child.pid}/stat").read_text() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert " Z " in Path(f"/proc/{child.pid}/stat").read_text()  # dead, not yet reaped
    assert liveness.read_process(child.pid) is None
    child.wait()
    assert liveness.read_process(child.pid) is None  # reaped: gone


def test_read_process_parses_a_command_name_with_parentheses(tmp_path):
    task = tmp_path / "42" / "task"
    (task / "42").mkdir(parents=True)
    (task / "43").mkdir()  # a thread whose status vanished: skipped
    rest = " ".join(["S", *["0"] * 18, "777", *["0"] * 20])
    (tmp_path / "42" / "stat").write_text(f"42 (evil) (name) {rest}\n")
    (task / "42" / "status").write_text(
        "Name:\tevil\nvoluntary_ctxt_switches:\t10\nnonvoluntary_ctxt_switches:\t3\n"
    )
    assert liveness.read_process(42, proc=tmp_path) == liveness.ProcessSample(42, 777, 13, "S")
    (tmp_path / "42" / "stat").write_text("42 (short) S 1 2\n")
    assert liveness.read_process(42, proc=tmp_path) is None
    (tmp_path / "42" / "stat").write_text(f"42 (x) {rest}\n")
    (task / "42" / "status").unlink()
    (task / "42").rmdir()
    (task / "43").rmdir()
    task.rmdir()
    assert liveness.read_process(42, proc=tmp_path) is None  # no task directory


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("echo 1234", 1234),
        ("echo 0", 0),
        ("echo '[not set]'", 0),
        ("echo 1234; exit 1", 0),
        ("sleep 5", 0),  # beyond the timeout
    ],
)
def test_main_pid_asks_systemctl(tmp_path, monkeypatch, script, expected):
    fake = tmp_path / "systemctl"
    fake.write_text(f'#!/bin/sh\n[ "$*" = "show -p MainPID --value svc" ] || exit 9\n{script}\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert liveness.main_pid("svc", timeout=1.0) == expected


def test_main_pid_without_systemctl_is_zero(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert liveness.main_pid("svc") == 0


STATES = {
    "a": liveness.ServiceState(True, False, 240.0, 1234, 1000.0),
    "b": liveness.ServiceState(False, False, 0.0, 0, 1000.0),
}


def test_state_file_round_trip(tmp_path):
    path = tmp_path / "run" / "health" / "state.json"
    liveness.write_state(path, STATES, now=1000.0)
    assert liveness.read_state(path, now=1010.0, max_age=60) == STATES
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    assert os.listdir(path.parent) == ["state.json"]  # no temporary file left
    document = json.loads(path.read_text())
    assert document["services"]["a"] == {
        "running": True,
        "progressing": False,
        "seconds_since_progress": 240.0,
        "pid": 1234,
        "sampled_at": 1000.0,
    }


def test_stale_or_future_state_is_none(tmp_path):
    path = tmp_path / "state.json"
    liveness.write_state(path, STATES, now=1000.0)
    assert liveness.read_state(path, now=1060.0, max_age=60) is not None
    assert liveness.read_state(path, now=1061.0, max_age=60) is None
    assert liveness.read_state(path, now=939.0, max_age=60) is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        "[]",
        "null",
        '{"version": 1}',
        '{"version": 2, "sampled_at": 1000, "services": {}}',
        '{"version": 1, "sampled_at": "1000", "services": {}}',
        '{"version": 1, "sampled_at": true, "services": {}}',
        '{"version": 1, "sampled_at": NaN, "services": {}}',
        '{"version": 1, "sampled_at": 1000, "services": []}',
        '{"version": 1, "sampled_at": 1000, "services": {"a": {"running": 1}}}',
        '{"version": 1, "sampled_at": 1000, "services": {"a": {"running": true,'
        ' "progressing": true, "seconds_since_progress": 0, "pid": "1", "sampled_at": 1}}}',
        "[" * 100000,
        "\udcff",
    ],
)
def test_garbled_state_is_none(tmp_path, text):
    path = tmp_path / "state.json"
    path.write_text(text, errors="surrogateescape")
    assert liveness.read_state(path, now=1000.0, max_age=60) is None


def test_missing_state_is_none(tmp_path):
    assert liveness.read_state(tmp_path / "absent.json", now=0.0, max_age=60) is None
    assert liveness.read_state(tmp_path, now=0.0, max_age=60) is None  # a directory


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "state.json"
    liveness.write_state(path, STATES, now=1000.0)

    def refuse(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(liveness.os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        liveness.write_state(path, {}, now=2000.0)
    assert os.listdir(tmp_path) == ["state.json"]
    assert liveness.read_state(path, now=1000.0, max_age=60) == STATES


def test_a_document_round_trip_is_stamped(tmp_path):
    path = tmp_path / "node.json"
    liveness.write_document(path, {"cluster_reachable": True}, now=50.0)
    assert liveness.read_document(path, now=55.0, max_age=10) == {
        "cluster_reachable": True,
        "sampled_at": 50.0,
        "version": liveness.STATE_VERSION,
    }
    # The stamp wins over a document's own keys of the same name.
    liveness.write_document(path, {"version": 9, "sampled_at": 1}, now=50.0)
    assert liveness.read_document(path, now=50.0, max_age=10) == {
        "sampled_at": 50.0,
        "version": liveness.STATE_VERSION,
    }


def test_latest_holds_the_newest_sample_until_it_is_stale():
    latest: liveness.Latest[str] = liveness.Latest()
    assert latest.get(now=0.0, max_age=30) is None
    latest.set("first", at=100.0)
    latest.set("second", at=110.0)
    assert latest.get(now=140.0, max_age=30) == "second"
    with pytest.raises(liveness.StaleSampleError, match="31s old"):
        latest.get(now=141.0, max_age=30)


class FakeServer:
    server_port = 0

    def __init__(self) -> None:
        self.serving = threading.Event()
        self.stopped = threading.Event()

    def serve_forever(self) -> None:
        self.serving.set()
        self.stopped.wait(10)

    def shutdown(self) -> None:
        self.stopped.set()


def test_run_daemon_steps_every_interval_survives_failing_steps_and_stops(caplog):
    server, stop = FakeServer(), threading.Event()
    steps: list[float] = []

    def step() -> None:
        steps.append(time.monotonic())
        if len(steps) == 2:
            raise RuntimeError("one bad sample")
        if len(steps) == 4:
            stop.set()

    runner = threading.Thread(target=liveness.run_daemon, args=(step, 0.05, server, stop))
    runner.start()
    runner.join(timeout=10)
    assert not runner.is_alive()
    assert len(steps) == 4 and server.serving.is_set() and server.stopped.is_set()
    assert all(b - a >= 0.04 for a, b in zip(steps, steps[1:], strict=False))
    assert "sampling failed" in caplog.text and "one bad sample" in caplog.text


def test_run_daemon_in_the_main_thread_stops_on_sigterm():
    server = FakeServer()
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        liveness.run_daemon(lambda: None, 0.05, server)
    finally:
        timer.join()
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    assert server.stopped.is_set()


DEFAULTS = liveness.DaemonSettings(
    listen_port=9869, state_file="/run/x/state.json", sample_interval=10
)


def test_daemon_settings_take_defaults_and_overrides():
    assert liveness.daemon_settings({}, DEFAULTS) == DEFAULTS
    document = {"listen_port": 0, "state_file": "/tmp/s", "sample_interval": 0.5}
    document["listen_address"] = "::1"
    assert liveness.daemon_settings(document, DEFAULTS) == liveness.DaemonSettings(
        0, "/tmp/s", 0.5, "::1"
    )


@pytest.mark.parametrize(
    ("document", "error"),
    [
        ({"listen_port": 65536}, ValueError),
        ({"listen_port": -1}, ValueError),
        ({"listen_port": "9869"}, TypeError),
        ({"sample_interval": 0}, ValueError),
        ({"sample_interval": float("inf")}, TypeError),
    ],
)
def test_unusable_daemon_settings_raise(document, error):
    with pytest.raises(error):
        liveness.daemon_settings(document, DEFAULTS)


def test_daemon_config_reads_the_named_file(tmp_path):
    (tmp_path / "c.json").write_text('{"a": 1}')
    assert (
        liveness.daemon_config(["--config", str(tmp_path / "c.json")], "d", "/nope") == '{"a": 1}'
    )
    with pytest.raises(FileNotFoundError):
        liveness.daemon_config([], "d", str(tmp_path / "absent.json"))


def test_serve_samples_persists_and_serves_the_newest_sample(caplog):
    caplog.set_level(logging.INFO)
    persisted: list[tuple[int, float]] = []
    served: list[int | None] = []
    counter = iter(range(1000))
    stop = threading.Event()

    def make_server(newest):
        server = FakeServer()
        server.server_port = 4242
        served.append(newest())  # before the first sample
        return server

    def persist(value: int, now: float) -> None:
        persisted.append((value, now))
        if value == 2:
            stop.set()

    settings = liveness.DaemonSettings(0, "x", 0.01)
    liveness.serve_samples(settings, lambda: next(counter), persist, make_server, 60, stop)
    assert served == [None]
    assert [value for value, _ in persisted] == [0, 1, 2]
    assert abs(persisted[-1][1] - time.time()) < 5
    assert "metrics on 127.0.0.1:4242" in caplog.text


def test_run_daemon_with_stop_already_set_steps_once():
    stop, steps = threading.Event(), []
    stop.set()
    liveness.run_daemon(lambda: steps.append(1), 60, FakeServer(), stop)
    assert steps == [1]
