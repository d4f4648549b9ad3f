"""The leader's check that nova will see a failed host down before masakari evacuates it."""

from __future__ import annotations

import ops
import pytest
from test_registration_charm import MONITORS, state

DELAY_FIX = "(nova refuses evacuations of a service it does not see down)"


def reporting(**facts_by_unit) -> dict[int, dict[str, str]]:
    """MONITORS with extra keys for some units, as ``unit0={...}``."""
    units = {n: dict(bag) for n, bag in MONITORS.items()}
    for key, facts in facts_by_unit.items():
        units[int(key.removeprefix("unit"))].update(facts)
    return units


def test_a_delay_nova_outlasts_blocks_naming_host_numbers_and_fix(ctx, installed, fake):
    units = reporting(unit1={"service-down-time": "60", "detection-time": "20"})
    out = ctx.run(ctx.on.config_changed(), state(units=units, config={"evacuation-delay": 30}))
    assert out.unit_status == ops.BlockedStatus(
        "evacuation-delay 30 + detection 20s on compute-1.maas is shorter than nova's "
        f"service_down_time 60: raise evacuation-delay to at least 40 {DELAY_FIX}"
    )
    assert set(fake.members("rack-a")) == {"compute-0.maas", "compute-1.maas", "spare-0.maas"}


def test_several_short_hosts_name_the_one_needing_the_longest_delay(ctx, installed, fake):
    units = reporting(
        unit0={"service-down-time": "60", "detection-time": "50"},
        unit1={"service-down-time": "120", "detection-time": "10"},
        unit2={"service-down-time": "60"},  # no host monitor there: detection counts as 0
    )
    out = ctx.run(ctx.on.config_changed(), state(units=units, config={"evacuation-delay": 5}))
    assert out.unit_status == ops.BlockedStatus(
        "evacuation-delay 5 + detection 10s on compute-1.maas (+2 more) is shorter than "
        f"nova's service_down_time 120: raise evacuation-delay to at least 110 {DELAY_FIX}"
    )


@pytest.mark.parametrize("delay", [40, 41, 600])
def test_a_delay_that_covers_service_down_time_is_active(ctx, installed, fake, delay):
    units = reporting(unit1={"service-down-time": "60", "detection-time": "20"})
    out = ctx.run(ctx.on.config_changed(), state(units=units, config={"evacuation-delay": delay}))
    assert out.unit_status == ops.ActiveStatus("Unit is ready; hosts registered: 3, segments: 1")


def test_units_without_the_keys_are_not_judged(ctx, installed, fake):
    out = ctx.run(ctx.on.config_changed(), state(config={"evacuation-delay": 0}))
    assert out.unit_status == ops.ActiveStatus("Unit is ready; hosts registered: 3, segments: 1")


def test_hosts_that_resume_guests_on_boot_are_a_warning_in_the_active_status(ctx, installed, fake):
    on = {"resume-guests-state-on-host-boot": "true"}
    units = reporting(unit0=on, unit2=on, unit1={"resume-guests-state-on-host-boot": "false"})
    out = ctx.run(ctx.on.config_changed(), state(units=units))
    assert out.unit_status == ops.ActiveStatus(
        "Unit is ready; hosts registered: 3, segments: 1; warning: "
        "resume_guests_state_on_host_boot is on for compute-0.maas (+1 more): instances "
        "may run twice after a failover; set it false in nova-compute"
    )


def test_a_bad_recovery_fact_blocks_naming_unit_and_key_and_still_registers(ctx, installed, fake):
    units = reporting(unit1={"service-down-time": "soon"})
    out = ctx.run(ctx.on.config_changed(), state(units=units))
    assert out.unit_status == ops.BlockedStatus(
        "host registration: hosts relation: masakari-monitors/1 sent "
        "service-down-time='soon' (whole seconds, 1-86400)"
    )
    assert "compute-1.maas" in fake.members("rack-a")


def test_non_leaders_do_not_judge_recovery(ctx, installed, fake):
    units = reporting(
        unit1={"service-down-time": "600", "resume-guests-state-on-host-boot": "true"}
    )
    out = ctx.run(ctx.on.config_changed(), state(units=units, leader=False))
    assert out.unit_status == ops.ActiveStatus("Unit is ready")
