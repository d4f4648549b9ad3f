"""pause and resume of pacemaker_remote as a reboot sees them."""

from __future__ import annotations

import dataclasses

from conftest import state

SERVICE = "pacemaker_remote"


def test_pause_keeps_pacemaker_remote_off_across_a_reboot_and_a_package_upgrade(ctx, installed):
    installed.maintainer_starts = {"pacemaker-remote": [SERVICE]}
    out = ctx.run(ctx.on.config_changed(), state())
    installed.running.discard(SERVICE)  # crashed, still enabled
    out = ctx.run(ctx.on.action("pause"), out)
    assert SERVICE in installed.masked and SERVICE not in installed.enabled
    installed.available["pacemaker-remote"] = "2.1.6-5ubuntu3"
    installed.run(["apt-get", "dist-upgrade", "-y"])  # its maintainer script meets the mask
    installed.reboot()
    assert SERVICE not in installed.running


def test_resume_after_a_config_change_comes_back_after_a_reboot(ctx, installed):
    out = ctx.run(ctx.on.config_changed(), state())
    out = ctx.run(ctx.on.action("pause"), out)
    out = ctx.run(
        ctx.on.config_changed(), dataclasses.replace(out, config={"enable-resources": True})
    )
    out = ctx.run(ctx.on.action("resume"), out)
    assert out.unit_status.name == "active"
    assert SERVICE in installed.enabled and SERVICE not in installed.masked
    installed.reboot()
    assert SERVICE in installed.running
