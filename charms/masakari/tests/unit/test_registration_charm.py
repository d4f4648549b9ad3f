"""Automatic registration and the segment/host actions, through the charm's events."""

from __future__ import annotations

import dataclasses
import json

import charm
import ops
import pytest
from conftest import DB_DATA, KEYSTONE_DATA, db_relation, full_state, keystone_relation, synced
from fake_masakari_api import FakeMasakari
from ops import testing

MONITORS = {
    0: {"hostname": "compute-0.maas", "segment": "rack-a", "reserved": "false"},
    1: {"hostname": "compute-1.maas", "segment": "rack-a", "reserved": "false"},
    2: {"hostname": "spare-0.maas", "segment": "rack-a", "reserved": "true"},
}


def hosts_relation(units=None) -> testing.Relation:
    return testing.Relation(
        "hosts",
        "masakari-host",
        remote_app_name="masakari-monitors",
        remote_units_data=MONITORS if units is None else units,
    )


def state(*, units=None, config=None, leader=True, app_data=None):
    return full_state(
        leader=leader,
        config=config,
        extra=[hosts_relation(units)],
        app_data=synced() | (app_data or {}),
    )


def app(out) -> dict[str, str]:
    """The peer application data a hook left."""
    return dict(next(r for r in out.relations if r.endpoint == "cluster").local_app_data)


def record(out) -> dict:
    return json.loads(app(out).get("registered-hosts", "{}"))


def test_the_leader_registers_every_related_hypervisor(ctx, installed, fake):
    out = ctx.run(ctx.on.config_changed(), state())
    members = fake.members("rack-a")
    assert set(members) == {"compute-0.maas", "compute-1.maas", "spare-0.maas"}
    assert members["spare-0.maas"]["reserved"] is True
    assert record(out) == {
        "segments": {"rack-a": {"recovery_method": "auto", "service_type": "COMPUTE"}},
        "hosts": dict.fromkeys(sorted(members), "rack-a"),
        "reserved": {"compute-0.maas": False, "compute-1.maas": False, "spare-0.maas": True},
        "uuids": {name: host["uuid"] for name, host in members.items()},
    }
    assert fake.services["spare-0.maas"]["status"] == "disabled"
    assert out.unit_status == ops.ActiveStatus("Unit is ready; hosts registered: 3, segments: 1")


def test_a_hook_with_nothing_new_only_lists(ctx, installed, fake):
    out = ctx.run(ctx.on.config_changed(), state())
    fake.calls.clear()
    peers = next(r for r in out.relations if r.endpoint == "cluster")
    again = state(app_data=dict(peers.local_app_data))
    ctx.run(ctx.on.update_status(), again)
    assert fake.writes() == []
    # token, the version document, segments, hosts
    assert [m for m, _ in fake.calls] == ["POST", "GET", "GET", "GET"]


def test_settings_of_created_segments_come_from_config(ctx, installed, fake):
    config = {"default-recovery-method": "reserved_host", "service-type": "COMPUTE-HA"}
    ctx.run(ctx.on.config_changed(), state(config=config))
    segment = fake.segment_named("rack-a")
    assert (segment["recovery_method"], segment["service_type"]) == ("reserved_host", "COMPUTE-HA")
    assert fake.members("rack-a")["compute-0.maas"]["type"] == "COMPUTE-HA"


def test_a_departed_unit_is_unregistered(ctx, installed, fake):
    out = ctx.run(ctx.on.config_changed(), state())
    peers = next(r for r in out.relations if r.endpoint == "cluster")
    remaining = {k: v for k, v in MONITORS.items() if k != 1}
    rel = hosts_relation(remaining)
    after = full_state(extra=[rel], app_data=dict(peers.local_app_data))
    out = ctx.run(ctx.on.relation_departed(rel, remote_unit=1, departing_unit=1), after)
    assert set(fake.members("rack-a")) == {"compute-0.maas", "spare-0.maas"}
    assert "compute-1.maas" not in record(out)["hosts"]


