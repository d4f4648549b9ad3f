"""pause, resume, restart-services, openstack-upgrade, package-upgrade and origin changes."""

from __future__ import annotations

import dataclasses

import masakari_workload as wl
import ops
import pytest
from conftest import MASAKARI_PACKAGES, full_state, synced
from masakari_database import EngineStart, MasakariDatabase
from ops import testing

DALMATIAN = "18.0.0-0ubuntu1~cloud0"
ENGINE = "masakari-engine"
DB_SYNC = ["masakari-manage", "--config-file", wl.MASAKARI_CONF, "db", "sync"]


def active(ctx, host, **kw):
    out = ctx.run(ctx.on.config_changed(), full_state(app_data=synced(), **kw))
    assert out.unit_status == ops.ActiveStatus("Unit is ready")
    host.clear()
    return out


def test_pause_stops_everything_and_survives_hooks(ctx, installed):
    out = active(ctx, installed)
    out = ctx.run(ctx.on.action("pause"), out)
    assert ctx.action_results == {"stopped": "memcached, haproxy, apache2, masakari-engine"}
    assert not installed.running & set(wl.SERVICES)
    assert out.unit_status == ops.MaintenanceStatus(
        "Paused. Use 'resume' action to resume normal service."
    )
    out = ctx.run(ctx.on.update_status(), out)
    assert not installed.running & set(wl.SERVICES)
    assert out.unit_status.name == "maintenance"
    out = ctx.run(ctx.on.action("resume"), out)
    assert set(wl.SERVICES) <= installed.running
    assert ctx.action_results["started"] == "memcached, haproxy, apache2, masakari-engine"
    assert out.unit_status == ops.ActiveStatus("Unit is ready")


def test_restart_services_restarts_running_services(ctx, installed):
    out = active(ctx, installed)
    ctx.run(ctx.on.action("restart-services"), out)
    assert installed.restarted() == list(wl.SERVICES)
    assert ctx.action_results == {"restarted": "memcached, haproxy, apache2, masakari-engine"}


def test_restart_services_refused_while_paused(ctx, installed):
    out = active(ctx, installed)
    out = ctx.run(ctx.on.action("pause"), out)
    with pytest.raises(testing.ActionFailed, match="paused"):
        ctx.run(ctx.on.action("restart-services"), out)


def test_origin_change_upgrades_on_config_changed(ctx, installed):
    installed.series = "jammy"
    installed.installed["masakari-common"] = "17.0.0-0ubuntu1~cloud0"
    out = active(ctx, installed, config={"openstack-origin": "cloud:jammy-caracal"})
    installed.available.update({p: DALMATIAN for p in installed.installed if "masakari" in p})
    installed.series = "noble"
    out = ctx.run(
        ctx.on.config_changed(),
        dataclasses.replace(out, config={"openstack-origin": "dalmatian"}),
    )
    assert installed.sources == ["cloud-archive:caracal", "cloud-archive:dalmatian"]
    assert installed.ran("apt-get", "dist-upgrade")
    assert installed.ran("masakari-manage", "--config-file", wl.MASAKARI_CONF, "db", "sync")
    peers = next(r for r in out.relations if r.endpoint == "cluster")
    assert peers.local_app_data["db-synced-release"] == "dalmatian"
    assert out.workload_version == "18.0.0"
    assert out.unit_status == ops.ActiveStatus("Unit is ready")


def with_app_data(state, app_data):
    relations = [
        dataclasses.replace(r, local_app_data=app_data) if r.endpoint == "cluster" else r
        for r in state.relations
    ]
    return dataclasses.replace(state, relations=relations)


