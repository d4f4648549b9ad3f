"""The registration reconciler's decisions, against an in-memory Masakari API."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse

import pytest
from fake_masakari_api import KEYSTONE, FakeMasakari
from masakari_api import ApiError, Credentials, MasakariApi
from openstack_charm_lib.relations.masakari_host import Hypervisor
from registration import Managed, Settings, reconcile

AUTO = Settings("auto", "COMPUTE")
AUTO_FIELDS = {"recovery_method": "auto", "service_type": "COMPUTE"}


def client(fake: FakeMasakari, page_size: int = 1000) -> MasakariApi:
    creds = Credentials(
        keystone_url=KEYSTONE,
        username="masakari",
        password="ks-secret-pw",
        user_domain="service_domain",
        project="services",
        project_domain="service_domain",
        region="RegionOne",
        interface="public",
    )
    return MasakariApi(creds, page_size=page_size, transport=fake)


def wanted(*hosts: tuple[str, str, bool]) -> dict[str, Hypervisor]:
    return {name: Hypervisor(name, segment, reserved) for name, segment, reserved in hosts}


RACK = wanted(
    ("compute-1", "rack-a", False), ("compute-2", "rack-a", False), ("spare-1", "rack-a", True)
)


def test_first_pass_creates_segments_and_hosts_and_records_them():
    fake = FakeMasakari()
    report = reconcile(client(fake), RACK, Managed(), AUTO)
    members = fake.members("rack-a")
    assert set(members) == {"compute-1", "compute-2", "spare-1"}
    assert members["spare-1"]["reserved"] is True
    assert members["compute-1"]["reserved"] is False
    assert members["compute-1"]["type"] == "COMPUTE"
    assert fake.segment_named("rack-a")["recovery_method"] == "auto"
    assert report.managed == Managed(
        {"rack-a": AUTO_FIELDS},
        dict.fromkeys(RACK, "rack-a"),
        reserved={"compute-1": False, "compute-2": False, "spare-1": True},
        uuids={name: host["uuid"] for name, host in members.items()},
    )
    assert fake.services["spare-1"]["status"] == "disabled"
    assert fake.services["spare-1"]["disabled_reason"] == (
        "masakari: reserved host, kept free for evacuations"
    )
    assert "compute-1" not in fake.services  # nova is only asked about spares
    assert (report.hosts, report.segments) == (3, 1)
    assert not report.blocked and not report.retry
    assert "created segment rack-a (auto)" in report.done


def test_a_pass_with_nothing_to_do_lists_once_per_segment_and_writes_nothing():
    fake = FakeMasakari()
    hosts = {**RACK, **wanted(("compute-9", "rack-b", False))}
    managed = reconcile(client(fake), hosts, Managed(), AUTO).managed
    fake.calls.clear()
    api = client(fake)
    report = reconcile(api, hosts, managed, AUTO)
    assert report.managed == managed and not report.done
    assert fake.writes() == []
    assert dict(api.calls) == {
        "token": 1,
        "GET versions": 1,
        "GET /segments": 1,
        "GET /segments/{id}/hosts": 2,
    }
    assert api.writes == 0


def test_lists_follow_markers_when_a_page_is_full():
    fake = FakeMasakari(max_limit=3)
    hosts = wanted(*((f"compute-{i}", "big", False) for i in range(7)))
    managed = reconcile(client(fake, page_size=3), hosts, Managed(), AUTO).managed
    assert len(fake.members("big")) == 7
    api = client(fake, page_size=3)
    report = reconcile(api, hosts, managed, AUTO)
    assert not report.done and api.writes == 0
    assert api.calls["GET /segments/{id}/hosts"] == 3  # 3 + 3 + 1


def test_reserved_flag_follows_the_unit():
    fake = FakeMasakari()
    managed = reconcile(client(fake), RACK, Managed(), AUTO).managed
    flipped = {**RACK, "spare-1": Hypervisor("spare-1", "rack-a", False)}
    report = reconcile(client(fake), flipped, managed, AUTO)
    assert fake.members("rack-a")["spare-1"]["reserved"] is False
    assert report.done == ["set reserved=false on spare-1", "enabled nova-compute on spare-1"]
    assert fake.services["spare-1"]["status"] == "enabled"


def test_departed_units_hosts_are_removed_and_an_empty_own_segment_deleted():
    fake = FakeMasakari()
    managed = reconcile(client(fake), RACK, Managed(), AUTO).managed
    remaining = {"compute-1": RACK["compute-1"]}
    report = reconcile(client(fake), remaining, managed, AUTO)
    assert set(fake.members("rack-a")) == {"compute-1"}
    assert report.managed.hosts == {"compute-1": "rack-a"}
    report = reconcile(client(fake), {}, report.managed, AUTO)
    assert fake.segment_named("rack-a") is None
    assert report.managed == Managed()
    assert report.done == ["removed compute-1 from rack-a", "deleted empty segment rack-a"]


def test_a_departed_host_on_maintenance_stays_until_it_is_off_maintenance():
    fake = FakeMasakari()
    managed = reconcile(client(fake), RACK, Managed(), AUTO).managed
    fake.members("rack-a")["compute-2"]["on_maintenance"] = True
    gone = {k: v for k, v in RACK.items() if k != "compute-2"}
    report = reconcile(client(fake), gone, managed, AUTO)
    assert "compute-2" in fake.members("rack-a")
    assert report.managed.hosts["compute-2"] == "rack-a"
    assert report.retry == [
        "not removing compute-2 from rack-a: it is on maintenance "
        "(set-host-maintenance off, or remove-host, when done)"
    ]
    fake.members("rack-a")["compute-2"]["on_maintenance"] = False
    report = reconcile(client(fake), gone, report.managed, AUTO)
    assert "compute-2" not in fake.members("rack-a") and not report.retry


@pytest.mark.parametrize("status", ["new", "running", "error"])
def test_a_departed_host_with_an_unfinished_notification_stays(status):
    fake = FakeMasakari()
    managed = reconcile(client(fake), RACK, Managed(), AUTO).managed
    notification = fake.add_notification(fake.members("rack-a")["compute-2"], status)
    gone = {k: v for k, v in RACK.items() if k != "compute-2"}
    report = reconcile(client(fake), gone, managed, AUTO)
    assert "compute-2" in fake.members("rack-a")
    assert report.retry == [
        f"not removing compute-2 from rack-a: notification "
        f"{notification['notification_uuid']} is {status}"
    ]


def test_a_finished_notification_does_not_keep_a_departed_host():
    fake = FakeMasakari()
    managed = reconcile(client(fake), RACK, Managed(), AUTO).managed
    fake.add_notification(fake.members("rack-a")["compute-2"], "finished")
    gone = {k: v for k, v in RACK.items() if k != "compute-2"}
    reconcile(client(fake), gone, managed, AUTO)
    assert "compute-2" not in fake.members("rack-a")


HAND_MADE = "host compute-1 in segment rack-a registered by hand, left alone"


def test_an_operators_segment_and_hosts_are_used_but_never_changed_or_removed():
    fake = FakeMasakari()
    theirs = fake.add_segment("rack-a", method="rh_priority")
    by_hand = fake.add_host(theirs, "compute-1")
    fake.add_host(theirs, "manual-7")
    other = fake.add_segment("lab")
    report = reconcile(client(fake), RACK, Managed(), AUTO)
    assert theirs["recovery_method"] == "rh_priority"
    assert report.managed.segments == {}
    assert set(report.managed.hosts) == {"compute-2", "spare-1"}  # the two it added
    assert report.drift == [HAND_MADE]
    assert report.hosts == 3  # compute-1 is registered where its unit asks, by hand
    report = reconcile(client(fake), {}, report.managed, AUTO)
    assert set(fake.members("rack-a")) == {"compute-1", "manual-7"}
    assert fake.members("rack-a")["compute-1"] is by_hand
    assert fake.segment_named("rack-a") is theirs and other["uuid"] in fake.segments
    assert report.done == ["removed compute-2 from rack-a", "removed spare-1 from rack-a"]


def test_a_hand_made_host_is_never_updated_whatever_its_unit_asks():
    fake = FakeMasakari()
    segment = fake.add_segment("rack-a")
    fake.add_host(segment, "compute-1", reserved=True)
    managed = reconcile(client(fake), RACK, Managed(), AUTO).managed
    asks = [RACK, {**RACK, "compute-1": Hypervisor("compute-1", "rack-a", True)}, RACK]
    for hosts in asks:
        fake.calls.clear()
        report = reconcile(client(fake), hosts, managed, AUTO)
        managed = report.managed
        assert fake.writes() == [] and not report.done
        assert fake.members("rack-a")["compute-1"]["reserved"] is True
        assert "compute-1" not in managed.hosts and "compute-1" not in managed.reserved
    assert report.drift == [f"{HAND_MADE} (its unit asks for reserved=false)"]
    assert "compute-1" not in fake.services  # nor its nova-compute service


def test_a_hand_made_host_in_the_charms_segment_stays_when_its_unit_departs():
    fake = FakeMasakari()
    managed = registered(fake, {k: v for k, v in RACK.items() if k != "compute-1"})
    fake.add_host(fake.segment_named("rack-a"), "compute-1")  # add-host, by hand
    report = reconcile(client(fake), RACK, managed, AUTO)
    assert report.drift == [HAND_MADE] and fake.writes() == []
    report = reconcile(client(fake), {}, report.managed, AUTO)
    assert set(fake.members("rack-a")) == {"compute-1"}
    assert set(report.managed.segments) == {"rack-a"}  # kept for the operator's host
    assert not report.managed.hosts


def test_a_hand_made_host_the_operator_removes_is_added_and_becomes_the_charms():
    fake = FakeMasakari()
    by_hand = fake.add_host(fake.add_segment("rack-a"), "compute-1", reserved=True)
    managed = reconcile(client(fake), RACK, Managed(), AUTO).managed
    del fake.hosts[by_hand["uuid"]]
    report = reconcile(client(fake), RACK, managed, AUTO)
    added = fake.members("rack-a")["compute-1"]
    assert report.done == ["added compute-1 to rack-a"] and not report.drift
    assert added["reserved"] is False
    assert report.managed.uuids["compute-1"] == added["uuid"]
    report = reconcile(client(fake), {}, report.managed, AUTO)
    assert "removed compute-1 from rack-a" in report.done
    assert set(fake.members("rack-a")) == set()


def test_a_host_registered_again_by_hand_under_the_charms_name_is_not_taken_back():
    fake = FakeMasakari()
    managed = registered(fake)
    # Between two hooks an operator deletes the charm's compute-1 and registers it again.
    del fake.hosts[fake.members("rack-a")["compute-1"]["uuid"]]
    again = fake.add_host(fake.segment_named("rack-a"), "compute-1")
    report = reconcile(client(fake), RACK, managed, AUTO)
    assert report.drift == [HAND_MADE] and fake.writes() == []
    assert "compute-1" not in report.managed.hosts
    report = reconcile(client(fake), {}, report.managed, AUTO)
    assert fake.members("rack-a") == {"compute-1": again}
    # ... and one that goes between a unit's departure and the next hook is not removed.
    fake = FakeMasakari()
    managed = registered(fake)
    del fake.hosts[fake.members("rack-a")["compute-2"]["uuid"]]
    fake.add_host(fake.segment_named("rack-a"), "compute-2")
    gone = {k: v for k, v in RACK.items() if k != "compute-2"}
    report = reconcile(client(fake), gone, managed, AUTO)
    assert "compute-2" in fake.members("rack-a") and "compute-2" not in report.managed.hosts


def test_a_host_the_charm_added_stays_its_own_after_an_operators_edit():
    fake = FakeMasakari()
    managed = registered(fake)
    fake.members("rack-a")["compute-1"].update(reserved=True, control_attributes="IPMI")
    report = reconcile(client(fake), RACK, managed, AUTO)
    assert not report.drift and report.managed.hosts["compute-1"] == "rack-a"
    report = reconcile(client(fake), {}, report.managed, AUTO)
    assert "removed compute-1 from rack-a" in report.done


def test_an_own_segment_an_operator_added_hosts_to_is_kept():
    fake = FakeMasakari()
    managed = reconcile(client(fake), RACK, Managed(), AUTO).managed
    fake.add_host(fake.segment_named("rack-a"), "manual-7")
    report = reconcile(client(fake), {}, managed, AUTO)
    assert set(fake.members("rack-a")) == {"manual-7"}
    assert set(report.managed.segments) == {"rack-a"}


def test_a_host_registered_by_hand_elsewhere_blocks_with_what_to_do():
    fake = FakeMasakari()
    fake.add_host(fake.add_segment("lab"), "compute-2")
    report = reconcile(client(fake), RACK, Managed(), AUTO)
    assert report.blocked == [
        "host compute-2 is registered in segment lab by hand (its unit asks for rack-a): "
        "remove it there, or set its masakari-monitors segment-name to lab"
    ]
    assert set(fake.members("rack-a")) == {"compute-1", "spare-1"}
    assert "compute-2" not in report.managed.hosts


def test_a_host_nova_does_not_know_yet_is_retried_until_it_does():
    fake = FakeMasakari()
    fake.compute_hosts = {"compute-1", "spare-1"}
    report = reconcile(client(fake), RACK, Managed(), AUTO)
    assert len(report.retry) == 1 and report.retry[0].startswith("adding compute-2: ")
    assert "could not be found" in report.retry[0]
    fake.compute_hosts.add("compute-2")
    report = reconcile(client(fake), RACK, report.managed, AUTO)
    assert not report.retry and "compute-2" in fake.members("rack-a")


def test_recovery_method_changes_reach_own_segments_once_no_recovery_runs():
    fake = FakeMasakari()
    managed = reconcile(client(fake), RACK, Managed(), AUTO).managed
    segment = fake.segment_named("rack-a")
    fake.recovering.add(segment["uuid"])
    rh = Settings("rh_priority", "COMPUTE")
    report = reconcile(client(fake), RACK, managed, rh)
    assert segment["recovery_method"] == "auto"
    assert report.retry[0].startswith("updating segment rack-a: PUT /segments/")
    fake.recovering.clear()
    report = reconcile(client(fake), RACK, managed, rh)
    assert segment["recovery_method"] == "rh_priority"
    assert report.done == ["updated segment rack-a: recovery_method"]


def test_a_host_moves_when_its_unit_changes_segment():
    fake = FakeMasakari()
    managed = reconcile(client(fake), wanted(("compute-1", "rack-a", False)), Managed(), AUTO)
    moved = wanted(("compute-1", "rack-b", False))
    report = reconcile(client(fake), moved, managed.managed, AUTO)
    assert set(fake.members("rack-b")) == {"compute-1"}
    assert fake.segment_named("rack-a") is None
    assert report.managed == Managed(
        {"rack-b": AUTO_FIELDS},
        {"compute-1": "rack-b"},
        reserved={"compute-1": False},
        uuids={"compute-1": fake.members("rack-b")["compute-1"]["uuid"]},
    )


def test_a_move_waits_while_the_old_segment_recovers():
    fake = FakeMasakari()
    first = reconcile(client(fake), wanted(("compute-1", "rack-a", False)), Managed(), AUTO)
    fake.recovering.add(fake.segment_named("rack-a")["uuid"])
    moved = wanted(("compute-1", "rack-b", False))
    report = reconcile(client(fake), moved, first.managed, AUTO)
    assert "compute-1" in fake.members("rack-a") and not fake.members("rack-b")
    assert report.retry[0].startswith("removing compute-1 from rack-a: DELETE")
    assert not report.blocked  # no 409 from adding it twice


def test_unlistable_segments_raise_and_change_nothing():
    fake = FakeMasakari()
    fake.fail["GET /v1/c0ffee/segments"] = 503
    with pytest.raises(ApiError, match="HTTP 503: injected failure"):
        reconcile(client(fake), RACK, Managed(), AUTO)
    assert fake.writes() == []


def test_wrong_service_credentials_name_keystone():
    fake = FakeMasakari(password="another")
    with pytest.raises(ApiError, match="keystone refused the service credentials"):
        reconcile(client(fake), RACK, Managed(), AUTO)


def test_failures_of_single_calls_are_reported_and_the_rest_is_done():
    fake = FakeMasakari()
    fake.fail["POST /v1/c0ffee/segments/.*/hosts"] = 500
    report = reconcile(client(fake), RACK, Managed(), AUTO)
    assert len(report.retry) == 3
    assert set(report.managed.segments) == {"rack-a"} and not report.managed.hosts
    fake.fail.clear()
    fake.fail["POST /v1/c0ffee/segments"] = 500
    report = reconcile(
        client(fake), {**RACK, **wanted(("c-9", "rack-z", False))}, report.managed, AUTO
    )
    assert report.retry == ["creating segment rack-z: POST /segments: HTTP 500: injected failure"]
    assert set(fake.members("rack-a")) == set(RACK)


def test_managed_record_round_trips_and_tolerates_garbage():
    record = Managed(
        {"b": AUTO_FIELDS, "a": {}},
        {"h2": "b", "h1": "a"},
        reserved={"h1": True},
        nova={"h1"},
        elsewhere={"h3": "lab"},
        uuids={"h2": "u2", "h1": "u1"},
    )
    assert record.dumps() == (
        '{"segments":{"a":{},"b":{"recovery_method":"auto","service_type":"COMPUTE"}},'
        '"hosts":{"h1":"a","h2":"b"},"reserved":{"h1":true},"nova":["h1"],'
        '"elsewhere":{"h3":"lab"},"uuids":{"h1":"u1","h2":"u2"}}'
    )
    assert Managed.loads(record.dumps()) == record
    # The record's first form: segment names only.
    old = Managed.loads('{"segments":["a"],"hosts":{"h1":"a"}}')
    assert old == Managed({"a": {}}, {"h1": "a"})
    for garbage in (None, "", "not json", "[1]", '{"hosts": 3}', '{"segments": {"a": 3}}'):
        assert Managed.loads(garbage) == Managed()


def test_new_hosts_are_added_several_at_a_time_and_reported_in_order():
    fake = FakeMasakari()
    in_flight = {"now": 0, "most": 0}
    lock = threading.Lock()

    def slow_adds(method, url, headers, body):
        adding = method == "POST" and url.endswith("/hosts")
        if adding:
            with lock:
                in_flight["now"] += 1
                in_flight["most"] = max(in_flight["most"], in_flight["now"])
            time.sleep(0.02)
        try:
            return fake(method, url, headers, body)
        finally:
            if adding:
                with lock:
                    in_flight["now"] -= 1

    api = client(fake)
    api._transport = slow_adds
    hosts = wanted(*((f"compute-{i:02d}", "rack-a", False) for i in range(24)))
    report = reconcile(api, hosts, Managed(), AUTO)
    assert in_flight["most"] > 1
    assert len(fake.members("rack-a")) == 24
    assert report.done[1:] == [f"added compute-{i:02d} to rack-a" for i in range(24)]
    assert api.calls["POST /segments/{id}/hosts"] == 24


@pytest.mark.parametrize(
    ("call", "body", "message"),
    [
        ("GET /v1/c0ffee/segments", b"<html>bad gateway</html>", "the answer is not JSON"),
        ("GET /v1/c0ffee/segments", b'{"segments": [{"name": "x"}]}', "no list of segments"),
        ("GET /v1/c0ffee/segments", b'["segments"]', "no list of segments"),
        ("POST /v1/c0ffee/segments", b'{"segmnt": {}}', "no valid 'segment'"),
        ("POST /v1/c0ffee/segments", b'{"segment": {"name": "rack-a"}}', "no valid 'segment'"),
        ("POST /v1/c0ffee/segments", b'{"segment": []}', "no valid 'segment'"),
        ("GET /v1/c0ffee/segments", b'{"segments": [{"id": 1, "uuid": 5}]}', "no list"),
        ("GET /v1/c0ffee/segments", b"\xff\xfe", "the answer is not JSON"),
        ("POST /v1/c0ffee/segments/.*/hosts", b'{"host": {"uuid": "u"}}', "no valid 'host'"),
        (
            "POST /v3/auth/tokens",
            b'{"token": {"catalog": [7, {"type": "instance-ha"}]}}',
            "no public",
        ),
    ],
)
def test_malformed_answers_are_api_errors_not_crashes(call, body, message):
    fake = FakeMasakari()

    def garbled(method, url, headers, data):
        status, head, raw = fake(method, url, headers, data)
        if re.fullmatch(call, f"{method} {urllib.parse.urlsplit(url).path}"):
            return status, head, body
        return status, head, raw

    api = client(fake)
    api._transport = garbled
    try:
        report = reconcile(api, RACK, Managed(), AUTO)
    except ApiError as exc:  # keystone or the segment list: the whole pass waits
        assert message in str(exc)
    else:  # a single call: reported, the rest done
        assert any(message in r for r in report.retry), report.retry


def test_an_error_answer_nested_too_deeply_is_named_by_its_status():
    fake = FakeMasakari()

    def deep_errors(method, url, headers, data):
        status, head, raw = fake(method, url, headers, data)
        return (
            (409, head, b"[" * 5000)
            if method == "POST" and "/hosts" in url
            else (status, head, raw)
        )

    api = client(fake)
    api._transport = deep_errors
    report = reconcile(api, {"compute-1": RACK["compute-1"]}, Managed(), AUTO)
    assert report.retry == ["adding compute-1 to rack-a: POST /segments/{id}/hosts: HTTP 409"]


# -- cooperation with masakari-engine and operators ------------------------------------


def registered(fake: FakeMasakari, hosts=RACK) -> Managed:
    managed = reconcile(client(fake), hosts, Managed(), AUTO).managed
    fake.calls.clear()
    return managed


def test_a_spare_masakari_evacuated_to_is_not_made_a_spare_again():
    fake = FakeMasakari()
    managed = registered(fake)
    # masakari-engine's reserved_host recovery: it enables the spare in nova and clears
    # its reserved flag; instances now run there.
    fake.members("rack-a")["spare-1"]["reserved"] = False
    fake.service("spare-1").update(status="enabled", disabled_reason=None)
    for _ in range(3):
        report = reconcile(client(fake), RACK, managed, AUTO)
        managed = report.managed
        assert fake.writes() == [] and not report.done and not report.retry
    assert fake.members("rack-a")["spare-1"]["reserved"] is False
    assert fake.service("spare-1")["status"] == "enabled"
    assert not [c for c in fake.calls if "os-services" in c[1]]  # nova left alone


def test_an_operators_reserved_change_is_kept():
    fake = FakeMasakari()
    managed = registered(fake)
    fake.members("rack-a")["compute-1"]["reserved"] = True
    fake.members("rack-a")["spare-1"]["reserved"] = False
    report = reconcile(client(fake), RACK, managed, AUTO)
    assert fake.writes() == [] and not report.done
    assert fake.members("rack-a")["compute-1"]["reserved"] is True
    assert fake.members("rack-a")["spare-1"]["reserved"] is False


def test_a_units_reserved_change_is_applied_once_with_nova():
    fake = FakeMasakari()
    managed = registered(fake)
    asks = {**RACK, "compute-1": Hypervisor("compute-1", "rack-a", True)}
    report = reconcile(client(fake), asks, managed, AUTO)
    assert report.done == [
        "set reserved=true on compute-1",
        "disabled nova-compute on spare compute-1",
    ]
    assert fake.members("rack-a")["compute-1"]["reserved"] is True
    assert fake.service("compute-1")["status"] == "disabled"
    fake.calls.clear()
    again = reconcile(client(fake), asks, report.managed, AUTO)
    assert fake.writes() == [] and not again.done


def test_a_record_without_reserved_values_adopts_what_masakari_holds():
    fake = FakeMasakari()
    registered(fake)
    fake.members("rack-a")["spare-1"]["reserved"] = False  # used before the charm upgrade
    old = Managed.loads(
        '{"segments":["rack-a"],"hosts":{"compute-1":"rack-a",'
        '"compute-2":"rack-a","spare-1":"rack-a"}}'
    )
    report = reconcile(client(fake), RACK, old, AUTO)
    assert fake.writes() == [] and not report.drift
    assert report.managed.reserved == {"compute-1": False, "compute-2": False, "spare-1": True}
    assert report.managed.segments == {"rack-a": AUTO_FIELDS}
    # The hosts it names are trusted as the charm's, and their UUIDs recorded.
    assert report.managed.uuids == {n: h["uuid"] for n, h in fake.members("rack-a").items()}


def test_a_spare_disabled_by_an_operator_keeps_their_reason():
    fake = FakeMasakari()
    fake.service("spare-1").update(status="disabled", disabled_reason="RMA: bad DIMM")
    reconcile(client(fake), RACK, Managed(), AUTO)
    assert fake.service("spare-1")["disabled_reason"] == "RMA: bad DIMM"
    assert not [c for c in fake.writes() if "os-services" in c[1]]


def test_a_nova_failure_is_retried_until_masakari_uses_the_spare():
    fake = FakeMasakari()
    fake.fail["PUT /v2.1/os-services/.*"] = 503
    report = reconcile(client(fake), RACK, Managed(), AUTO)
    assert report.retry == [
        "nova-compute service of spare-1: PUT /os-services/{id}: HTTP 503: injected failure"
    ]
    assert report.managed.nova == {"spare-1"}
    fake.fail.clear()
    again = reconcile(client(fake), RACK, report.managed, AUTO)
    assert again.done == ["disabled nova-compute on spare spare-1"] and not again.managed.nova
    # Had masakari taken the spare in between, the retry leaves it in service.
    fake = FakeMasakari()
    fake.fail["PUT /v2.1/os-services/.*"] = 503
    pending = reconcile(client(fake), RACK, Managed(), AUTO).managed
    fake.fail.clear()
    fake.members("rack-a")["spare-1"]["reserved"] = False
    report = reconcile(client(fake), RACK, pending, AUTO)
    assert fake.service("spare-1")["status"] == "enabled" and not report.managed.nova


def test_nova_missing_from_the_catalog_is_a_retry_not_a_crash():
    fake = FakeMasakari()
    api = client(fake)
    real = fake._token

    def without_nova(data):
        status, headers, raw = real(data)
        body = json.loads(raw)
        body["token"]["catalog"] = [s for s in body["token"]["catalog"] if s["type"] != "compute"]
        return status, headers, json.dumps(body).encode()

    fake._token = without_nova
    report = reconcile(api, RACK, Managed(), AUTO)
    assert report.retry == [
        "nova-compute service of spare-1: keystone's catalog has no public compute endpoint "
        "in RegionOne"
    ]
    assert set(fake.members("rack-a")) == set(RACK)


def test_an_operators_edit_of_an_own_segment_is_kept_and_reported():
    fake = FakeMasakari()
    managed = registered(fake)
    fake.segment_named("rack-a")["recovery_method"] = "reserved_host"
    report = reconcile(client(fake), RACK, managed, AUTO)
    assert fake.writes() == []
    assert fake.segment_named("rack-a")["recovery_method"] == "reserved_host"
    assert report.drift == [
        "segment rack-a changed by hand, kept: recovery_method reserved_host (the charm's: auto)"
    ]
    # A later change of the option is the operator's newer word: applied.
    report = reconcile(client(fake), RACK, report.managed, Settings("rh_priority", "COMPUTE"))
    assert fake.segment_named("rack-a")["recovery_method"] == "rh_priority"
    assert not report.drift
    assert report.managed.segments["rack-a"]["recovery_method"] == "rh_priority"
    # Undone by hand: no drift, nothing written.
    fake.calls.clear()
    report = reconcile(client(fake), RACK, report.managed, Settings("rh_priority", "COMPUTE"))
    assert fake.writes() == [] and not report.drift


def test_a_host_moved_by_hand_is_written_once_then_only_looked_at():
    fake = FakeMasakari()
    managed = registered(fake)
    lab = fake.add_segment("lab")
    fake.members("rack-a")["compute-2"]["failover_segment_id"] = lab["uuid"]
    message = (
        "host compute-2 is registered in segment lab by hand (its unit asks for rack-a): "
        "remove it there, or set its masakari-monitors segment-name to lab"
    )
    report = reconcile(client(fake), RACK, managed, AUTO)
    assert report.blocked == [message]
    assert report.managed.elsewhere == {"compute-2": "lab"}
    assert "compute-2" not in report.managed.hosts  # the operator's now
    assert len(fake.writes()) == 1  # the one add that found it elsewhere
    for _ in range(3):
        fake.calls.clear()
        report = reconcile(client(fake), RACK, report.managed, AUTO)
        assert report.blocked == [message] and fake.writes() == []
    # Removed from lab by hand: registered where its unit asks again.
    del fake.hosts[fake.members("lab")["compute-2"]["uuid"]]
    report = reconcile(client(fake), RACK, report.managed, AUTO)
    assert "compute-2" in fake.members("rack-a") and not report.blocked
    assert not report.managed.elsewhere
    # Its unit departing forgets it without a call to lab.
    moved = {k: v for k, v in RACK.items() if k != "compute-2"}
    fake.hosts[fake.members("rack-a")["compute-2"]["uuid"]]["failover_segment_id"] = lab["uuid"]
    report = reconcile(client(fake), RACK, report.managed, AUTO)
    report = reconcile(client(fake), moved, report.managed, AUTO)
    assert "compute-2" in fake.members("lab") and not report.managed.elsewhere