def test_non_leaders_and_the_switched_off_charm_register_nothing(ctx, installed, fake):
    ctx.run(ctx.on.config_changed(), state(leader=False))
    ctx.run(ctx.on.config_changed(), state(config={"auto-register-hosts": False}))
    assert fake.calls == []


def test_without_hypervisors_or_a_record_no_call_is_made(ctx, installed, fake):
    out = ctx.run(ctx.on.config_changed(), state(units={}))
    assert fake.calls == [] and out.unit_status == ops.ActiveStatus("Unit is ready")


def test_an_unreachable_api_waits_and_retries(ctx, installed, fake):
    fake.down = True
    out = ctx.run(ctx.on.config_changed(), state())
    assert out.unit_status == ops.WaitingStatus(
        "host registration: 10.5.0.99:15868 did not answer (Connection refused); "
        "retrying on the next hook"
    )
    assert (
        "registered-hosts"
        not in next(r for r in out.relations if r.endpoint == "cluster").local_app_data
    )
    fake.down = False
    out = ctx.run(ctx.on.update_status(), state())
    assert out.unit_status.name == "active"


def test_partial_failures_are_summarised_in_one_waiting_status(ctx, installed, fake):
    fake.compute_hosts = {"spare-0.maas"}
    out = ctx.run(ctx.on.config_changed(), state())
    assert out.unit_status.name == "waiting"
    message = out.unit_status.message
    assert message.startswith("host registration: adding compute-0.maas: ")
    assert message.endswith("(+1 more, see juju debug-log) (retrying)")
    assert record(out)["hosts"] == {"spare-0.maas": "rack-a"}


def test_bad_relation_data_blocks_naming_the_unit_and_the_rest_is_registered(ctx, installed, fake):
    units = {**MONITORS, 3: {"hostname": "bad host!", "segment": "rack-a", "reserved": "no"}}
    out = ctx.run(ctx.on.config_changed(), state(units=units))
    assert out.unit_status == ops.BlockedStatus(
        "host registration: hosts relation: masakari-monitors/3 sent an invalid hostname "
        "'bad host!'"
    )
    assert len(fake.members("rack-a")) == 3


def test_a_unit_on_a_newer_protocol_blocks_naming_the_charm_to_upgrade(ctx, installed, fake):
    newer = {"protocol-version": "2", "hostname": "compute-9.maas", "segment": "rack-a"}
    out = ctx.run(ctx.on.config_changed(), state(units={**MONITORS, 3: newer}))
    assert out.unit_status == ops.BlockedStatus(
        "host registration: hosts relation: masakari-monitors/3 speaks masakari-host "
        "protocol 2, this masakari charm reads up to 1: upgrade the masakari charm "
        "(juju refresh masakari)"
    )
    assert "compute-9.maas" not in fake.members("rack-a")
    assert len(fake.members("rack-a")) == 3


def test_bad_relation_data_alone_blocks_without_calling_the_api(ctx, installed, fake):
    units = {0: {"hostname": "compute-0.maas", "segment": " ", "reserved": "false"}}
    out = ctx.run(ctx.on.config_changed(), state(units=units))
    assert out.unit_status.name == "blocked"
    assert "masakari-monitors/0 sent an invalid segment name" in out.unit_status.message
    assert fake.calls == []


def test_invalid_registration_options_block(ctx, installed, fake):
    out = ctx.run(ctx.on.config_changed(), state(config={"default-recovery-method": "fast"}))
    assert out.unit_status.name == "blocked"
    assert "default-recovery-method 'fast' must be one of auto, reserved_host" in (
        out.unit_status.message
    )
    assert fake.calls == []


def test_osapi_max_limit_from_config_flags_sets_the_page_size(ctx, installed, fake):
    fake.max_limit = 2
    config = {"config-flags": "osapi_max_limit=2"}
    ctx.run(ctx.on.config_changed(), state(config=config))
    assert len(fake.members("rack-a")) == 3
    fake.calls.clear()
    out = ctx.run(ctx.on.update_status(), state(config=config, app_data=_app(ctx, config)))
    assert out.unit_status.name == "active"
    assert fake.writes() == []


def _app(ctx, config):
    out = ctx.run(ctx.on.update_status(), state(config=config))
    return dict(next(r for r in out.relations if r.endpoint == "cluster").local_app_data)


