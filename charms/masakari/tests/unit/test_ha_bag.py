"""The charm keeps its ha history in stored state: markers last across hooks."""

from __future__ import annotations

import dataclasses
import json

from conftest import full_state, ha_relation, synced
from openstack_charm_lib import hacluster

A, B = "10.5.0.100", "10.5.0.101"


def ha_bag(out) -> dict:
    bag = next(r for r in out.relations if r.endpoint == "ha").local_unit_data
    return {k: json.loads(v) for k, v in bag.items() if k.startswith("json_")}


def test_a_vip_change_is_marked_on_every_later_hook(ctx, installed):
    state = full_state(config={"vip": A}, extra=[ha_relation()], app_data=synced())
    out = ctx.run(ctx.on.config_changed(), state)
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(out, config={"vip": f"{A} {B}"}))
    changed = ha_bag(out)
    for _ in range(2):  # update-status, then keystone answering the new URL
        out = ctx.run(ctx.on.update_status(), out)
        assert ha_bag(out) == changed
    assert "grp_masakari_vips" in changed["json_delete_resources"]
    members = sorted(hacluster.vip_resource_name("masakari", v) for v in (A, B))
    assert changed["json_colocations"] == {
        hacluster.vip_colocation_name("masakari", members): "inf: " + " ".join(members)
    }
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(out, config={"vip": B}))
    out = ctx.run(ctx.on.update_status(), out)
    deletes = ha_bag(out)["json_delete_resources"]
    assert hacluster.vip_resource_name("masakari", A) in deletes
    assert hacluster.vip_colocation_name("masakari", members) in deletes
