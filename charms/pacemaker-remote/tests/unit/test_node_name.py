"""What the unit tells masakari-monitors on the same machine (pacemaker-node)."""

from __future__ import annotations

import dataclasses
import json

import ops
from conftest import FQDN, state
from ops import testing


def monitors(local=None) -> testing.SubordinateRelation:
    return testing.SubordinateRelation(
        "pacemaker-node", remote_app_name="masakari-monitors", local_unit_data=local or {}
    )


def node_name(out) -> str | None:
    return next(r for r in out.relations if r.endpoint == "pacemaker-node").local_unit_data.get(
        "node-name"
    )


def with_monitors(base: testing.State, local=None) -> testing.State:
    return dataclasses.replace(base, relations=[*base.relations, monitors(local)])


def test_publishes_the_node_name_it_registers_with_hacluster(ctx, installed):
    out = ctx.run(ctx.on.config_changed(), with_monitors(state()))
    hacluster = next(r for r in out.relations if r.endpoint == "pacemaker-remote")
    assert node_name(out) == FQDN == json.loads(hacluster.local_unit_data["remote-hostname"])
    out = ctx.run(
        ctx.on.config_changed(), with_monitors(state(config={"remote-hostname": "compute-1"}))
    )
    assert node_name(out) == "compute-1"


def test_publishes_the_node_name_when_the_monitors_relate_before_hacluster(ctx, installed):
    base = with_monitors(state(with_relation=False))
    relation = next(r for r in base.relations if r.endpoint == "pacemaker-node")
    out = ctx.run(ctx.on.relation_joined(relation, remote_unit=0), base)
    assert out.unit_status.name == "blocked"  # no hacluster yet, but the name is known
    assert node_name(out) == FQDN


def test_withdraws_the_node_name_while_remote_hostname_is_invalid(ctx, installed):
    bad = with_monitors(state(config={"remote-hostname": "bad name!"}), {"node-name": FQDN})
    out = ctx.run(ctx.on.config_changed(), bad)
    assert out.unit_status == ops.BlockedStatus(
        "remote-hostname 'bad name!' is not a valid host name"
    )
    assert node_name(out) is None
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(out, config={}))
    assert node_name(out) == FQDN
