"""What the masakari-monitors charm decides: which monitors, credentials, names, status.

The machine is :class:`fake_monitors_machine.FakeMonitorsMachine`; what its steps do on
a hypervisor (files, packages, services) is in ``test_machine.py``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import monitors_workload as wl
import ops
import pytest
import yaml
from conftest import CREDENTIALS, FQDN, state
from monitors_config import MonitorsConfig
from openstack_charm_lib import actions
from openstack_charm_testing.seams import APT_FAILURE, APT_FAILURE_STATUS, assert_same_steps
from ops import testing

HOST, INSTANCE = "masakari-host-monitor", "masakari-instance-monitor"
READY = ops.ActiveStatus(f"Unit is ready (monitors: host and instance; reporting as {FQDN})")


def test_install_installs_the_enabled_monitors_and_keeps_them_stopped(ctx, machine):
    machine.running = {HOST, INSTANCE}  # the packages started them
    out = ctx.run(ctx.on.install(), state(with_keystone=False))
    assert machine.installed == {HOST, INSTANCE}
    assert not machine.running
    assert "apply" not in machine.calls
    assert out.unit_status == ops.BlockedStatus(
        "Missing relation: relate identity-credentials to keystone"
    )


def test_requests_credentials_and_waits_with_the_monitors_stopped(ctx, machine):
    out = ctx.run(ctx.on.config_changed(), state(keystone_data={}))
    rel = next(r for r in out.relations if r.endpoint == "identity-credentials")
    assert rel.local_unit_data["username"] == "masakari-monitors"
    assert rel.local_unit_data["project"] == "services"
    assert out.unit_status == ops.WaitingStatus(
        "identity-credentials: waiting for keystone to create the user"
    )
    assert machine.calls[-1] == "stop" and "apply" not in machine.calls


def test_a_ready_unit_applies_keystones_credentials_under_novas_name(ctx, machine):
    out = ctx.run(ctx.on.config_changed(), state())
    applied = machine.applied[-1]
    assert applied.hostname == FQDN and not applied.paused
    assert applied.config.monitors == (HOST, INSTANCE)
    assert applied.credentials.data["credentials_password"] == "monitor-secret-pw"
    assert applied.credentials.data["credentials_username"] == "masakari-monitors"
    assert machine.running == {HOST, INSTANCE}
    assert out.unit_status == READY
    assert "monitor-secret-pw" not in out.unit_status.message


def test_the_hostname_option_is_the_name_the_monitors_report(ctx, machine):
    ctx.run(ctx.on.config_changed(), state(config={"hostname": "compute-1.maas"}))
    assert machine.applied[-1].hostname == "compute-1.maas"


def test_what_the_machine_says_is_wrong_blocks(ctx, machine):
    machine.serve_problem = "Services not running: masakari-host-monitor"
    out = ctx.run(ctx.on.config_changed(), state())
    assert out.unit_status == ops.BlockedStatus(machine.serve_problem)


def test_disabling_a_monitor_stops_it_and_names_the_others(ctx, machine):
    out = ctx.run(ctx.on.config_changed(), state())
    out = ctx.run(ctx.on.config_changed(), state(config={"enable-instance-monitor": False}))
    assert machine.running == {HOST}
    assert machine.applied[-1].config.monitors == (HOST,)
    assert out.unit_status.message.startswith("Unit is ready (monitors: host;")


def test_every_monitor_disabled_blocks_and_runs_none(ctx, machine):
    config = {"enable-host-monitor": False, "enable-instance-monitor": False}
    out = ctx.run(ctx.on.config_changed(), state(config=config))
    assert out.unit_status == ops.BlockedStatus("Every monitor is disabled: enable at least one")
    assert "apply" not in machine.calls


def test_without_nova_conf_nothing_is_applied(ctx, machine):
    machine.nova = None
    out = ctx.run(ctx.on.config_changed(), state())
    assert out.unit_status == ops.WaitingStatus(
        f"Waiting for nova-compute to write {wl.NOVA_CONF}"
    )
    assert "apply" not in machine.calls


def test_install_failure_blocks(ctx, machine):
    machine.install_error = APT_FAILURE
    out = ctx.run(ctx.on.install(), state())
    assert out.unit_status == APT_FAILURE_STATUS
    assert machine.calls == ["install"]


def test_a_paused_unit_applies_its_files_but_says_paused(ctx, machine):
    out = ctx.run(ctx.on.config_changed(), state())
    out = ctx.run(ctx.on.action("pause"), out)
    paused = dataclasses.replace(out, config={"debug": True})
    out = ctx.run(ctx.on.config_changed(), paused)
    assert machine.applied[-1].paused and machine.applied[-1].config.debug
    assert out.unit_status == ops.MaintenanceStatus(actions.PAUSED_MESSAGE)


def test_departure_of_the_keystone_unit_that_answered_uses_another_ones_answer(ctx, machine):
    other = {**CREDENTIALS, "credentials_password": "second-unit-pw"}
    rel = testing.Relation(
        "identity-credentials",
        "keystone-credentials",
        remote_app_name="keystone",
        remote_units_data={1: other},
    )
    base = state()
    before = testing.State(
        config={},
        relations=[*[r for r in base.relations if r.endpoint != "identity-credentials"], rel],
    )
    out = ctx.run(ctx.on.relation_departed(rel, remote_unit=0, departing_unit=0), before)
    assert out.unit_status == READY
    assert machine.applied[-1].credentials.data["credentials_password"] == "second-unit-pw"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"hostname": "bad name"}, "hostname 'bad name' is not a valid host name"),
        ({"region": ""}, "region must be a non-empty name"),
        ({"region": "Region\rOne"}, "region must be a non-empty name"),
        (
            {"host-monitoring-interval": 0},
            "host-monitoring-interval must be a whole number from 1",
        ),
        ({"host-stonith-wait": 2**31}, "host-stonith-wait must be a whole number from 0 to"),
        ({"host-pacemaker-node-type": "both"}, "host-pacemaker-node-type must be one of"),
        ({"libvirt-connection-uri": "a\nb"}, "libvirt-connection-uri must be one line"),
        ({"libvirt-connection-uri": "a\rdebug = true"}, "libvirt-connection-uri must be one line"),
        ({"host-corosync-multicast-ports": "54\x0b05"}, "host-corosync-multicast-ports must be"),
        ({"libvirt-connection-uri": "'qemu:///system'"}, "must not be wrapped in quotes"),
        ({"config-flags": "nonsense"}, "config-flags: cannot parse entry 1;"),
        ({"enable-process-monitor": True, "process-list": "{"}, "process-list is not valid YAML"),
        (
            {"enable-process-monitor": True, "process-list": "a: b"},
            "process-list must be a YAML list",
        ),
        (
            {"enable-process-monitor": True, "process-list": "- process_name: x"},
            "process-list entry 1: lacks start_command, restart_command, run_as_root "
            "(required: process_name, start_command, restart_command, run_as_root)",
        ),
        (
            {
                "enable-process-monitor": True,
                "process-list": "- {process_name: x, start_command: a, restart_command: b, "
                "run_as_root: false}\n- {process_name: y, start_command: a, run_as_root: true, "
                "restart_command: }",
            },
            "process-list entry 2: lacks restart_command (required:",
        ),
        (
            {
                "enable-process-monitor": True,
                "process-list": "- {process_name: x, start_command: a, restart_command: ' ', "
                "run_as_root: true}",
            },
            "process-list entry 1: restart_command must not be empty",
        ),
        (
            {"enable-process-monitor": True, "process-list": "- {1: x}"},
            "process-list entry 1: unknown key a non-string key",
        ),
        (
            {"enable-process-monitor": True, "process-list": "- &a [*a]"},
            "process-list entry 1: must be a mapping",
        ),
        (
            {
                "enable-process-monitor": True,
                "process-list": "- &e {process_name: x, start_command: *e, restart_command: b, "
                "run_as_root: true}",
            },
            "process-list entry 1: start_command must be a string",
        ),
        (
            {
                "enable-process-monitor": True,
                "process-list": "- {process_name: x, start_command: a, restart_command: b, "
                "run_as_root: yes please}",
            },
            "run_as_root must be true or false",
        ),
    ],
)
def test_invalid_config_blocks_naming_the_option_and_changes_nothing(
    ctx, machine, config, message
):
    out = ctx.run(ctx.on.config_changed(), state(config=config))
    assert out.unit_status.name == "blocked"
    assert message in out.unit_status.message
    assert machine.calls == []


CHARMCRAFT = yaml.safe_load((Path(wl.__file__).parents[1] / "charmcraft.yaml").read_text())
OPTIONS = CHARMCRAFT["config"]["options"]


def test_every_option_is_a_config_field_with_the_charmcraft_default():
    fields = {f.name: f for f in dataclasses.fields(MonitorsConfig) if f.init}
    read_by_observability = {"nagios_context", "nagios_servicegroups"}
    assert set(fields) == {o.replace("-", "_") for o in OPTIONS} - read_by_observability
    for name, field in fields.items():
        option = OPTIONS[name.replace("_", "-")]
        if "tunable" in field.metadata:
            assert field.default is None, name  # the default is charmcraft.yaml's alone
        elif name != "process_list":  # its default is a YAML document, Juju's to pass
            assert field.default == option["default"], name


def test_the_fake_machine_offers_what_monitors_machine_offers():
    from fake_monitors_machine import FakeMonitorsMachine
    from monitors_machine import MonitorsMachine

    assert_same_steps(FakeMonitorsMachine, MonitorsMachine)