# -- actions --------------------------------------------------------------------------------


def run_action(ctx, name, params=None, st=None):
    return ctx.run(ctx.on.action(name, params=params or {}), st or state(units={}))


def test_list_segments_marks_reserved_maintenance_and_automatic_hosts(ctx, installed, fake):
    out = ctx.run(ctx.on.config_changed(), state())
    fake.members("rack-a")["compute-1.maas"]["on_maintenance"] = True
    lab = fake.add_segment("lab", method="rh_priority")
    fake.add_host(lab, "bench-1.maas")
    peers = next(r for r in out.relations if r.endpoint == "cluster")
    run_action(ctx, "list-segments", st=state(app_data=dict(peers.local_app_data)))
    results = ctx.action_results
    assert results is not None and results["count"] == "2"
    lines = results["segments"].splitlines()
    assert lines[0] == f"lab: rh_priority, COMPUTE, 1 hosts, by hand ({lab['uuid']})"
    assert lines[1] == "  bench-1.maas"
    assert lines[2].startswith("rack-a: auto, COMPUTE, 3 hosts, auto (")
    assert lines[3:] == [
        "  compute-0.maas [auto]",
        "  compute-1.maas [maintenance, auto]",
        "  spare-0.maas [reserved, auto]",
    ]
    assert "ks-secret-pw" not in json.dumps(results)


def test_create_segment_and_add_host_by_hand(ctx, installed, fake):
    params = {"name": "edge", "recovery-method": "auto_priority", "description": "edge site"}
    run_action(ctx, "create-segment", params)
    segment = fake.segment_named("edge")
    assert segment["recovery_method"] == "auto_priority"
    assert ctx.action_results == {
        "uuid": segment["uuid"],
        "segment": "edge: auto_priority, COMPUTE",
    }
    run_action(ctx, "add-host", {"segment": "edge", "hostname": "edge-1.maas", "reserved": True})
    host = fake.members("edge")["edge-1.maas"]
    assert host["reserved"] is True
    assert ctx.action_results == {
        "uuid": host["uuid"],
        "host": "edge-1.maas is a reserved host of edge",
    }


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("create-segment", {"name": "a\tb"}, "name 'a\\tb' must be printable text"),
        ("add-host", {"segment": "nowhere", "hostname": "h1"}, "no segment named 'nowhere'"),
        ("add-host", {"segment": "s", "hostname": "a b"}, "'a b' is not a valid host name"),
        ("remove-host", {"hostname": "ghost"}, "host ghost is not registered in any segment"),
        (
            "set-host-maintenance",
            {"hostname": "ghost", "state": "off", "segment": "s"},
            "host ghost is not registered in segment s",
        ),
        ("list-notifications", {"hostname": "ghost"}, "host ghost is not registered"),
    ],
)
def test_actions_refuse_with_the_reason(ctx, installed, fake, name, params, message):
    fake.add_segment("s")
    with pytest.raises(testing.ActionFailed) as failed:
        run_action(ctx, name, params)
    assert message in failed.value.message


def test_api_errors_fail_actions_with_masakaris_message(ctx, installed, fake):
    fake.add_segment("edge")
    with pytest.raises(testing.ActionFailed) as failed:
        run_action(ctx, "create-segment", {"name": "edge"})
    assert failed.value.message == (
        "could not create segment edge: POST /segments: HTTP 409: "
        "Failover segment with name edge already exists."
    )
    fake.down = True
    with pytest.raises(testing.ActionFailed) as failed:
        run_action(ctx, "list-segments")
    assert "did not answer" in failed.value.message


def test_actions_need_keystones_credentials(ctx, installed, fake):
    st = full_state(app_data=synced())
    st = dataclasses.replace(
        st, relations=[r for r in st.relations if r.endpoint != "identity-service"]
    )
    with pytest.raises(testing.ActionFailed) as failed:
        run_action(ctx, "list-segments", st=st)
    assert "identity-service" in failed.value.message
    with pytest.raises(testing.ActionFailed) as failed:
        run_action(ctx, "list-segments", st=state(config={"region": "two words"}))
    assert failed.value.message.startswith("Invalid config: region")


