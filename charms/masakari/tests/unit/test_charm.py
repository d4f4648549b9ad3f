"""What the masakari charm decides: what reaches the machine, and the one status.

The machine is :class:`fake_machine.FakeMachine`; what its steps do (files, db sync,
services, sites) is tested with the real Machine in the other files.
"""

from __future__ import annotations

import dataclasses

import ops
import pytest
from conftest import (
    DB_DATA,
    KEYSTONE_DATA,
    certificates_relation,
    full_state,
    ha_relation,
    synced,
)
from fake_machine import FakeMachine
from masakari_machine import Machine
from openstack_charm_lib import actions
from openstack_charm_testing.seams import assert_same_steps

READY = ops.ActiveStatus("Unit is ready")


def test_the_relations_answers_reach_the_machine_and_the_unit_goes_active(ctx, machine):
    out = ctx.run(ctx.on.config_changed(), full_state())
    (answered,) = machine.answered
    database, messaging, keystone = answered.answers
    assert database.password == DB_DATA["password"]
    assert [host for host, _ in messaging.servers] == ["10.5.0.20", "10.5.0.21"]
    assert keystone.password == KEYSTONE_DATA["service_password"]
    assert answered.leader and not answered.paused and answered.tls is None
    assert machine.policy_enabled is False
    assert machine.sites_tls is False
    assert machine.serving_asked == [(False, False)]
    assert out.unit_status == READY


def test_a_non_leader_hands_the_answers_on_as_a_non_leader(ctx, machine):
    ctx.run(ctx.on.config_changed(), full_state(leader=False, app_data=synced()))
    assert not machine.answered[-1].leader


@pytest.mark.parametrize("missing", ["shared-db", "amqp", "identity-service"])
def test_a_missing_relation_stops_the_engine_and_waits_for_it(ctx, machine, missing):
    state = full_state(app_data=synced())
    rels = [r for r in state.relations if r.endpoint != missing]
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(state, relations=rels))
    assert out.unit_status.name in ("blocked", "waiting")
    assert missing in out.unit_status.message
    assert "apply_answers" not in machine.calls
    assert "stop_engine" in machine.calls and not machine.engine_running


def test_what_the_machine_blocks_on_comes_first(ctx, machine):
    machine.blocked = ["masakari-manage db sync failed; see juju debug-log, retrying"]
    machine.waiting = ["waiting for the peer relation"]
    out = ctx.run(ctx.on.config_changed(), full_state())
    assert out.unit_status == ops.BlockedStatus(machine.blocked[0])
    assert "serving_problem" not in machine.calls


def test_what_the_machine_waits_for_is_the_status(ctx, machine):
    machine.waiting = ["waiting for the leader to migrate the database to caracal"]
    out = ctx.run(ctx.on.config_changed(), full_state(leader=False))
    assert out.unit_status == ops.WaitingStatus(machine.waiting[0])


def test_services_that_do_not_serve_block_after_a_restart_is_allowed_for(ctx, machine):
    machine.restarts = ["haproxy"]
    machine.serve_problem = "Ports not listening: 15868"
    out = ctx.run(ctx.on.config_changed(), full_state())
    assert machine.serving_asked == [(True, False)]
    assert out.unit_status == ops.BlockedStatus("Ports not listening: 15868")


def test_an_ha_setup_that_cannot_work_blocks_before_the_services_are_asked(ctx, machine):
    out = ctx.run(ctx.on.config_changed(), full_state(extra=[ha_relation()], app_data=synced()))
    assert out.unit_status == ops.BlockedStatus("ha relation needs vip or dns-ha to be set")
    assert "serving_problem" not in machine.calls


def test_a_paused_unit_hands_the_pause_on_and_says_paused(ctx, machine):
    out = ctx.run(ctx.on.config_changed(), full_state())
    out = ctx.run(ctx.on.action("pause"), out)
    machine.calls.clear()
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(out, config={"debug": True}))
    assert machine.answered[-1].paused and machine.answered[-1].config.debug
    assert not machine.engine_running
    assert out.unit_status == ops.MaintenanceStatus(actions.PAUSED_MESSAGE)
    assert "serving_problem" not in machine.calls


def test_issued_certificates_turn_the_tls_sites_on(ctx, machine):
    certs = certificates_relation(["juju-m-0.maas"], chain="")
    out = ctx.run(ctx.on.config_changed(), full_state(extra=[certs], app_data=synced()))
    assert machine.answered[-1].tls is not None
    assert machine.sites_tls is True
    assert machine.serving_asked == [(False, True)]
    assert out.unit_status == READY


def test_certificates_not_yet_issued_keep_the_workload_waiting(ctx, machine):
    certs = certificates_relation(["other.maas"])
    out = ctx.run(ctx.on.config_changed(), full_state(extra=[certs], app_data=synced()))
    assert out.unit_status == ops.WaitingStatus(
        "certificates: waiting for a certificate for juju-m-0.maas"
    )
    assert machine.sites_tls is False


def test_the_policy_option_reaches_the_machine(ctx, machine):
    config = {"use-policyd-override": True}
    ctx.run(ctx.on.config_changed(), full_state(config=config, app_data=synced()))
    assert machine.policy_enabled is True


def test_invalid_config_blocks_and_asks_the_machine_nothing(ctx, machine):
    out = ctx.run(ctx.on.config_changed(), full_state(config={"vip": "not-an-ip"}))
    assert out.unit_status == ops.BlockedStatus(
        "Invalid config: vip 'not-an-ip' is not an IP address"
    )
    assert machine.calls == []


def test_the_fake_machine_offers_what_machine_offers():
    assert_same_steps(FakeMachine, Machine)
