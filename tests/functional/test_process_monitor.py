"""The real masakari-processmonitor, run with the process list the monitors charm wrote.

For each release of the stack, the charm (its real code, through ops.testing) renders
masakarimonitors.conf and process_list.yaml with two entries: one with only the
required keys, one with start and restart hooks. The monitor then watches two harmless
processes started here (each a sleeping Python with a unique argument), whose
commands only create marker files: it must run the start commands, find both
processes, and, once each is stopped by PID, run that entry's restart command (with its
hooks), again on later checks, without its loop ending. Every process is stopped by
PID.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import charm_runs
import pytest
import release_matrix
import service_stack as ss

HOSTNAME = "compute-1.example"
# Nothing listens here: the monitor only calls masakari when a restart fails for good.
SERVICES = {"keystone_port": 5000, "monitors_password": "unused-pw", "project_id": "p0"}
TIMEOUT = 20  # seconds for one step; the monitor checks every second


def process_list(markers: Path, watched: dict[str, str]) -> str:
    """Entry ``a`` with only the required keys; ``b`` with hooks, one of them null."""
    return (
        f"- process_name: {watched['a']}\n"
        f"  start_command: touch {markers}/a-started\n"
        f"  restart_command: touch {markers}/a-restarted\n"
        "  run_as_root: false\n"
        f"- process_name: {watched['b']}\n"
        f"  start_command: touch {markers}/b-started\n"
        "  pre_start_command:\n"
        f"  post_start_command: touch {markers}/b-post-started\n"
        f"  pre_restart_command: touch {markers}/b-pre-restart\n"
        f"  restart_command: touch {markers}/b-restarted\n"
        f"  post_restart_command: touch {markers}/b-post-restart\n"
        "  run_as_root: false\n"
    )


@pytest.fixture
def stack(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    services = ss.ServiceStack(state)
    yield services
    services.close()


def log_text(stack: ss.ServiceStack, logs: Path) -> str:
    return "".join(p.read_text() for p in [*logs.iterdir(), *stack.logs.iterdir()])


@pytest.mark.parametrize("release", list(release_matrix.STACK_RELEASES))
def test_process_monitor_restarts_stopped_processes_of_every_rendered_entry(
    tmp_path, stack, release
):
    venv = release_matrix.services_venv(release)
    markers = tmp_path / "markers"
    markers.mkdir()
    logs = tmp_path / "monitor-logs"
    logs.mkdir()
    # The unique argument is what the monitor looks for in `ps -ef`; no other command
    # line here contains it.
    watched = {name: f"procmon-watched-{name}-{uuid.uuid4().hex}" for name in "ab"}
    for name, token in watched.items():
        stack.spawn(
            f"watched-{name}", [sys.executable, "-c", "import time; time.sleep(600)", token]
        )

    root = tmp_path / "unit"
    flags = "\n".join(
        [
            f"log_dir={logs}",
            f"process/process_list_path={root}/etc/masakarimonitors/process_list.yaml",
        ]
    )
    options = {
        "enable-host-monitor": False,
        "enable-instance-monitor": False,
        "enable-process-monitor": True,
        "process-list": process_list(markers, watched),
        "process-check-interval": 1,
        "process-restart-interval": 1,
        "debug": True,
        "config-flags": flags,
    }
    conf, _ = charm_runs.run_masakari_monitors(root, SERVICES, HOSTNAME, options)
    monitor = stack.spawn(
        "processmonitor",
        [str(venv / "bin" / "masakari-processmonitor"), "--config-file", str(conf)],
    )

    def exist(*names: str) -> bool:
        return all((markers / n).exists() for n in names)

    ss.wait_until(lambda: exist("a-started", "b-started", "b-post-started"), TIMEOUT, "starts")
    ss.wait_until(
        lambda: all(f"Process '{t}' is found" in log_text(stack, logs) for t in watched.values()),
        TIMEOUT,
        "both processes found",
    )
    assert not list(markers.glob("*restart*")), "restarted a process that was running"

    stack.stop("watched-a")
    ss.wait_until(lambda: exist("a-restarted"), TIMEOUT, "entry a's restart command")
    assert not list(markers.glob("b-*restart*")), "restarted b while it was running"

    stack.stop("watched-b")
    ss.wait_until(
        lambda: exist("b-pre-restart", "b-restarted", "b-post-restart"),
        TIMEOUT,
        "entry b's restart command and hooks",
    )
    # a is still down: a later pass of the loop runs its restart command again.
    (markers / "a-restarted").unlink()
    ss.wait_until(lambda: exist("a-restarted"), TIMEOUT, "entry a's next restart")

    assert monitor.poll() is None, "masakari-processmonitor exited"
    text = log_text(stack, logs)
    assert "Exception caught" not in text and "Traceback" not in text, text[-4000:]
