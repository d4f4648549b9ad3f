"""nova's host, the monitors' hostname and the Pacemaker node name must be one name."""

from __future__ import annotations

import configparser
import dataclasses
import tempfile

import charm
import monitors_workload as wl
import ops
import pytest
from conftest import FQDN, PACKAGES, state
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openstack_charm_testing import FakeHost
from openstack_charm_testing import adversarial as adv
from ops import testing

MONITORS = {"masakari-host-monitor", "masakari-instance-monitor"}
NOVA_SHORT = "[DEFAULT]\nstate_path = /var/lib/nova\n"  # nova's default: the short name


def registration(local=None) -> testing.Relation:
    return testing.Relation(
        "registration", "masakari-host", remote_app_name="masakari", local_unit_data=local or {}
    )


def registered(out) -> str | None:
    rel = next(r for r in out.relations if r.endpoint == "registration")
    return rel.local_unit_data.get("hostname")


def reported(host) -> str:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(host.read_text(wl.CONF))
    return parser["DEFAULT"]["hostname"]


def test_three_names_that_agree_give_active_and_register_the_name(ctx, ready):
    out = ctx.run(ctx.on.config_changed(), state(extra=[registration()]))
    assert out.unit_status == ops.ActiveStatus(
        f"Unit is ready (monitors: host and instance; reporting as {FQDN})"
    )
    assert reported(ready) == FQDN
    assert registered(out) == FQDN


@pytest.mark.parametrize(
    "nova_conf, config, node, message",
    [
        pytest.param(
            NOVA_SHORT,
            {},
            FQDN,
            "Names disagree: nova-compute's host 'compute-1', masakari-monitors' hostname "
            "'compute-1.maas', pacemaker-remote's remote-hostname 'compute-1.maas': set "
            "masakari-monitors' hostname and pacemaker-remote's remote-hostname to 'compute-1'",
            id="nova",
        ),
        pytest.param(
            None,
            {"hostname": "compute-1"},
            FQDN,
            "Names disagree: nova-compute's host 'compute-1.maas', masakari-monitors' hostname "
            "'compute-1', pacemaker-remote's remote-hostname 'compute-1.maas': set "
            "masakari-monitors' hostname to 'compute-1.maas'",
            id="hostname",
        ),
        pytest.param(
            None,
            {},
            "compute-1",
            "Names disagree: nova-compute's host 'compute-1.maas', masakari-monitors' hostname "
            "'compute-1.maas', pacemaker-remote's remote-hostname 'compute-1': set "
            "pacemaker-remote's remote-hostname to 'compute-1.maas'",
            id="pacemaker",
        ),
    ],
)
def test_one_name_that_disagrees_blocks_naming_all_three(
    ctx, ready, nova_conf, config, node, message
):
    if nova_conf is not None:
        ready.write_file(wl.NOVA_CONF, nova_conf)
    before = {"hostname": FQDN, "segment": "default", "reserved": "false"}
    out = ctx.run(
        ctx.on.config_changed(),
        state(config=config, node={"node-name": node}, extra=[registration(before)]),
    )
    assert out.unit_status == ops.BlockedStatus(message)
    assert not ready.running & MONITORS
    assert registered(out) is None


def test_names_that_agree_on_nova_short_name_give_active(ctx, ready):
    ready.write_file(wl.NOVA_CONF, NOVA_SHORT)
    out = ctx.run(
        ctx.on.config_changed(),
        state(config={"hostname": "compute-1"}, node={"node-name": "compute-1"}),
    )
    assert out.unit_status.name == "active"
    assert reported(ready) == "compute-1"


def test_without_nova_conf_waits_with_monitors_stopped_and_nothing_registered(ctx, ready):
    ready.remove_file(wl.NOVA_CONF)
    ready.running.update(MONITORS)  # as the packages leave them
    before = {"hostname": FQDN, "segment": "default", "reserved": "false"}
    out = ctx.run(ctx.on.config_changed(), state(extra=[registration(before)]))
    assert out.unit_status == ops.WaitingStatus(
        "Waiting for nova-compute to write /etc/nova/nova.conf"
    )
    assert not ready.running & MONITORS
    assert registered(out) is None
    assert not ready.exists(wl.CONF)


def test_host_monitor_without_pacemaker_node_relation_blocks_asking_for_it(ctx, ready):
    out = ctx.run(ctx.on.config_changed(), state(with_node=False, extra=[registration()]))
    assert out.unit_status == ops.BlockedStatus(
        "Missing relation: relate pacemaker-remote:pacemaker-node to "
        "masakari-monitors:pacemaker-node (the host monitor needs it)"
    )
    assert not ready.running & MONITORS
    assert registered(out) is None


