"""What the pacemaker-remote charm decides: the published bag, the key, the node's steps, status.

The node is :class:`fake_remote_node.FakeRemoteNode`; what its steps do on a machine is
in ``test_machine.py``.
"""

from __future__ import annotations

import dataclasses
import json

import ops
import pytest
import remote_relation as rr
from conftest import FQDN, KEY, KEY_B64, hacluster, published, state
from openstack_charm_lib import actions
from openstack_charm_testing.seams import APT_FAILURE, APT_FAILURE_STATUS
from ops import testing

ACTIVE = ops.ActiveStatus(f"Pacemaker remote node {FQDN} (stonith off)")


def test_install_without_relation_installs_and_asks_for_hacluster(ctx, node):
    out = ctx.run(ctx.on.install(), state(with_relation=False))
    assert node.installed and not node.running
    # Without the relation, whatever cluster it belonged to is forgotten first.
    assert node.calls == ["forget_cluster", "install", "remove_corosync_leftovers"]
    assert out.unit_status == ops.BlockedStatus(
        "Missing relation: relate pacemaker-remote to hacluster (pacemaker-remote endpoint)"
    )
    assert {p.port for p in out.opened_ports} == {3121}


def test_exact_published_bag(ctx, node):
    out = ctx.run(ctx.on.config_changed(), state())
    assert published(out) == {
        "remote-hostname": '"compute-1.maas"',
        "remote-ip": '"10.5.0.21"',
        "stonith-hostname": "null",
        "enable-resources": "false",
    }


def test_bag_with_stonith_and_overrides(ctx, node):
    node.resolvable.add("node7.maas")
    config = {
        "enable-stonith": True,
        "enable-resources": True,
        "remote-hostname": "node7",
        "stonith-hostname": "node7.maas",
    }
    out = ctx.run(ctx.on.config_changed(), state(config=config))
    assert published(out) == {
        "remote-hostname": '"node7"',
        "remote-ip": '"10.5.0.21"',
        "stonith-hostname": '"node7.maas"',
        "enable-resources": "true",
    }
    assert out.unit_status == ops.ActiveStatus("Pacemaker remote node node7 (stonith on)")


@pytest.mark.parametrize("remote", ["compute-1.example.com", "node7.example.com", "node"])
def test_stonith_name_that_does_not_fence_the_node_blocks_and_publishes_null(ctx, node, remote):
    node.resolvable.add("node7.maas")
    config = {"enable-stonith": True, "remote-hostname": remote, "stonith-hostname": "node7.maas"}
    out = ctx.run(ctx.on.config_changed(), state(config=config))
    assert out.unit_status == ops.BlockedStatus(
        "enable-stonith: hacluster's st-maas fences 'node7.maas' or 'node7', not this node "
        f"({remote!r}): make remote-hostname one of them or set stonith-hostname to the MAAS "
        "FQDN of which remote-hostname is the name or short name"
    )
    assert published(out)["stonith-hostname"] == "null"
    assert published(out)["remote-hostname"] == json.dumps(remote)


@pytest.mark.parametrize("remote", ["node7.maas", "node7"])
def test_stonith_name_whose_listed_names_include_the_node_is_published(ctx, node, remote):
    node.resolvable.add("node7.maas")
    config = {"enable-stonith": True, "remote-hostname": remote, "stonith-hostname": "node7.maas"}
    out = ctx.run(ctx.on.config_changed(), state(config=config))
    assert out.unit_status.name == "active"
    hostnames = rr.fenced_names(json.loads(published(out)["stonith-hostname"]))
    assert json.loads(published(out)["remote-hostname"]) in hostnames


def test_hacluster_key_is_written_and_the_service_run(ctx, node):
    out = ctx.run(ctx.on.config_changed(), state())
    assert node.key == KEY
    assert node.running
    assert out.unit_status == ACTIVE


def test_service_restarted_only_when_the_key_changes(ctx, node):
    out = ctx.run(ctx.on.config_changed(), state())
    assert node.restarts == 1
    ctx.run(ctx.on.update_status(), out)
    assert node.restarts == 1
    new_key = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="
    ctx.run(ctx.on.config_changed(), state(relation=hacluster({0: {"pacemaker-key": new_key}})))
    assert node.restarts == 2


def test_waiting_for_the_key_keeps_the_service_stopped(ctx, node):
    node.installed = node.running = True  # the package started it
    out = ctx.run(ctx.on.config_changed(), state(relation=hacluster({0: {}})))
    assert out.unit_status == ops.WaitingStatus("Waiting for the pacemaker authkey from hacluster")
    assert not node.running
    assert "write_key" not in node.calls


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("not base64!", "pacemaker-key from hacluster is not valid base64"),
        ("QUJD", "pacemaker-key from hacluster is 3 bytes; expected 16 to 4096"),
    ],
)
def test_invalid_key_blocks_naming_relation_unit_and_field(ctx, node, key, message):
    out = ctx.run(ctx.on.config_changed(), state(relation=hacluster({0: {"pacemaker-key": key}})))
    assert out.unit_status == ops.BlockedStatus(
        f"pacemaker-remote relation, masakari-hacluster/0: {message}"
    )
    assert node.key is None and not node.running


