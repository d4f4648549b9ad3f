"""pause and resume as a reboot sees them: what is enabled and masked, not only what runs.

Each sequence of actions and hooks ends with :meth:`FakeHost.reboot`, after which only
enabled, unmasked services run, the way systemd brings a machine back.
"""

from __future__ import annotations

import dataclasses

import masakari_workload as wl
import ops
import pytest
from conftest import MASAKARI_PACKAGES, full_state, synced

ENGINE = "masakari-engine"
SERVICES = set(wl.SERVICES)
PAUSED = ops.MaintenanceStatus("Paused. Use 'resume' action to resume normal service.")


@pytest.fixture
def unit(ctx, installed):
    """An active unit whose packages' maintainer scripts (re)start their services."""
    installed.maintainer_starts = {s: [s] for s in ("apache2", "haproxy", "memcached")} | {
        ENGINE: [ENGINE]
    }
    out = ctx.run(ctx.on.config_changed(), full_state(app_data=synced()))
    assert out.unit_status == ops.ActiveStatus("Unit is ready")
    return out


def configured(state, **config):
    return dataclasses.replace(state, config={**state.config, **config})


def assert_paused_for_good(host):
    assert not host.running & SERVICES
    assert not host.enabled & SERVICES
    assert SERVICES <= host.masked
    host.reboot()
    assert not host.running & SERVICES


def assert_back_for_good(host):
    assert SERVICES <= host.running
    assert SERVICES <= host.enabled
    assert not host.masked & SERVICES
    host.reboot()
    assert SERVICES <= host.running


def test_an_active_unit_comes_back_after_a_reboot(installed, unit):
    assert_back_for_good(installed)


def test_pause_keeps_every_service_off_across_a_reboot(ctx, installed, unit):
    out = ctx.run(ctx.on.action("pause"), unit)
    assert out.unit_status == PAUSED
    assert_paused_for_good(installed)


def test_pause_disables_and_masks_a_crashed_service_that_was_enabled(ctx, installed, unit):
    installed.running.discard("apache2")  # crashed; still enabled for the next boot
    ctx.run(ctx.on.action("pause"), unit)
    assert ctx.action_results == {"stopped": "memcached, haproxy, masakari-engine"}
    assert_paused_for_good(installed)


def test_hooks_while_paused_start_nothing_across_a_reboot(ctx, installed, unit):
    out = ctx.run(ctx.on.action("pause"), unit)
    out = ctx.run(ctx.on.config_changed(), configured(out, debug=True))
    out = ctx.run(ctx.on.update_status(), out)
    assert out.unit_status == PAUSED
    assert_paused_for_good(installed)


def test_a_package_upgrade_while_paused_cannot_start_a_service(ctx, installed, unit):
    out = ctx.run(ctx.on.action("pause"), unit)
    installed.available.update(dict.fromkeys(MASAKARI_PACKAGES, "17.0.1-0ubuntu1"))
    installed.available["haproxy"] = "2.8.5-1ubuntu3.1"
    ctx.run(ctx.on.action("package-upgrade"), out)
    assert installed.ran("deb-systemd-invoke", "restart", "haproxy")
    assert_paused_for_good(installed)


def test_resume_after_a_config_change_enables_what_it_restarts(ctx, installed, unit):
    out = ctx.run(ctx.on.action("pause"), unit)
    out = ctx.run(ctx.on.config_changed(), configured(out, debug=True))
    installed.clear()
    out = ctx.run(ctx.on.action("resume"), out)
    assert {"apache2", ENGINE} <= set(installed.restarted())  # with the new config
    assert out.unit_status == ops.ActiveStatus("Unit is ready")
    assert_back_for_good(installed)


def test_resume_after_a_release_upgrade_while_paused_brings_everything_back(ctx, installed, unit):
    out = ctx.run(ctx.on.action("pause"), unit)
    installed.available.update(dict.fromkeys(MASAKARI_PACKAGES, "18.0.0-0ubuntu1~cloud0"))
    out = ctx.run(ctx.on.config_changed(), configured(out, **{"openstack-origin": "dalmatian"}))
    assert installed.installed["masakari-common"] == "18.0.0-0ubuntu1~cloud0"
    assert_paused_for_good(installed)  # the upgrade's maintainer scripts met masks
    out = ctx.run(ctx.on.action("resume"), out)
    assert out.unit_status == ops.ActiveStatus("Unit is ready")  # the leader migrated
    assert_back_for_good(installed)


def test_a_unit_left_running_but_disabled_is_enabled_by_the_next_hook(ctx, installed, unit):
    # What an earlier resume left behind: the services run, a reboot would not start them.
    installed.enabled -= SERVICES
    ctx.run(ctx.on.update_status(), unit)
    assert_back_for_good(installed)


def test_restart_services_names_what_it_did_not_start(ctx, installed, unit):
    installed.running.discard("memcached")
    ctx.run(ctx.on.action("restart-services"), unit)
    assert ctx.action_results == {
        "restarted": "haproxy, apache2, masakari-engine",
        "not-running": "memcached",
    }
    assert "memcached" not in installed.running