def test_instance_monitor_alone_needs_no_pacemaker_node_relation(ctx, ready):
    out = ctx.run(
        ctx.on.config_changed(),
        state(config={"enable-host-monitor": False}, with_node=False, extra=[registration()]),
    )
    assert out.unit_status == ops.ActiveStatus(
        f"Unit is ready (monitors: instance; reporting as {FQDN})"
    )
    assert registered(out) == FQDN


def test_instance_monitor_alone_with_nova_disagreeing_blocks_naming_two(ctx, ready):
    ready.write_file(wl.NOVA_CONF, NOVA_SHORT)
    out = ctx.run(
        ctx.on.config_changed(), state(config={"enable-host-monitor": False}, with_node=False)
    )
    assert out.unit_status == ops.BlockedStatus(
        "Names disagree: nova-compute's host 'compute-1', masakari-monitors' hostname "
        "'compute-1.maas': set masakari-monitors' hostname to 'compute-1'"
    )


def test_node_name_not_yet_published_waits(ctx, ready):
    out = ctx.run(ctx.on.config_changed(), state(node={}))
    assert out.unit_status == ops.WaitingStatus(
        "pacemaker-node: waiting for pacemaker-remote to publish its node name"
    )
    assert not ready.running & MONITORS


@pytest.mark.parametrize(
    "value",
    [
        f"{FQDN}\nhost = evil",
        f"{FQDN}\n",
        " compute-1.maas",
        "bad name!",
        "nöde.maas",
        "x" * 300,
        "::1",
        '"compute-1.maas"',
    ],
)
def test_hostile_node_name_waits_naming_relation_unit_and_field_not_the_value(ctx, ready, value):
    out = ctx.run(ctx.on.config_changed(), state(node={"node-name": value}))
    assert out.unit_status == ops.WaitingStatus(
        "pacemaker-node: pacemaker-remote/0 sent an invalid node-name (a host name)"
    )
    assert value.strip() not in out.unit_status.message
    assert not ready.running & MONITORS
    assert not ready.exists(wl.CONF)


def test_node_name_fixed_by_pacemaker_remote_starts_the_monitors(ctx, ready):
    out = ctx.run(ctx.on.config_changed(), state(node={"node-name": "compute-1"}))
    assert out.unit_status.name == "blocked"
    relation = next(r for r in out.relations if r.endpoint == "pacemaker-node")
    fixed = testing.SubordinateRelation(
        "pacemaker-node",
        "pacemaker-node-name",
        remote_app_name="pacemaker-remote",
        remote_unit_data={"node-name": FQDN},
        id=relation.id,
    )
    others = [r for r in out.relations if r.endpoint != "pacemaker-node"]
    after = dataclasses.replace(out, relations=[*others, fixed])
    out = ctx.run(ctx.on.relation_changed(fixed), after)
    assert out.unit_status.name == "active"
    assert MONITORS <= ready.running


NAMES = st.sampled_from([FQDN, "compute-1", "compute-1.example.com"])


@settings(
    max_examples=adv.budget(150),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    nova=st.one_of(st.none(), NAMES),  # None: nova's default, the short host name
    hostname=st.one_of(st.just(""), NAMES),  # "": the FQDN
    node=st.one_of(st.none(), NAMES),  # None: no pacemaker-node relation
    host_monitor=st.booleans(),
)
def test_active_exactly_when_every_known_name_is_nova_host(
    monkeypatch, nova, hostname, node, host_monitor
):
    host = FakeHost(tempfile.mkdtemp(), fqdn=FQDN, available=PACKAGES)
    host.unit_groups = {"masakari-host-monitor": "masakari"}
    host.installed.update(PACKAGES)
    host.running.add("pacemaker_remote")
    host.write_file(wl.NOVA_CONF, NOVA_SHORT if nova is None else f"[DEFAULT]\nhost = {nova}\n")
    monkeypatch.setattr(charm.MasakariMonitorsCharm, "make_host", lambda self: host)
    config = {"hostname": hostname, "enable-host-monitor": host_monitor}
    ctx = testing.Context(charm.MasakariMonitorsCharm)
    out = ctx.run(
        ctx.on.config_changed(),
        state(
            config=config,
            node={"node-name": node or ""},
            with_node=node is not None,
            extra=[registration()],
        ),
    )
    nova_host = nova or "compute-1"
    names = {hostname or FQDN, *([node] if node else [])}
    if node is None and host_monitor:
        assert out.unit_status.name == "blocked" and "pacemaker-node" in out.unit_status.message
    elif names == {nova_host}:
        assert out.unit_status.name == "active"
        assert reported(host) == nova_host and registered(out) == nova_host
        return
    else:
        message = out.unit_status.message
        assert out.unit_status.name == "blocked" and message.startswith("Names disagree")
        assert all(repr(name) in message for name in {nova_host, *names})
    assert registered(out) is None
    assert not host.running & MONITORS