def test_remove_host_refuses_what_automatic_registration_keeps(ctx, installed, fake):
    out = ctx.run(ctx.on.config_changed(), state())
    with pytest.raises(testing.ActionFailed) as failed:
        run_action(ctx, "remove-host", {"hostname": "compute-1.maas"}, state(app_data=app(out)))
    assert failed.value.message == (
        "automatic registration keeps compute-1.maas in rack-a: remove its masakari-monitors "
        "unit, or set auto-register-hosts=false first"
    )
    off = state(config={"auto-register-hosts": False})
    run_action(ctx, "remove-host", {"hostname": "compute-1.maas"}, off)
    assert ctx.action_results == {"removed": "compute-1.maas from rack-a"}
    assert "compute-1.maas" not in fake.members("rack-a")


def test_maintenance_on_and_off(ctx, installed, fake):
    host = fake.add_host(fake.add_segment("s"), "compute-5.maas")
    run_action(ctx, "set-host-maintenance", {"hostname": "compute-5.maas", "state": "on"})
    assert host["on_maintenance"] is True
    assert ctx.action_results == {"host": "compute-5.maas is on maintenance"}
    run_action(ctx, "set-host-maintenance", {"hostname": "compute-5.maas", "state": "on"})
    assert ctx.action_results == {"host": "compute-5.maas is already on maintenance"}
    params = {"hostname": "compute-5.maas", "state": "off", "segment": "s"}
    run_action(ctx, "set-host-maintenance", params)
    assert host["on_maintenance"] is False
    assert ctx.action_results == {
        "host": "compute-5.maas is off maintenance: masakari acts on its failures again"
    }
    fake.recovering.add(host["failover_segment_id"])
    params["state"] = "on"
    with pytest.raises(testing.ActionFailed) as failed:
        run_action(ctx, "set-host-maintenance", params)
    assert "in use to process notifications" in failed.value.message


def test_list_notifications_newest_first_with_host_names(ctx, installed, fake):
    segment = fake.add_segment("s")
    one, two = fake.add_host(segment, "compute-1.maas"), fake.add_host(segment, "compute-2.maas")
    first = fake.add_notification(one, "finished")
    second = fake.add_notification(two, "running")
    run_action(ctx, "list-notifications")
    results = ctx.action_results
    assert results is not None and results["count"] == "2"
    lines = results["notifications"].splitlines()
    assert lines[0].split() == [
        second["created_at"],
        "COMPUTE_HOST",
        "running",
        "compute-2.maas",
        second["notification_uuid"],
    ]
    assert lines[1].endswith(first["notification_uuid"])
    run_action(ctx, "list-notifications", {"hostname": "compute-1.maas", "limit": 5})
    assert ctx.action_results["count"] == "1"
    run_action(ctx, "list-notifications", {"status": "failed"})
    assert ctx.action_results == {"count": "0", "notifications": "no notifications"}


def test_list_segments_on_an_empty_deployment(ctx, installed, fake):
    run_action(ctx, "list-segments", st=full_state())
    assert ctx.action_results == {"count": "0", "segments": "no segments"}


def test_bad_relation_data_is_reported_even_when_the_api_is_down(ctx, installed, fake):
    fake.down = True
    units = {**MONITORS, 3: {"hostname": "bad host!", "segment": "rack-a", "reserved": "no"}}
    out = ctx.run(ctx.on.config_changed(), state(units=units))
    assert out.unit_status == ops.BlockedStatus(
        "host registration: hosts relation: masakari-monitors/3 sent an invalid hostname "
        "'bad host!'"
    )


def test_a_by_hand_segment_edit_is_kept_and_named_in_the_status(ctx, installed, fake):
    out = ctx.run(ctx.on.config_changed(), state())
    fake.segment_named("rack-a")["recovery_method"] = "reserved_host"
    fake.calls.clear()
    peers = next(r for r in out.relations if r.endpoint == "cluster")
    out = ctx.run(ctx.on.update_status(), state(app_data=dict(peers.local_app_data)))
    assert fake.writes() == []
    assert out.unit_status == ops.ActiveStatus(
        "Unit is ready; hosts registered: 3, segments: 1; segment rack-a changed by hand, "
        "kept: recovery_method reserved_host (the charm's: auto)"
    )


