"""The charm's files read by masakari-monitors' own handlers (the unit group's release).

The process handler runs over the rendered process_list.yaml, and the host handler's
loop over the rendered masakarimonitors.conf, with their commands and sleeps recorded
instead of run: what each option's description promises is what upstream's code does
with the file.
"""

from __future__ import annotations

import warnings

import monitors_workload as wl
import pytest
import yaml
from conftest import state

with warnings.catch_warnings():
    # eventlet warns that it is deprecated when imported; the monitors still use it.
    warnings.simplefilter("ignore")
    import masakarimonitors.conf
    from masakarimonitors.hostmonitor.host_handler import handle_host
    from masakarimonitors.processmonitor.process_handler import handle_process
    from oslo_concurrency.processutils import ProcessExecutionError

CONF = masakarimonitors.conf.CONF
REQUIRED_ONLY = (
    "- process_name: /usr/sbin/watched-daemon\n"
    "  start_command: systemctl start watched\n"
    "  restart_command: systemctl restart watched\n"
    "  run_as_root: false\n"
)
WITH_HOOKS = (
    "- process_name: /usr/bin/hooked-daemon\n"
    "  start_command: systemctl start hooked\n"
    "  pre_start_command:\n"
    "  post_start_command: logger hooked started\n"
    "  restart_command: systemctl restart hooked\n"
    "  pre_restart_command: logger restarting hooked\n"
    "  run_as_root: true\n"
)


def rendered_process_list(ctx, host, process_list: str) -> list[dict]:
    config = {"enable-process-monitor": True, "process-list": process_list}
    out = ctx.run(ctx.on.config_changed(), state(config=config))
    assert out.unit_status.name == "active", out.unit_status
    return yaml.safe_load(host.read_text(wl.PROCESS_LIST))


def test_left_out_and_null_hooks_are_written_as_empty_commands(ctx, ready):
    processes = rendered_process_list(ctx, ready, REQUIRED_ONLY + WITH_HOOKS)
    assert processes == [
        {
            "process_name": "/usr/sbin/watched-daemon",
            "start_command": "systemctl start watched",
            "pre_start_command": "",
            "post_start_command": "",
            "restart_command": "systemctl restart watched",
            "pre_restart_command": "",
            "post_restart_command": "",
            "run_as_root": False,
        },
        {
            "process_name": "/usr/bin/hooked-daemon",
            "start_command": "systemctl start hooked",
            "pre_start_command": "",
            "post_start_command": "logger hooked started",
            "restart_command": "systemctl restart hooked",
            "pre_restart_command": "logger restarting hooked",
            "post_restart_command": "",
            "run_as_root": True,
        },
    ]


def test_upstream_process_handler_starts_and_restarts_every_rendered_entry(
    ctx, ready, monkeypatch
):
    processes = rendered_process_list(ctx, ready, REQUIRED_ONLY + WITH_HOOKS)
    ran: list[tuple[str, bool]] = []

    def execute(*command, run_as_root=False, **kwargs):
        if command == ("ps", "-ef"):
            return "root 1 0 0 00:00 ? 00:00:01 /sbin/init\n", ""  # neither is running
        ran.append((" ".join(command), run_as_root))
        return "", ""

    monkeypatch.setattr(handle_process.utils, "execute", execute)
    handler = handle_process.HandleProcess()
    handler.set_process_list(processes)
    handler.start_processes()
    down = handler.monitor_processes()
    handler.restart_processes(down)
    assert [p["process_name"] for p in down] == [
        "/usr/sbin/watched-daemon",
        "/usr/bin/hooked-daemon",
    ]
    # Empty hooks are skipped; the given ones run, as root where the entry says so.
    assert ran == [
        ("systemctl start watched", False),
        ("systemctl start hooked", True),
        ("logger hooked started", True),
        ("systemctl restart watched", False),
        ("logger restarting hooked", True),
        ("systemctl restart hooked", True),
    ]
    assert handler.restart_failure_list == []  # every restart succeeded: nothing reported


@pytest.fixture
def upstream_conf(tmp_path):
    """Load a rendered masakarimonitors.conf into masakari-monitors' CONF, then clear it."""

    def load(text: str) -> None:
        path = tmp_path / "masakarimonitors.conf"
        path.write_text(text)
        CONF(["--config-file", str(path)], project="masakarimonitors", default_config_files=[])

    yield load
    CONF.reset()
    CONF.clear()


INTERVAL, STONITH_WAIT = 11, 37


@pytest.mark.parametrize(
    ("config", "running", "slept", "checks_cluster"),
    [
        ({}, set(), [INTERVAL], True),
        ({"host-pacemaker-node-type": "autodetect"}, {"pacemaker_remote"}, [INTERVAL], True),
        (
            {
                "host-pacemaker-node-type": "cluster",
                "host-corosync-multicast-interfaces": "eth0",
                "host-corosync-multicast-ports": "5405",
            },
            set(),
            [STONITH_WAIT, INTERVAL],
            True,
        ),
        ({"host-pacemaker-node-type": "cluster"}, set(), [INTERVAL], False),
    ],
    ids=[
        "remote-node-never-waits",
        "autodetected-remote-node-never-waits",
        "cluster-node-without-corosync-traffic-waits",
        "cluster-node-without-interfaces-skips-the-check",
    ],
)
def test_stonith_wait_is_slept_only_by_a_cluster_node_that_sees_no_corosync_traffic(
    ctx, ready, monkeypatch, upstream_conf, config, running, slept, checks_cluster
):
    timing = {"host-monitoring-interval": INTERVAL, "host-stonith-wait": STONITH_WAIT}
    out = ctx.run(ctx.on.config_changed(), state(config={**config, **timing}))
    assert out.unit_status.name == "active", out.unit_status
    upstream_conf(ready.read_text(wl.CONF))
    handler = handle_host.HandleHost()
    commands: list[str] = []
    sleeps: list[int] = []

    def execute(*command, run_as_root=False, **kwargs):
        commands.append(" ".join(command))
        if command[:2] == ("systemctl", "status") and command[2] in running:
            return "active (running)", ""
        if command[0] == "crmadmin":
            return "S_IDLE", ""
        # No service that is not running, no corosync traffic, no cluster to query.
        raise ProcessExecutionError(exit_code=1)

    def sleep(seconds):
        sleeps.append(seconds)
        if seconds == INTERVAL:  # the end of one pass of the loop
            handler.running = False

    monkeypatch.setattr(handle_host.utils, "execute", execute)
    monkeypatch.setattr(handle_host.eventlet.greenthread, "sleep", sleep)
    handler.monitor_hosts()
    assert sleeps == slept
    assert any(c.startswith("crm_mon") for c in commands) == checks_cluster