def test_disagreeing_hacluster_units_block_naming_them(ctx, node):
    other = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="
    relation = hacluster({0: {"pacemaker-key": KEY_B64}, 1: {"pacemaker-key": other}})
    out = ctx.run(ctx.on.config_changed(), state(relation=relation))
    assert out.unit_status == ops.BlockedStatus(
        "hacluster units send different pacemaker-key values "
        "(masakari-hacluster/0, masakari-hacluster/1); "
        "set hacluster's pacemaker_key option so that they agree"
    )
    assert node.key is None


def test_what_the_node_says_is_wrong_with_the_service_blocks(ctx, node):
    node.serve_problem = "pacemaker_remote runs but does not listen on 3121"
    out = ctx.run(ctx.on.config_changed(), state())
    assert out.unit_status == ops.BlockedStatus(node.serve_problem)


def test_stonith_without_a_resolvable_maas_name_blocks_and_publishes_null(ctx, node):
    node.resolvable.clear()
    out = ctx.run(ctx.on.config_changed(), state(config={"enable-stonith": True}))
    assert out.unit_status == ops.BlockedStatus(
        "enable-stonith: 'compute-1.maas' is not a name MAAS resolves; "
        "set stonith-hostname to the machine's MAAS FQDN"
    )
    assert published(out)["stonith-hostname"] == "null"
    assert "write_key" not in node.calls


def test_stonith_with_a_short_name_blocks(ctx, node):
    node.resolvable.add("compute1")
    config = {"enable-stonith": True, "stonith-hostname": "compute1"}
    out = ctx.run(ctx.on.config_changed(), state(config=config))
    assert out.unit_status.name == "blocked"
    assert "'compute1' is not a name MAAS resolves" in out.unit_status.message


@pytest.mark.parametrize("option", ["remote-hostname", "stonith-hostname"])
def test_invalid_names_block_naming_the_option_and_change_nothing(ctx, node, option):
    config = {option: "bad name!", "enable-stonith": True}
    out = ctx.run(ctx.on.config_changed(), state(config=config))
    assert out.unit_status == ops.BlockedStatus(f"{option} 'bad name!' is not a valid host name")
    assert node.calls == []


def test_stonith_hostname_counts_only_with_enable_stonith(ctx, node):
    out = ctx.run(ctx.on.config_changed(), state(config={"stonith-hostname": "bad name!"}))
    assert out.unit_status == ACTIVE
    assert published(out)["stonith-hostname"] == "null"


def test_relation_broken_forgets_the_cluster(ctx, node):
    out = ctx.run(ctx.on.config_changed(), state())
    assert node.key == KEY
    relation = next(r for r in out.relations if r.endpoint == "pacemaker-remote")
    out = ctx.run(ctx.on.relation_broken(relation), out)
    assert node.key is None and not node.running
    assert out.unit_status.name == "blocked"


def test_relation_broken_forgets_the_cluster_even_when_an_option_is_invalid(ctx, node):
    out = ctx.run(ctx.on.config_changed(), state())
    bad = dataclasses.replace(out, config={"remote-hostname": "bad name!"})
    relation = next(r for r in bad.relations if r.endpoint == "pacemaker-remote")
    node.calls.clear()
    gone = ctx.run(ctx.on.relation_broken(relation), bad)
    assert gone.unit_status.name == "blocked"
    assert node.calls == ["forget_cluster"]
    assert node.key is None and not node.running


def test_install_failure_blocks(ctx, node):
    node.install_error = APT_FAILURE
    out = ctx.run(ctx.on.install(), state())
    assert out.unit_status == APT_FAILURE_STATUS
    assert node.calls == ["install"]


def test_paused_unit_writes_the_key_but_does_not_run_the_service(ctx, node):
    out = ctx.run(ctx.on.config_changed(), state())
    out = ctx.run(ctx.on.action("pause"), out)
    node.calls.clear()
    new_key = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="
    relation = hacluster({0: {"pacemaker-key": new_key}})
    out = ctx.run(
        ctx.on.config_changed(),
        dataclasses.replace(out, relations=state(relation=relation).relations),
    )
    assert "write_key" in node.calls and "run" not in node.calls
    assert out.unit_status == ops.MaintenanceStatus(actions.PAUSED_MESSAGE)


def test_no_address_on_the_binding_waits_and_publishes_nothing(ctx, node):
    base = state()
    network = testing.Network("pacemaker-remote", bind_addresses=[], ingress_addresses=[])
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(base, networks=[network]))
    assert out.unit_status == ops.WaitingStatus(
        "pacemaker-remote relation: no IP address on this unit's pacemaker-remote binding yet"
    )
    assert "remote-hostname" not in published(out)
    assert "write_key" not in node.calls
