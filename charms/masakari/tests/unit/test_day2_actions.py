"""Day-2 actions on masakari of today: segment control, the post-mortem, notification filters."""

from __future__ import annotations

from pathlib import Path

import pytest
from ops import testing
from test_registration_charm import run_action, state


def test_disable_segment_keeps_the_reason_where_list_segments_shows_it(ctx, installed, fake):
    ctx.run(ctx.on.config_changed(), state())  # the leader registers rack-a
    fake.segment_named("rack-a")["description"] = "row 4"
    run_action(ctx, "disable-segment", {"segment": "rack-a", "reason": "kernel updates"})
    assert ctx.action_results == {
        "segment": "rack-a is disabled (kernel updates): masakari ignores its hosts' "
        "notifications until enable-segment"
    }
    segment = fake.segment_named("rack-a")
    assert segment["enabled"] is False
    assert segment["description"] == "row 4 [disabled: kernel updates]"
    run_action(ctx, "list-segments")
    first = ctx.action_results["segments"].splitlines()[0]
    assert first.startswith("rack-a: auto, COMPUTE, 3 hosts, ")
    assert ", DISABLED (kernel updates) (" in first


def test_enable_segment_removes_the_reason_and_keeps_the_operators_description(
    ctx, installed, fake
):
    ctx.run(ctx.on.config_changed(), state())
    fake.segment_named("rack-a")["description"] = "row 4"
    run_action(ctx, "disable-segment", {"segment": "rack-a", "reason": "kernel updates"})
    run_action(ctx, "enable-segment", {"segment": "rack-a"})
    assert ctx.action_results == {
        "segment": "rack-a is enabled: masakari recovers its hosts' failures again"
    }
    segment = fake.segment_named("rack-a")
    assert segment["enabled"] is True and segment["description"] == "row 4"


def test_automatic_registration_never_enables_a_segment_an_operator_disabled(ctx, installed, fake):
    out = ctx.run(ctx.on.config_changed(), state())
    run_action(ctx, "disable-segment", {"segment": "rack-a"})
    peers = next(r for r in out.relations if r.endpoint == "cluster")
    ctx.run(ctx.on.update_status(), state(app_data=dict(peers.local_app_data)))
    ctx.run(ctx.on.config_changed(), state(config={"default-recovery-method": "reserved_host"}))
    assert fake.segment_named("rack-a")["enabled"] is False


def test_a_second_disable_writes_nothing(ctx, installed, fake):
    ctx.run(ctx.on.config_changed(), state())
    run_action(ctx, "disable-segment", {"segment": "rack-a", "reason": "kernel"})
    before = len(fake.writes())
    run_action(ctx, "disable-segment", {"segment": "rack-a", "reason": "kernel"})
    assert ctx.action_results == {"segment": "rack-a is already disabled"}
    assert len(fake.writes()) == before


def test_segment_control_on_a_masakari_without_api_1_2_fails_naming_the_release(
    ctx, installed, fake
):
    ctx.run(ctx.on.config_changed(), state())
    fake.max_version = "1.0"
    with pytest.raises(
        testing.ActionFailed, match=r"disable-segment needs masakari API 1\.2"
    ) as e:
        run_action(ctx, "disable-segment", {"segment": "rack-a"})
    assert "(wallaby)" in e.value.message and "offers 1.0" in e.value.message
    assert fake.segment_named("rack-a")["enabled"] is True


def test_a_reason_with_no_room_left_in_the_description_is_refused(ctx, installed, fake):
    ctx.run(ctx.on.config_changed(), state())
    fake.segment_named("rack-a")["description"] = "x" * 250
    with pytest.raises(testing.ActionFailed, match="leaves no room for a reason"):
        run_action(ctx, "disable-segment", {"segment": "rack-a", "reason": "kernel"})
    assert fake.segment_named("rack-a")["enabled"] is True


# -- a failover post-mortem -----------------------------------------------------------------


def recovered(fake):
    """A finished host recovery of compute-1 that moved two instances."""
    segment = fake.segment_named("rack-a")
    host = next(h for h in fake.hosts.values() if h["name"] == "compute-1.maas")
    notification = fake.add_notification(host, "finished")
    notification["generated_time"] = "2026-11-22T05:00:00.000000"
    uuid = notification["notification_uuid"]
    fake.recovery[uuid] = [
        {
            "name": "EvacuateInstancesTask",
            "state": "SUCCESS",
            "progress": 1.0,
            "progress_details": [
                {"timestamp": "2026-11-22 05:00:42", "message": "Evacuating instance: vm-1"},
            ],
        }
    ]
    fake.vmoves[uuid] = [
        {
            "uuid": "m1",
            "instance_uuid": "i-1",
            "instance_name": "vm-1",
            "source_host": "compute-1.maas",
            "dest_host": "spare-0.maas",
            "type": "evacuation",
            "status": "succeeded",
            "message": None,
        },
        {
            "uuid": "m2",
            "instance_uuid": "i-2",
            "instance_name": "vm-2\nforged line",
            "source_host": "compute-1.maas",
            "dest_host": None,
            "type": "evacuation",
            "status": "failed",
            "message": "No valid host was found.",
        },
    ]
    assert segment is not None
    return uuid


