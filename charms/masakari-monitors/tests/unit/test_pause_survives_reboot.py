"""pause and resume of the monitors as a reboot sees them: enabled and masked states."""

from __future__ import annotations

import dataclasses

import ops
from charm import ALL_MONITORS
from conftest import state

DEFAULT = {"masakari-host-monitor", "masakari-instance-monitor"}


def active(ctx, host):
    host.enabled.add("pacemaker_remote")  # pacemaker-remote's, brought back by its boot
    out = ctx.run(ctx.on.config_changed(), state())
    assert out.unit_status.name == "active"
    return out


def assert_paused_for_good(host):
    assert not host.running & set(ALL_MONITORS)
    # A first install enables its unit even under a mask (deb-systemd-helper), which is
    # why the mask, not the disable, is what holds a boot.
    assert set(ALL_MONITORS) <= host.masked
    host.reboot()
    assert not host.running & set(ALL_MONITORS)


def test_pause_masks_every_monitor_enabled_or_not_across_a_reboot(ctx, ready):
    out = active(ctx, ready)
    ready.running.discard("masakari-instance-monitor")  # crashed, still enabled
    out = ctx.run(ctx.on.action("pause"), out)
    assert ctx.action_results == {"stopped": "masakari-host-monitor"}
    assert not ready.enabled & set(ALL_MONITORS)
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(out, config={"debug": True}))
    assert out.unit_status == ops.MaintenanceStatus(
        "Paused. Use 'resume' action to resume normal service."
    )
    assert_paused_for_good(ready)


def test_resume_after_a_config_change_brings_back_the_enabled_monitors_only(ctx, ready):
    out = active(ctx, ready)
    out = ctx.run(ctx.on.action("pause"), out)
    config = {"debug": True, "enable-instance-monitor": False}
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(out, config=config))
    ready.clear()
    out = ctx.run(ctx.on.action("resume"), out)
    assert ready.restarted() == ["masakari-host-monitor"]  # with debug on
    assert ctx.action_results["started"] == "masakari-host-monitor"
    assert out.unit_status.name == "active"
    assert not ready.masked & set(ALL_MONITORS)
    ready.reboot()
    assert ready.running & set(ALL_MONITORS) == {"masakari-host-monitor"}


def test_a_monitor_the_charm_holds_stopped_is_not_enabled_for_the_next_boot(ctx, ready):
    out = active(ctx, ready)
    ready.running.discard("masakari-host-monitor")  # crashed, still enabled
    out = ctx.run(
        ctx.on.config_changed(),
        dataclasses.replace(
            out, relations=[r for r in out.relations if r.endpoint == "container"]
        ),
    )
    assert out.unit_status.name == "blocked"  # no keystone: the monitors must not run
    ready.reboot()
    assert not ready.running & DEFAULT


def test_a_monitor_enabled_and_installed_while_paused_starts_only_on_resume(ctx, ready):
    introspective = "masakari-introspective-instance-monitor"
    del ready.installed[introspective]
    ready.maintainer_starts = {introspective: [introspective]}
    out = active(ctx, ready)
    out = ctx.run(ctx.on.action("pause"), out)
    config = {"enable-introspective-instance-monitor": True}
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(out, config=config))
    assert introspective in ready.installed  # its maintainer script met the mask
    assert_paused_for_good(ready)
    out = ctx.run(ctx.on.action("resume"), out)
    assert out.unit_status.name == "active"
    ready.reboot()
    assert ready.running & set(ALL_MONITORS) == DEFAULT | {introspective}