def test_upgrade_keeps_the_engine_off_until_the_schema_is_migrated(ctx, installed):
    database = MasakariDatabase(installed, schema="caracal")
    out = active(ctx, installed)
    installed.available.update(dict.fromkeys(MASAKARI_PACKAGES, DALMATIAN))
    out = ctx.run(
        ctx.on.config_changed(), dataclasses.replace(out, config={"openstack-origin": "dalmatian"})
    )
    assert installed.ran("deb-systemd-invoke", "restart", ENGINE)  # the package's restart
    assert database.problems() == []
    assert database.engine_starts[-1] == EngineStart("dalmatian", "dalmatian", backfilled=False)
    assert ENGINE in installed.running and not installed.masked
    assert out.unit_status == ops.ActiveStatus("Unit is ready")


def test_install_never_lets_the_package_start_the_engine_on_an_empty_schema(ctx, host):
    database = MasakariDatabase(host)
    host.available.update(dict.fromkeys(MASAKARI_PACKAGES, "17.0.0-0ubuntu1"))
    host.depends["masakari-api"] = ["masakari-common"]
    out = ctx.run(ctx.on.install(), full_state())
    assert host.ran("deb-systemd-invoke", "restart", ENGINE)
    assert database.engine_starts and database.problems() == []
    assert database.schema == "caracal"
    assert ENGINE in host.running
    assert out.unit_status == ops.ActiveStatus("Unit is ready")


def test_a_unit_upgraded_before_the_leader_migrated_keeps_its_engine_masked(ctx, installed):
    database = MasakariDatabase(installed, schema="caracal")
    out = active(ctx, installed, leader=False)
    started = len(database.engine_starts)
    installed.available.update(dict.fromkeys(MASAKARI_PACKAGES, DALMATIAN))
    out = ctx.run(
        ctx.on.config_changed(), dataclasses.replace(out, config={"openstack-origin": "dalmatian"})
    )
    assert installed.ran("deb-systemd-invoke", "restart", ENGINE)
    assert not installed.ran(*DB_SYNC)
    assert len(database.engine_starts) == started and database.schema == "caracal"
    assert ENGINE not in installed.running and ENGINE in installed.masked
    assert out.unit_status == ops.WaitingStatus(
        "waiting for the leader to migrate the database to dalmatian"
    )
    out = ctx.run(ctx.on.update_status(), out)  # a replay changes nothing
    assert ENGINE in installed.masked
    database.schema = "dalmatian"  # the leader's db sync, on its own unit
    out = ctx.run(ctx.on.update_status(), with_app_data(out, synced("dalmatian")))
    assert ENGINE in installed.running and not installed.masked
    assert database.problems() == []
    assert database.engine_starts[-1] == EngineStart("dalmatian", "dalmatian", backfilled=False)
    assert out.unit_status == ops.ActiveStatus("Unit is ready")


def test_new_masakari_packages_restart_the_processes_that_run_their_code(ctx, installed):
    out = active(ctx, installed)
    installed.available.update(dict.fromkeys(MASAKARI_PACKAGES, "17.0.1-0ubuntu1"))
    ctx.run(ctx.on.action("package-upgrade"), out)
    assert sorted(installed.restarted()) == ["apache2", ENGINE]


def test_action_managed_upgrade_waits_for_the_action(ctx, installed):
    out = active(ctx, installed)
    installed.available.update({p: DALMATIAN for p in installed.installed if "masakari" in p})
    config = {"openstack-origin": "dalmatian", "action-managed-upgrade": True}
    state = dataclasses.replace(out, config=config)
    out = ctx.run(ctx.on.config_changed(), state)
    assert not installed.ran("apt-get", "dist-upgrade")
    assert out.unit_status == ops.ActiveStatus(
        "Unit is ready (run openstack-upgrade for dalmatian)"
    )
    out = ctx.run(ctx.on.action("openstack-upgrade"), out)
    assert ctx.action_results["outcome"] == "upgraded from caracal to dalmatian"
    assert installed.installed["masakari-common"] == DALMATIAN
    assert out.unit_status == ops.ActiveStatus("Unit is ready")
    ctx.run(ctx.on.action("openstack-upgrade"), out)
    assert ctx.action_results["outcome"] == "no upgrade available: dalmatian is installed"


