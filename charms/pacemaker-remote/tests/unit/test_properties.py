"""Adversarial property suite: hostile options, hacluster bags and event orders.

Two layers, both counted in the tally the unit run prints (conftest.py):

* the protocol layer: any ``pacemaker-key`` string is refused or decoded into a key of a
  usable size that re-encodes to what was sent; the bag for any valid name is JSON value
  by value with the types hacluster checks; the names st-maas fences are exactly
  hacluster's list;
* the hook layer runs the charm on arbitrary options, 0-3 hacluster units (agreeing,
  disagreeing, hostile keys), name resolution and event sequences including departures,
  then checks: no exception, an honest status, a published bag hacluster can decode whose
  stonith-hostname (when set) fences this node, a pacemaker-node name that is the valid
  remote-hostname or nothing, an authkey file that is the agreed key
  (root:haclient 0440) or none, no key in status or logs, a replay of the last event
  changes nothing, and relation-broken removes the key.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from pathlib import Path

import charm
import pacemaker_remote as pr
import pytest
import remote_relation as rr
import yaml
from conftest import FQDN, KEY_B64, PACKAGES, remote_network
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from openstack_charm_lib.network import is_hostname, is_ip
from openstack_charm_testing import FakeHost
from openstack_charm_testing import adversarial as adv
from ops import testing

TALLY = adv.tally("pacemaker-remote")
STATUSES = ("active", "blocked", "waiting", "maintenance")
OTHER_KEY_B64 = base64.b64encode(bytes(range(32))).decode()
NAMES = (FQDN, "compute-1", "node7.maas", "node7", "compute-1.example.com")


# -- the protocol layer -------------------------------------------------------------------------
KEYS = st.one_of(
    st.binary(min_size=0, max_size=5000).map(lambda b: base64.b64encode(b).decode()),
    adv.relation_value(KEY_B64, OTHER_KEY_B64),
)


@settings(max_examples=adv.budget(1200), deadline=None)
@given(value=KEYS)
def test_any_pacemaker_key_is_refused_or_decoded_to_a_usable_key(value):
    with TALLY.case():
        try:
            key = rr.decode_key(value)
        except rr.AuthKeyError as exc:
            assert len(value.strip()) < 16 or value.strip() not in str(exc)  # never echo it
            return
        assert rr.MIN_KEY_BYTES <= len(key) <= rr.MAX_KEY_BYTES
        assert base64.b64encode(key).decode() == value.strip()


@settings(max_examples=adv.budget(600), deadline=None)
@given(
    remote=st.one_of(st.sampled_from(NAMES), adv.hostile_text()),
    stonith=st.one_of(st.none(), st.sampled_from(NAMES), adv.hostile_text()),
    ip=st.one_of(st.just("10.5.0.21"), adv.hostile_text()),
    resources=st.booleans(),
)
def test_the_bag_decodes_to_the_types_hacluster_checks(remote, stonith, ip, resources):
    with TALLY.case() as case:
        bag = rr.NodeInfo(remote, ip, stonith, resources).relation_data()
        case.file("pacemaker-remote bag", lambda: check_bag(bag, remote, stonith, ip, resources))
        if stonith is not None:
            listed = rr.fenced_names(stonith)
            # hacluster lists each stonith-hostname and, for a dotted one, its first label.
            assert set(listed) == {stonith, *([stonith.split(".")[0]] if "." in stonith else [])}


def check_bag(bag, remote, stonith, ip, resources) -> None:
    decoded = {k: json.loads(v) for k, v in bag.items()}
    if decoded != {
        "remote-hostname": remote,
        "remote-ip": ip,
        "stonith-hostname": stonith,
        "enable-resources": resources,
    }:
        raise adv.InvalidFileError(f"bag decodes to {decoded!r}")
    if type(decoded["enable-resources"]) is not bool:
        raise adv.InvalidFileError("enable-resources is not a JSON boolean")


# -- the hook layer ----------------------------------------------------------------------------
CONFIG = st.fixed_dictionaries(
    {},
    optional={
        "enable-stonith": st.booleans(),
        "enable-resources": st.booleans(),
        "remote-hostname": st.one_of(st.sampled_from(("", *NAMES)), adv.relation_value(FQDN)),
        "stonith-hostname": st.one_of(st.sampled_from(("", *NAMES)), adv.relation_value(FQDN)),
    },
)
UNIT_BAG = st.one_of(
    st.just({"pacemaker-key": KEY_B64}),
    st.just({"pacemaker-key": OTHER_KEY_B64}),
    st.just({}),
    st.fixed_dictionaries(
        {},
        optional={
            "pacemaker-key": adv.relation_value(KEY_B64),
            "clustered": adv.relation_value("yes"),
            "ingress-address": adv.relation_value("10.5.0.5"),
        },
    ),
)
EVENTS = st.sampled_from(
    [
        "config_changed",
        "update_status",
        "install",
        "upgrade_charm",
        "changed",
        "departed",
        "joined",
    ]
)
STEP = st.fixed_dictionaries(
    {
        "event": EVENTS,
        "config": CONFIG,
        "units": st.dictionaries(st.integers(0, 3), UNIT_BAG, max_size=3),
        "resolvable": st.lists(st.sampled_from(NAMES), max_size=3),
    }
)


def context() -> testing.Context:
    """The Context every case shares."""
    return adv.shared_context(charm.PacemakerRemoteCharm)


def build_state(step, previous: testing.State | None) -> testing.State:
    base = previous or testing.State()
    kept = {r.id: r for r in base.relations}
    local = dict(kept[5].local_unit_data) if 5 in kept else {}
    relation = testing.Relation(
        "pacemaker-remote",
        "pacemaker-remote",
        remote_app_name="masakari-hacluster",
        remote_units_data=step["units"],
        local_unit_data=local,
        id=5,
    )
    container = kept.get(6) or testing.SubordinateRelation(
        "juju-info", remote_app_name="nova-compute", id=6
    )
    node = kept.get(9) or testing.SubordinateRelation(
        "pacemaker-node", remote_app_name="masakari-monitors", id=9
    )
    return testing.State(
        config=step["config"],
        relations=[relation, container, node],
        networks=[remote_network()],
        stored_states=base.stored_states,
    )


def event_for(ctx, step, state):
    relation = state.get_relation(5)
    units = sorted(step["units"])
    if step["event"] == "changed" and units:
        return ctx.on.relation_changed(relation, remote_unit=units[0])
    if step["event"] == "departed":
        return ctx.on.relation_departed(relation, remote_unit=7, departing_unit=7)
    if step["event"] == "joined":
        return ctx.on.relation_joined(state.get_relation(6), remote_unit=0)
    if step["event"] == "changed":  # no unit left to have changed
        return ctx.on.update_status()
    return getattr(ctx.on, step["event"])()


def agreed_key(units) -> bytes | None:
    sent = {bag["pacemaker-key"].strip() for bag in units.values() if bag.get("pacemaker-key")}
    if len(sent) != 1:
        return None
    try:
        return rr.decode_key(sent.pop())
    except rr.AuthKeyError:
        return None


def check_outcome(case, ctx, host, out, step, previous_key: bytes | None) -> None:
    assert out.unit_status.name in STATUSES, out.unit_status
    bag = dict(out.get_relation(5).local_unit_data)
    if "remote-hostname" in bag:
        case.file("pacemaker-remote bag", lambda: check_published(bag))
    check_node_name(out.get_relation(9).local_unit_data, step["config"])
    key = host.read_bytes(pr.AUTHKEY)
    if out.unit_status.name == "active":
        assert key is not None and key == agreed_key(step["units"]), "active on a wrong key"
    # Otherwise the key is the agreed one or, when there is none, stays as it was.
    assert key in (None, previous_key, agreed_key(step["units"])), "an authkey nobody sent"
    if key is not None:
        assert host.owner_of(pr.AUTHKEY) == ("root", "haclient", 0o440)
    keys = {b.get("pacemaker-key", "").strip() for b in step["units"].values()}
    said = [out.unit_status.message, *(line.message for line in ctx.juju_log)]
    # A key that is also part of a non-secret option (generated text can collide) may
    # rightly appear where that option is named.
    public = " ".join(str(v) for v in step["config"].values())
    case.no_leak({k for k in keys if len(k) >= 16 and k not in public}, said)


def check_published(bag) -> None:
    decoded = {k: json.loads(bag[k]) for k in rr.NodeInfo("x", "", None, False).relation_data()}
    remote, stonith = decoded["remote-hostname"], decoded["stonith-hostname"]
    if not (isinstance(remote, str) and is_hostname(remote)):
        raise adv.InvalidFileError(f"remote-hostname {remote!r} is no host name")
    if type(decoded["enable-resources"]) is not bool:
        raise adv.InvalidFileError("enable-resources is not a JSON boolean")
    if not (isinstance(decoded["remote-ip"], str) and is_ip(decoded["remote-ip"])):
        raise adv.InvalidFileError("remote-ip is not an IP address")
    if stonith is not None and remote not in rr.fenced_names(stonith):
        raise adv.InvalidFileError(f"st-maas would list {stonith!r} but not node {remote!r}")


def check_node_name(bag, config) -> None:
    """The monitors see the node name hacluster is given, and nothing while the names are bad."""
    meant = str(config.get("remote-hostname") or "").strip() or FQDN
    stonith = str(config.get("stonith-hostname") or "").strip() or FQDN
    valid = is_hostname(meant) and (not config.get("enable-stonith") or is_hostname(stonith))
    assert bag.get("node-name") == (meant if valid else None), "pacemaker-node bag is wrong"


def make_host(resolvable) -> FakeHost:
    host = FakeHost(
        tempfile.mkdtemp(),
        fqdn=FQDN,
        available=PACKAGES,
        service_ports={"pacemaker_remote": [3121]},
    )
    host.installed.update(PACKAGES)
    host.resolvable = set(resolvable)
    return host


@settings(
    max_examples=adv.budget(250),
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # shrinking a hook run is slow
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(STEP, min_size=1, max_size=3), broken=st.booleans())
def test_any_sequence_of_hostile_input_gives_a_status_and_a_usable_bag(monkeypatch, steps, broken):
    adv.fast_scenario(monkeypatch)
    host = make_host(steps[0]["resolvable"])
    monkeypatch.setattr(charm.PacemakerRemoteCharm, "make_host", lambda self: host)
    with TALLY.case() as case:
        out = None
        for step in steps:
            host.resolvable = set(step["resolvable"])
            ctx = context()
            state = build_state(step, out)
            previous_key = host.read_bytes(pr.AUTHKEY)
            out = ctx.run(event_for(ctx, step, state), state)
            check_outcome(case, ctx, host, out, step, previous_key)
        assert out is not None
        before, host.commands[:] = adv.snapshot(host.root), []
        ctx = context()
        state = build_state(steps[-1], out)
        again = ctx.run(event_for(ctx, steps[-1], state), state)
        case.replay_is_noop(
            [
                *adv.differences(before, adv.snapshot(host.root)),
                *adv.service_changes(host.commands),
            ]
        )
        assert again.unit_status == out.unit_status
        if broken:
            ctx = context()
            gone = ctx.run(ctx.on.relation_broken(again.get_relation(5)), again)
            assert gone.unit_status.name in STATUSES
            assert not host.exists(pr.AUTHKEY) and "pacemaker_remote" not in host.running


@pytest.mark.parametrize("action", ["pause", "resume", "restart-services"])
def test_actions_never_raise_and_never_print_the_key(monkeypatch, action):
    host = make_host([FQDN])
    monkeypatch.setattr(charm.PacemakerRemoteCharm, "make_host", lambda self: host)
    step = {"event": "config_changed", "config": {}, "units": {0: {"pacemaker-key": KEY_B64}}}
    ctx = testing.Context(charm.PacemakerRemoteCharm)
    out = ctx.run(ctx.on.config_changed(), build_state(step, None))
    with TALLY.case() as case:
        _, said = adv.run_action(ctx, action, out)
        case.no_leak([KEY_B64], said)
    assert os.path.exists(host.path(pr.AUTHKEY))


def test_juju_refuses_any_action_parameter_before_the_charm_runs():
    """No action takes parameters, and each says so: Juju rejects a call with any."""
    spec = yaml.safe_load((Path(charm.__file__).parents[1] / "charmcraft.yaml").read_text())
    for name, action in spec["actions"].items():
        assert action.get("additionalProperties") is False, name
        assert not action.get("params"), name
