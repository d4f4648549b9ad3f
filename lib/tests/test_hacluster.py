"""The ha bag across hooks: lasting delete markers that never hit a wanted object."""

from __future__ import annotations

import itertools
import json

from openstack_charm_lib import hacluster

A, B, C = "10.5.0.100", "10.5.0.101", "10.5.0.102"
LEGACY = "grp_masakari_vips"


def publish(vips, history=None, **kw):
    settings = hacluster.HaSettings(service="masakari", vips=tuple(vips), **kw)
    return hacluster.build_payload(settings, {}, history or hacluster.HaHistory())


def field(bag, key):
    return json.loads(bag[f"json_{key}"])


def wanted(bag):
    names = set()
    for key in ("resources", "groups", "clones", "colocations"):
        names |= set(field(bag, key))
    return names


def res(vip):
    return hacluster.vip_resource_name("masakari", vip)


def test_a_new_unit_publishes_its_first_vips_in_the_legacy_group():
    bag, _ = publish([A, B])
    assert field(bag, "groups") == {LEGACY: " ".join(sorted([res(A), res(B)]))}
    assert field(bag, "colocations") == {}


def test_a_change_retires_the_group_for_a_colocation_named_after_its_members():
    bag, history = publish([A])
    bag, history = publish([A, B], history)
    members = sorted([res(A), res(B)])
    colocation = hacluster.vip_colocation_name("masakari", members)
    assert field(bag, "groups") == {}
    assert field(bag, "colocations") == {colocation: "inf: " + " ".join(members)}
    assert LEGACY in field(bag, "delete_resources")
    # Coming back to the first set does not bring the retired group back.
    bag, history = publish([A], history)
    assert field(bag, "groups") == {} and field(bag, "colocations") == {}
    assert {LEGACY, colocation, res(B)} <= set(field(bag, "delete_resources"))


def test_markers_outlive_the_hook_that_made_them():
    _, history = publish([A, B])
    bag, history = publish([C], history)
    deletes = set(field(bag, "delete_resources"))
    for _ in range(3):  # update-status, keystone answering, a restart...
        again, history = publish([C], history)
        assert again == bag
    assert {res(A), res(B), LEGACY} <= deletes


def test_history_survives_stored_state_and_replay_is_a_no_op():
    _, history = publish([A])
    bag, history = publish([B], history)
    stored = json.loads(json.dumps(history.dump()))
    again, _ = publish([B], hacluster.HaHistory.load("masakari", stored, bag))
    assert again == bag


def test_an_upgraded_unit_keeps_its_group_and_its_pending_deletions():
    previous = {
        "json_resources": json.dumps({res(A): "ocf:heartbeat:IPaddr2"}),
        "json_groups": json.dumps({LEGACY: res(A)}),
        "json_delete_resources": json.dumps(["res_masakari_ens3_vip", res(C)]),
    }
    history = hacluster.HaHistory.load("masakari", {}, previous)
    bag, history = publish([A], history)
    assert field(bag, "groups") == {LEGACY: res(A)}
    assert {"res_masakari_ens3_vip", res(C)} <= set(field(bag, "delete_resources"))
    bag, _ = publish([A, B], history)
    assert LEGACY in field(bag, "delete_resources")


def test_an_upgraded_group_of_several_vips_becomes_a_colocation_at_once():
    members = " ".join(sorted([res(A), res(B)]))
    previous = {
        "json_resources": json.dumps(dict.fromkeys(members.split(), "ocf:heartbeat:IPaddr2")),
        "json_groups": json.dumps({LEGACY: members}),
    }
    bag, _ = publish([A, B], hacluster.HaHistory.load("masakari", {}, previous))
    assert field(bag, "groups") == {}
    assert list(field(bag, "colocations").values()) == [f"inf: {members}"]
    assert LEGACY in field(bag, "delete_resources")


def test_no_marker_ever_names_or_hides_in_a_wanted_id():
    """Every path through three VIPs: hacluster's substring test never hits what is wanted."""
    sets = [(), (A,), (B,), (A, B), (B, C), (A, B, C)]
    for path in itertools.product(sets, repeat=3):
        history = hacluster.HaHistory()
        for vips in path:
            bag, history = publish(vips, history)
            names = wanted(bag)
            derived = names | {f"loc-{n}-juju-m-0" for n in names}
            for marker in field(bag, "delete_resources"):
                hits = [n for n in derived if marker in n]
                assert not hits, (path, marker, hits)
            # The same set again publishes the same bag.
            again, history = publish(vips, history)
            assert again == bag, path


def test_a_changed_dns_group_is_deleted_once_then_left_alone():
    addresses = {"public": "10.5.0.50", "internal": "10.5.0.50"}
    one = {"public": "m.example.com"}
    two = {"public": "m.example.com", "internal": "m.int.example.com"}
    _, history = publish([], dns_ha=True, hostnames=one, endpoint_addresses=addresses)
    bag, history = publish([], history, dns_ha=True, hostnames=two, endpoint_addresses=addresses)
    assert "grp_masakari_hostnames" in field(bag, "delete_resources")
    bag, history = publish([], history, dns_ha=True, hostnames=two, endpoint_addresses=addresses)
    assert "grp_masakari_hostnames" not in field(bag, "delete_resources")