def test_openstack_upgrade_refused_without_action_managed_upgrade(ctx, installed):
    out = active(ctx, installed)
    with pytest.raises(testing.ActionFailed, match="action-managed-upgrade is false"):
        ctx.run(ctx.on.action("openstack-upgrade"), out)


def test_downgrade_is_refused(ctx, installed):
    installed.installed["masakari-common"] = DALMATIAN
    dalmatian = full_state(config={"openstack-origin": "dalmatian"})
    applied = ctx.run(ctx.on.config_changed(), dalmatian)
    state = dataclasses.replace(applied, config={"openstack-origin": "caracal"})
    out = ctx.run(ctx.on.config_changed(), state)
    assert out.unit_status == ops.BlockedStatus(
        "openstack-origin caracal is older than the installed dalmatian: "
        "downgrades are not supported"
    )
    assert not installed.ran("apt-get", "dist-upgrade")


def test_package_upgrade_reports_versions(ctx, installed):
    out = active(ctx, installed)
    installed.available["haproxy"] = "2.8.5-1ubuntu3.1"
    ctx.run(ctx.on.action("package-upgrade"), out)
    assert ctx.action_results == {"upgraded": "haproxy 2.8.5-1ubuntu3 -> 2.8.5-1ubuntu3.1"}
    assert installed.restarted() == []  # haproxy's own package restarts it


def test_package_upgrade_refused_while_a_release_upgrade_is_pending(ctx, installed):
    out = active(ctx, installed)
    config = {"openstack-origin": "dalmatian", "action-managed-upgrade": True}
    state = dataclasses.replace(out, config=config)
    with pytest.raises(testing.ActionFailed, match="release upgrade is pending"):
        ctx.run(ctx.on.action("package-upgrade"), state)


def test_upgrade_failure_blocks(ctx, installed):
    out = active(ctx, installed)
    installed.failing["apt-get dist-upgrade"] = 100
    state = dataclasses.replace(out, config={"openstack-origin": "dalmatian"})
    out = ctx.run(ctx.on.config_changed(), state)
    assert out.unit_status.name == "blocked"
    assert "Package operation failed" in out.unit_status.message


def test_deb_origin_with_key_writes_source_and_keyring(ctx, host):
    key = "-----BEGIN PGP PUBLIC KEY BLOCK-----\nabc\n-----END PGP PUBLIC KEY BLOCK-----"
    origin = f"deb http://mirror.internal/uca noble-updates/dalmatian main|{key}"
    ctx.run(ctx.on.install(), testing.State(config={"openstack-origin": origin}))
    source = host.read_text("/etc/apt/sources.list.d/openstack-origin.list")
    assert (
        "deb [signed-by=/etc/apt/keyrings/openstack-origin.asc] http://mirror.internal/uca"
        in source
    )
    assert "BEGIN PGP PUBLIC KEY BLOCK" in host.read_text("/etc/apt/keyrings/openstack-origin.asc")


def test_deb_origin_with_a_bad_key_blocks(ctx, host):
    ctx.run(
        ctx.on.install(),
        testing.State(config={"openstack-origin": "deb http://m/u noble main|ABCD1234"}),
    )
    out = ctx.run(
        ctx.on.install(),
        testing.State(config={"openstack-origin": "deb http://m/u noble main|ABCD1234"}),
    )
    assert out.unit_status.name == "blocked"
    assert "ASCII-armoured public key" in out.unit_status.message


def test_ppa_and_proposed_origins(ctx, host):
    ctx.run(ctx.on.install(), testing.State(config={"openstack-origin": "ppa:team/masakari"}))
    assert host.sources == ["ppa:team/masakari"]
    host.installed.clear()
    ctx.run(ctx.on.install(), testing.State(config={"openstack-origin": "distro-proposed"}))
    assert host.sources[-1] == "proposed"
    host.installed.clear()
    ctx.run(ctx.on.install(), testing.State(config={"openstack-origin": "dalmatian/proposed"}))
    assert host.sources[-1] == "cloud-archive:dalmatian-proposed"


