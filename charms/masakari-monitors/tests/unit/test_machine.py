"""What masakari-monitors leaves on the hypervisor: the real MonitorsMachine on a FakeHost.

The charm's decisions are tested against a fake machine (``test_charm.py``); here the
whole charm runs with the real machine on a simulated hypervisor: the packages, the
rendered masakarimonitors.conf per option, the services, replays, pause and resume.
"""

from __future__ import annotations

import configparser

import monitors_workload as wl
import ops
import pytest
import yaml
from conftest import CREDENTIALS, FQDN, state
from monitors_config import TUNABLES
from openstack_charm_testing.pki import pki
from ops import testing


def conf(host) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(host.read_text(wl.CONF))
    return parser


def test_install_installs_enabled_monitors_and_keeps_them_stopped(ctx, host):
    host.running.update({"masakari-host-monitor", "masakari-instance-monitor"})
    out = ctx.run(ctx.on.install(), state(with_keystone=False))
    install = host.ran("apt-get", "install")[0]
    assert "masakari-host-monitor" in install and "masakari-instance-monitor" in install
    assert "masakari-process-monitor" not in install
    assert not host.running & {"masakari-host-monitor", "masakari-instance-monitor"}
    assert out.unit_status == ops.BlockedStatus(
        "Missing relation: relate identity-credentials to keystone"
    )


def test_ready_unit_renders_and_runs(ctx, ready):
    out = ctx.run(ctx.on.config_changed(), state())
    c = conf(ready)
    assert c["DEFAULT"]["hostname"] == FQDN
    assert c["api"]["auth_url"] == "http://10.5.0.10:35357/v3"
    assert c["api"]["username"] == "masakari-monitors"
    assert c["api"]["password"] == "monitor-secret-pw"
    assert c["api"]["project_name"] == "services"
    assert c["api"]["user_domain_name"] == c["api"]["project_domain_name"] == "service_domain"
    assert c["api"]["api_interface"] == "public"
    assert c["api"]["region"] == "RegionOne"
    assert "cafile" not in c["api"]
    assert c["host"]["restrict_to_remotes"] == "true"
    assert c["host"]["pacemaker_node_type"] == "remote"
    assert c["host"]["disable_ipmi_check"] == "true"
    assert "corosync_multicast_interfaces" not in c["host"]
    assert "ens3" not in ready.read_text(wl.CONF)
    assert ready.owner_of(wl.CONF) == ("root", "masakari", 0o640)
    assert {"masakari-host-monitor", "masakari-instance-monitor"} <= ready.running
    assert out.unit_status == ops.ActiveStatus(
        f"Unit is ready (monitors: host and instance; reporting as {FQDN})"
    )
    assert "monitor-secret-pw" not in out.unit_status.message


def test_every_tunable_reaches_its_key(ctx, ready):
    config = {}
    expected = {}
    for index, (option, tunable) in enumerate(TUNABLES.items()):
        if tunable.kind is int:
            value = tunable.minimum + index + 1
            config[option], expected[option] = value, str(value)
        elif tunable.kind is bool:
            config[option], expected[option] = False, "false"
        elif option == "host-pacemaker-node-type":
            config[option], expected[option] = "cluster", "cluster"
        else:
            config[option], expected[option] = f"value-{index}", f"value-{index}"
    ctx.run(ctx.on.config_changed(), state(config=config))
    c = conf(ready)
    for option, tunable in TUNABLES.items():
        assert c[tunable.section][tunable.key] == expected[option], option


@pytest.mark.parametrize(
    ("option", "value", "section", "key", "expected"),
    [
        ("use-internal-endpoints", True, "api", "api_interface", "internal"),
        ("region", "RegionTwo", "api", "region", "RegionTwo"),
        ("debug", True, "DEFAULT", "debug", "true"),
        ("hostname", "compute-1.maas", "DEFAULT", "hostname", "compute-1.maas"),
        ("config-flags", "host/ipmi_timeout=9,tempdir=/tmp", "host", "ipmi_timeout", "9"),
        ("config-flags", "host/ipmi_timeout=9,tempdir=/tmp", "DEFAULT", "tempdir", "/tmp"),
    ],
)
def test_option_effects(ctx, ready, option, value, section, key, expected):
    ctx.run(ctx.on.config_changed(), state(config={option: value}))
    assert conf(ready)[section][key] == expected


def test_keystone_https_ca_becomes_cafile(ctx, ready):
    import base64

    ca = pki()["ca"]
    data = {
        **CREDENTIALS,
        "auth_protocol": "https",
        "ca_cert": base64.b64encode(ca.encode()).decode(),
    }
    ctx.run(ctx.on.config_changed(), state(keystone_data=data))
    assert conf(ready)["api"]["cafile"] == wl.KEYSTONE_CA
    assert ready.read_text(wl.KEYSTONE_CA) == ca