def test_reserve_host_makes_a_used_spare_a_spare_again(ctx, installed, fake):
    ctx.run(ctx.on.config_changed(), state())
    spare = fake.members("rack-a")["spare-0.maas"]
    spare["reserved"] = False  # masakari evacuated onto it ...
    fake.service("spare-0.maas").update(status="enabled", disabled_reason=None)
    fake.servers["spare-0.maas"] = ["vm-1", "vm-2"]  # ... and its instances run there
    with pytest.raises(testing.ActionFailed) as refused:
        run_action(ctx, "reserve-host", {"hostname": "spare-0.maas"})
    assert refused.value.message == (
        "spare-0.maas still hosts 2 instances (vm-1, vm-2): migrate them away first "
        "(openstack server migrate --live-migration), then run reserve-host again"
    )
    assert fake.service("spare-0.maas")["status"] == "enabled"  # as it was
    assert spare["reserved"] is False
    fake.servers["spare-0.maas"] = []
    run_action(ctx, "reserve-host", {"hostname": "spare-0.maas", "segment": "rack-a"})
    assert ctx.action_results == {
        "host": "spare-0.maas is a reserved host of rack-a: nova-compute disabled "
        "(masakari: reserved host, kept free for evacuations)"
    }
    assert spare["reserved"] is True
    assert fake.service("spare-0.maas")["status"] == "disabled"


def test_reserve_host_failures_are_clean(ctx, installed, fake):
    fake.add_host(fake.add_segment("s"), "compute-5.maas")
    fake.fail["PUT /v2.1/os-services/.*"] = 500
    with pytest.raises(testing.ActionFailed) as failed:
        run_action(ctx, "reserve-host", {"hostname": "compute-5.maas"})
    assert failed.value.message == (
        "could not reserve compute-5.maas: PUT /os-services/{id}: HTTP 500: injected failure"
    )
    assert fake.members("s")["compute-5.maas"]["reserved"] is False
    with pytest.raises(testing.ActionFailed) as failed:
        run_action(ctx, "reserve-host", {"hostname": "ghost.maas"})
    assert failed.value.message == "host ghost.maas is not registered in any segment"


@pytest.mark.parametrize("auth_host", ["[::1", "10.5.0.11:99999"])
def test_a_keystone_host_that_makes_no_url_does_not_crash_the_leader(ctx, installed, auth_host):
    data = {**KEYSTONE_DATA, "auth_host": auth_host}
    st = state()
    st = dataclasses.replace(
        st,
        relations=[
            keystone_relation(data) if r.endpoint == "identity-service" else r
            for r in st.relations
        ],
    )
    out = ctx.run(ctx.on.update_status(), st)
    assert out.unit_status.name in ("waiting", "blocked"), out.unit_status
    assert "ks-secret-pw" not in out.unit_status.message


# -- hosts registered by hand ---------------------------------------------------------------

HAND_MADE_NOTE = (
    "host compute-1.maas in segment rack-a registered by hand, left alone "
    "(its unit asks for reserved=false)"
)


def hand_made(fake: FakeMasakari) -> dict:
    """compute-1.maas registered by hand (a spare) in the segment its unit asks for."""
    return fake.add_host(fake.add_segment("rack-a"), "compute-1.maas", reserved=True)


def test_a_hand_made_host_is_never_updated_and_the_status_names_it(ctx, installed, fake):
    by_hand = dict(hand_made(fake))
    out = ctx.run(ctx.on.config_changed(), state())
    assert out.unit_status == ops.ActiveStatus(
        f"Unit is ready; hosts registered: 3, segments: 1; {HAND_MADE_NOTE}"
    )
    assert fake.members("rack-a")["compute-1.maas"] == by_hand
    assert "compute-1.maas" not in record(out)["hosts"]
    fake.calls.clear()
    out = ctx.run(ctx.on.update_status(), state(app_data=app(out)))
    assert fake.writes() == [] and HAND_MADE_NOTE in out.unit_status.message