FLAMINGO = "20.0.0-0ubuntu1~cloud0"


def test_upgrade_to_flamingo_fills_the_segment_of_older_notifications(ctx, installed):
    database = MasakariDatabase(installed, schema="caracal")
    out = active(ctx, installed, config={"openstack-origin": "epoxy"})
    installed.available.update(dict.fromkeys(MASAKARI_PACKAGES, FLAMINGO))
    out = ctx.run(
        ctx.on.config_changed(), dataclasses.replace(out, config={"openstack-origin": "flamingo"})
    )
    backfill = wl.segment_backfill_command()
    assert backfill[:2] == ["python3", "-c"] and backfill[3:] == [
        "--config-file",
        wl.MASAKARI_CONF,
    ]
    compile(backfill[2], "segment-backfill", "exec")  # the packages' Python can run it
    # The backfill fails on a schema without the column, so it ran after the migration.
    assert database.schema == "flamingo" and database.backfilled
    assert database.problems() == []
    assert database.engine_starts[-1] == EngineStart("flamingo", "flamingo", backfilled=True)
    assert out.unit_status == ops.ActiveStatus("Unit is ready")
    installed.clear()
    ctx.run(ctx.on.update_status(), out)
    assert not installed.ran("python3")  # once per release, with the db sync


def test_a_failed_backfill_blocks_and_is_retried(ctx, installed):
    out = active(ctx, installed, config={"openstack-origin": "epoxy"})
    installed.available.update(dict.fromkeys(MASAKARI_PACKAGES, FLAMINGO))
    installed.failing["python3 -c"] = 1
    out = ctx.run(
        ctx.on.config_changed(), dataclasses.replace(out, config={"openstack-origin": "flamingo"})
    )
    assert out.unit_status == ops.BlockedStatus(
        "filling the segment of older notifications failed; see juju debug-log, retrying"
    )
    assert ENGINE not in installed.running
    peers = next(r for r in out.relations if r.endpoint == "cluster")
    assert peers.local_app_data["db-synced-release"] == "caracal"
    del installed.failing["python3 -c"]
    out = ctx.run(ctx.on.update_status(), out)
    assert out.unit_status == ops.ActiveStatus("Unit is ready")
    assert ENGINE in installed.running


@pytest.mark.parametrize(
    ("release", "needed"),
    [("caracal", False), ("epoxy", False), ("flamingo", True), ("hibiscus", True), (None, False)],
)
def test_the_backfill_belongs_to_releases_with_the_column(release, needed):
    assert wl.needs_segment_backfill(release) is needed


def test_package_upgrade_upgrades_only_the_charms_packages_and_their_dependencies(ctx, installed):
    out = active(ctx, installed)
    # A control-plane container shares the machine with other applications' packages.
    installed.installed |= {"python3-oslo.db": "16.0.0-0ubuntu1", "mysql-router": "8.0.39"}
    installed.depends["masakari-api"] = ["masakari-common"]
    installed.depends["masakari-common"] = ["python3-oslo.db", "python3-taskflow"]
    installed.available |= {
        "python3-oslo.db": "16.0.0-0ubuntu1.1",
        "python3-taskflow": "5.6.0-0ubuntu1",
        "mysql-router": "8.0.40",
        "masakari-common": "17.0.1-0ubuntu1",
    }
    ctx.run(ctx.on.action("package-upgrade"), out)
    assert not installed.ran("apt-get", "dist-upgrade")
    assert installed.installed["mysql-router"] == "8.0.39"
    assert ctx.action_results["upgraded"].split("; ") == [
        "masakari-common 17.0.0-0ubuntu1 -> 17.0.1-0ubuntu1",
        "python3-oslo.db 16.0.0-0ubuntu1 -> 16.0.0-0ubuntu1.1",
        "python3-taskflow none -> 5.6.0-0ubuntu1",
    ]