def test_host_monitor_without_pacemaker_remote_blocks(ctx, ready):
    ready.running.discard("pacemaker_remote")
    out = ctx.run(ctx.on.config_changed(), state())
    assert out.unit_status == ops.BlockedStatus(
        "The host monitor needs pacemaker_remote running here: see pacemaker-remote's status"
    )
    ready.running.add("pacemaker_remote")
    out = ctx.run(ctx.on.config_changed(), out)
    assert "masakari-host-monitor" in ready.running
    assert out.unit_status.name == "active"


def test_instance_monitor_alone_needs_no_pacemaker(ctx, ready):
    ready.running.discard("pacemaker_remote")
    out = ctx.run(ctx.on.config_changed(), state(config={"enable-host-monitor": False}))
    assert out.unit_status == ops.ActiveStatus(
        f"Unit is ready (monitors: instance; reporting as {FQDN})"
    )


def test_disabling_a_monitor_stops_it(ctx, ready):
    out = ctx.run(ctx.on.config_changed(), state())
    out = ctx.run(ctx.on.config_changed(), state(config={"enable-instance-monitor": False}))
    assert "masakari-instance-monitor" not in ready.running
    assert out.unit_status.message.startswith("Unit is ready (monitors: host;")


def test_a_disabled_monitor_that_is_not_installed_costs_no_systemd_question(ctx, ready):
    for package in ("masakari-process-monitor", "masakari-introspective-instance-monitor"):
        ready.installed.pop(package, None)
    ctx.run(ctx.on.config_changed(), state())
    ready.clear()
    ctx.run(ctx.on.update_status(), state())
    asked = [" ".join(argv) for argv in ready.ran("systemctl")]
    assert not [a for a in asked if "process-monitor" in a or "introspective" in a], asked


def test_process_monitor_writes_its_list(ctx, ready):
    config = {"enable-process-monitor": True, "enable-introspective-instance-monitor": True}
    out = ctx.run(ctx.on.config_changed(), state(config=config))
    assert conf(ready)["process"]["process_list_path"] == wl.PROCESS_LIST
    processes = yaml.safe_load(ready.read_text(wl.PROCESS_LIST))
    assert [p["process_name"] for p in processes] == [
        "/usr/sbin/libvirtd",
        "/usr/bin/nova-compute",
    ]
    assert {"masakari-process-monitor", "masakari-introspective-instance-monitor"} <= ready.running
    assert out.unit_status.message.startswith(
        "Unit is ready (monitors: host, instance, introspective-instance and process;"
    )


def test_replay_writes_and_restarts_nothing(ctx, ready):
    out = ctx.run(ctx.on.config_changed(), state())
    before = {p: p.stat().st_mtime_ns for p in ready.root.rglob("*") if p.is_file()}
    ready.clear()
    ctx.run(ctx.on.config_changed(), out)
    assert ready.restarted() == []
    assert {p: p.stat().st_mtime_ns for p in ready.root.rglob("*") if p.is_file()} == before


def test_config_change_restarts_the_monitors_once(ctx, ready):
    out = ctx.run(ctx.on.config_changed(), state())
    ready.clear()
    ctx.run(ctx.on.config_changed(), state(config={"host-monitoring-interval": 30}))
    # The host monitor's loop is shorter now: the health daemon judges it by a new window.
    assert ready.restarted() == [
        "masakari-host-monitor",
        "masakari-instance-monitor",
        "masakari-monitors-health",
    ]
    del out


def test_monitor_that_will_not_start_blocks(ctx, ready):
    ready.failing["systemctl restart"] = 1
    out = ctx.run(ctx.on.config_changed(), state())
    assert out.unit_status == ops.BlockedStatus(
        "Services not running: masakari-host-monitor and masakari-instance-monitor"
    )


def test_pause_resume_restart(ctx, ready):
    out = ctx.run(ctx.on.config_changed(), state())
    out = ctx.run(ctx.on.action("pause"), out)
    assert ctx.action_results == {"stopped": "masakari-host-monitor, masakari-instance-monitor"}
    out = ctx.run(
        ctx.on.config_changed(),
        testing.State(
            config={"debug": True}, relations=out.relations, stored_states=out.stored_states
        ),
    )
    assert out.unit_status.name == "maintenance"
    assert not ready.running & {"masakari-host-monitor", "masakari-instance-monitor"}
    with pytest.raises(testing.ActionFailed, match="paused"):
        ctx.run(ctx.on.action("restart-services"), out)
    ready.clear()
    out = ctx.run(ctx.on.action("resume"), out)
    assert ready.restarted() == ["masakari-host-monitor", "masakari-instance-monitor"]
    assert ctx.action_results["started"] == "masakari-host-monitor, masakari-instance-monitor"
    assert out.unit_status.name == "active"
    ready.clear()
    ctx.run(ctx.on.action("restart-services"), out)
    assert ready.restarted() == ["masakari-host-monitor", "masakari-instance-monitor"]


def test_group_comes_from_the_unit_file(ctx, ready):
    ready.unit_groups = {"masakari-host-monitor": "masakarimonitors"}
    ctx.run(ctx.on.config_changed(), state())
    assert ready.owner_of(wl.CONF) == ("root", "masakarimonitors", 0o640)