def test_a_hand_made_host_is_not_removed_when_its_unit_departs(ctx, installed, fake):
    by_hand = dict(hand_made(fake))
    out = ctx.run(ctx.on.config_changed(), state())
    rel = hosts_relation({0: MONITORS[0]})
    after = full_state(extra=[rel], app_data=app(out))
    for departing in (1, 2):
        out = ctx.run(ctx.on.relation_departed(rel, remote_unit=departing), after)
        after = full_state(extra=[rel], app_data=app(out))
    assert fake.members("rack-a") == {
        "compute-0.maas": fake.members("rack-a")["compute-0.maas"],
        "compute-1.maas": by_hand,
    }  # spare-0.maas, the charm's, was removed
    assert out.unit_status == ops.ActiveStatus("Unit is ready; hosts registered: 1, segments: 1")


def test_a_charm_made_host_is_updated_and_removed_as_its_unit_asks(ctx, installed, fake):
    out = ctx.run(ctx.on.config_changed(), state())
    spare = {**MONITORS, 2: {**MONITORS[2], "reserved": "false"}}
    out = ctx.run(ctx.on.config_changed(), state(units=spare, app_data=app(out)))
    assert fake.members("rack-a")["spare-0.maas"]["reserved"] is False
    assert fake.service("spare-0.maas")["status"] == "enabled"
    rel = hosts_relation({0: MONITORS[0]})
    after = full_state(extra=[rel], app_data=app(out))
    ctx.run(ctx.on.relation_departed(rel, remote_unit=2), after)
    assert set(fake.members("rack-a")) == {"compute-0.maas"}


def test_a_new_leader_keeps_the_record_of_what_the_charm_created(ctx, installed, fake):
    by_hand = dict(hand_made(fake))
    out = ctx.run(ctx.on.config_changed(), state())
    # The old leader loses leadership: its hooks leave the record as it is.
    out = ctx.run(ctx.on.update_status(), state(leader=False, app_data=app(out)))
    kept = app(out)
    assert json.loads(kept["registered-hosts"])["hosts"] == {
        "compute-0.maas": "rack-a",
        "spare-0.maas": "rack-a",
    }
    # masakari/1 is elected and every monitors unit departs.
    other = testing.Context(charm.MasakariCharm, unit_id=1)
    db = db_relation({**DB_DATA, "allowed_units": "masakari/0 masakari/1"})
    st = state(units={}, app_data=kept)
    st = dataclasses.replace(
        st, relations=[db if r.endpoint == "shared-db" else r for r in st.relations]
    )
    out = other.run(other.on.leader_elected(), st)
    assert fake.members("rack-a") == {"compute-1.maas": by_hand}
    assert record(out) == {"segments": {}, "hosts": {}}
    assert out.unit_status == ops.ActiveStatus("Unit is ready")


def test_remove_host_hands_a_hand_made_host_over_to_the_charm(ctx, installed, fake):
    hand_made(fake)
    out = ctx.run(ctx.on.config_changed(), state())
    run_action(ctx, "list-segments", st=state(app_data=app(out)))
    assert "  compute-1.maas [reserved]" in ctx.action_results["segments"].splitlines()
    run_action(ctx, "remove-host", {"hostname": "compute-1.maas"}, state(app_data=app(out)))
    assert ctx.action_results == {
        "removed": "compute-1.maas from rack-a",
        "registration": "its masakari-monitors unit asks for compute-1.maas in rack-a: the "
        "leader adds it there on its next hook",
    }
    out = ctx.run(ctx.on.update_status(), state(app_data=app(out)))
    assert out.unit_status == ops.ActiveStatus("Unit is ready; hosts registered: 3, segments: 1")
    assert record(out)["hosts"]["compute-1.maas"] == "rack-a"
    assert fake.members("rack-a")["compute-1.maas"]["reserved"] is False  # as its unit asks
    run_action(ctx, "list-segments", st=state(app_data=app(out)))
    assert "  compute-1.maas [auto]" in ctx.action_results["segments"].splitlines()