def test_show_notification_gives_the_recovery_steps_and_the_vm_moves(ctx, installed, fake):
    ctx.run(ctx.on.config_changed(), state())
    uuid = recovered(fake)
    run_action(ctx, "show-notification", {"notification": uuid})
    results = ctx.action_results
    assert results["notification"] == (
        f"{uuid}: COMPUTE_HOST finished, host compute-1.maas, generated 2026-11-22T05:00:00.000000"
    )
    assert results["recovery"].splitlines() == [
        "EvacuateInstancesTask: SUCCESS",
        "  2026-11-22 05:00:42 Evacuating instance: vm-1",
    ]
    assert results["vmoves"].splitlines() == [
        "vm-1 i-1: compute-1.maas -> spare-0.maas, evacuation succeeded",
        "vm-2 forged line i-2: compute-1.maas -> ?, evacuation failed (No valid host was found.)",
    ]


def test_list_vmoves_on_a_masakari_before_antelope_fails_naming_the_release(ctx, installed, fake):
    ctx.run(ctx.on.config_changed(), state())
    uuid = recovered(fake)
    run_action(ctx, "list-vmoves", {"notification": uuid})
    assert ctx.action_results["count"] == "2"
    fake.max_version = "1.2"  # zed
    with pytest.raises(testing.ActionFailed, match=r"list-vmoves needs masakari API 1\.3") as e:
        run_action(ctx, "list-vmoves", {"notification": uuid})
    assert "2023.1 antelope" in e.value.message
    run_action(ctx, "show-notification", {"notification": uuid})  # the rest still shows
    assert ctx.action_results["vmoves"].startswith("VM moves needs masakari API 1.3")
    assert ctx.action_results["recovery"].startswith("EvacuateInstancesTask: SUCCESS")


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ("not-a-uuid", "is not a UUID"),
        ("00000000-0000-4000-8000-000000000000", "no notification 00000000-"),
    ],
)
def test_show_notification_refuses_what_is_not_a_known_notification(
    ctx, installed, fake, param, message
):
    ctx.run(ctx.on.config_changed(), state())
    with pytest.raises(testing.ActionFailed, match=message):
        run_action(ctx, "show-notification", {"notification": param})


def test_list_notifications_by_segment_and_age_with_masakaris_message(ctx, installed, fake):
    import datetime

    import segment_actions

    ctx.run(ctx.on.config_changed(), state())
    lab = fake.add_segment("lab")
    bench = fake.add_host(lab, "bench-1.maas")
    rack_host = next(h for h in fake.hosts.values() if h["name"] == "compute-1.maas")
    old = fake.add_notification(rack_host, "finished")
    old["generated_time"] = "2026-11-20T05:00:00"
    new = fake.add_notification(rack_host, "failed")
    new["generated_time"] = "2026-11-22T04:30:00"
    new["message"] = "Recovery aborted: the segment HA is disabled"
    other = fake.add_notification(bench, "finished")
    other["generated_time"] = "2026-11-22T04:40:00"
    api = masakari_api_client(fake)
    now = datetime.datetime(2026, 11, 22, 5, 0, tzinfo=datetime.timezone.utc)
    results = segment_actions.list_notifications(
        api, {"segment": "rack-a", "since": "12h"}, now=now
    )
    assert results["count"] == "1"
    assert results["notifications"].endswith(
        f"compute-1.maas  {new['notification_uuid']}  "
        "(Recovery aborted: the segment HA is disabled)"
    )
    everything = segment_actions.list_notifications(api, {"since": "7d"}, now=now)
    assert everything["count"] == "3"


@pytest.mark.parametrize("since", ["12", "1w", "-1h", "1000000d"])
def test_list_notifications_refuses_a_span_it_cannot_read(ctx, installed, fake, since):
    ctx.run(ctx.on.config_changed(), state())
    with pytest.raises(testing.ActionFailed, match="must be a span such as 30m, 12h or 7d"):
        run_action(ctx, "list-notifications", {"since": since})


def masakari_api_client(fake):
    import charm
    import masakari_api

    creds = masakari_api.Credentials(
        "http://10.5.0.11:35357", "masakari", "ks-secret-pw", "d", "services", "d",
        "RegionOne", "public",
    )  # fmt: skip
    return charm.MasakariCharm.api_factory(creds, page_size=1000)  # the fixture's client


def test_every_other_action_of_the_charm_has_its_own_handler():
    import charm
    import segment_actions
    import yaml

    meta = yaml.safe_load((Path(charm.__file__).parent.parent / "charmcraft.yaml").read_text())
    others = set(meta["actions"]) - set(charm.CHARM_ACTIONS)
    assert others == set(segment_actions.HANDLERS)


def test_an_action_without_a_handler_fails_instead_of_listing_notifications(installed, fake):
    """A name the table lacks is refused: it once fell through to list-notifications."""
    import charm
    import yaml

    meta = yaml.safe_load((Path(charm.__file__).parent.parent / "charmcraft.yaml").read_text())
    meta["actions"]["drain-segment"] = {"description": "not written yet"}
    ctx = testing.Context(
        charm.MasakariCharm,
        meta={k: v for k, v in meta.items() if k not in ("actions", "config")},
        actions=meta["actions"],
        config=meta["config"],
    )
    with pytest.raises(testing.ActionFailed) as failed:
        run_action(ctx, "drain-segment")
    assert failed.value.message == (
        "drain-segment is not an action on segments, hosts or notifications"
    )
    assert not [path for _, path in fake.calls if "notifications" in path]
