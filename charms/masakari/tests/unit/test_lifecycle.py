"""Install, readiness of each relation, status messages, db sync and replays."""

from __future__ import annotations

import configparser
import dataclasses
from pathlib import Path

import masakari_workload as wl
import ops
import pytest
import yaml
from conftest import (
    DB_DATA,
    KEYSTONE_DATA,
    amqp_relation,
    db_relation,
    full_state,
    ha_relation,
    keystone_relation,
    networks,
    synced,
)
from ops import testing


def conf(host) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(host.read_text(wl.MASAKARI_CONF))
    return parser


def test_install_adds_origin_installs_packages_and_keeps_engine_stopped(ctx, host):
    host.series = "jammy"
    state = testing.State(networks=networks(), config={"openstack-origin": "caracal"})
    out = ctx.run(ctx.on.install(), state)
    assert host.sources == ["cloud-archive:caracal"]
    install = host.ran("apt-get", "install")[0]
    assert set(wl.PACKAGES) <= set(install)
    assert "masakari-engine" not in host.running
    assert out.unit_status == ops.BlockedStatus(
        "Missing relations: amqp, identity-service and shared-db"
    )
    assert testing.TCPPort(wl.API_PORT) in out.opened_ports


def test_the_relations_named_missing_are_those_charmcraft_yaml_says_it_needs(ctx, host):
    """optional: false in the metadata, and nothing else, makes a relation required."""
    meta = yaml.safe_load((Path(wl.__file__).parent.parent / "charmcraft.yaml").read_text())
    needed = [name for name, e in meta["requires"].items() if e.get("optional") is False]
    assert needed == ["shared-db", "amqp", "identity-service"]
    state = testing.State(networks=networks(), relations=[amqp_relation()])
    out = ctx.run(ctx.on.install(), state)
    # certificates, ha and hosts are absent too: optional, so not named
    assert out.unit_status == ops.BlockedStatus(
        "Missing relations: identity-service and shared-db"
    )


def test_install_on_noble_caracal_uses_the_distro_archive(ctx, host):
    ctx.run(ctx.on.install(), testing.State(networks=networks()))
    assert host.sources == []
    assert host.ran("apt-get", "update", "-q")


@pytest.mark.parametrize("series", ["jammy", "noble", "resolute"])
def test_the_default_origin_installs_the_series_own_release(ctx, host, series):
    """openstack-origin defaults to distro: no Cloud Archive on any supported series."""
    host.series = series
    out = ctx.run(ctx.on.install(), testing.State(networks=networks()))
    assert host.sources == []
    assert set(wl.PACKAGES) <= set(host.ran("apt-get", "install")[0])
    assert out.unit_status == ops.BlockedStatus(
        "Missing relations: amqp, identity-service and shared-db"
    )


def test_resolute_offers_the_release_after_its_own_from_the_cloud_archive(ctx, host):
    host.series = "resolute"
    state = testing.State(networks=networks(), config={"openstack-origin": "hibiscus"})
    ctx.run(ctx.on.install(), state)
    assert host.sources == ["cloud-archive:hibiscus"]


def test_an_unsupported_series_blocks_naming_the_supported_ones(ctx, host):
    host.series = "questing"
    out = ctx.run(ctx.on.install(), testing.State(networks=networks()))
    assert out.unit_status.name == "blocked"
    assert "Ubuntu series 'questing' is not supported" in out.unit_status.message
    assert "resolute (26.04)" in out.unit_status.message
    assert not host.ran("apt-get")


def test_install_failure_blocks_with_reason_and_retries(ctx, host):
    host.failing["apt-get install"] = 100
    out = ctx.run(ctx.on.install(), testing.State(networks=networks()))
    assert out.unit_status.name == "blocked"
    assert "apt-get exited 100" in out.unit_status.message
    host.failing.clear()
    out = ctx.run(ctx.on.update_status(), out)
    assert "masakari-api" in host.installed


@pytest.mark.parametrize(
    ("relation", "reason"),
    [
        (
            db_relation({**DB_DATA, "allowed_units": "masakari/1"}),
            "masakari/0 is not yet in allowed_units",
        ),
        (db_relation({"db_host": "127.0.0.1"}), "shared-db: waiting for database credentials"),
        (
            db_relation({**DB_DATA, "db_port": "x"}),
            "shared-db: masakari-mysql-router/0 sent an invalid db_port (a port number)",
        ),
        (amqp_relation({0: {"hostname": "10.0.0.1"}}), "amqp: waiting for rabbitmq credentials"),
        (keystone_relation({"service_host": "k"}), "identity-service: waiting for keystone"),
    ],
)
def test_incomplete_relation_waits_naming_it(ctx, installed, relation, reason):
    state = full_state(app_data=synced())
    rels = [r for r in state.relations if r.endpoint != relation.endpoint] + [relation]
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(state, relations=rels))
    assert out.unit_status.name == "waiting"
    assert reason in out.unit_status.message
    assert not installed.exists(wl.MASAKARI_CONF)
    assert "masakari-engine" not in installed.running


def test_complete_relations_render_sync_and_go_active(ctx, installed):
    out = ctx.run(ctx.on.config_changed(), full_state())
    assert installed.ran("masakari-manage", "--config-file", wl.MASAKARI_CONF, "db", "sync")
    peers = out.get_relation(next(r.id for r in out.relations if r.endpoint == "cluster"))
    assert peers.local_app_data["db-synced-release"] == "caracal"
    assert set(wl.SERVICES) <= installed.running
    assert out.unit_status == ops.ActiveStatus("Unit is ready")
    assert out.workload_version == "17.0.0"
    parsed = conf(installed)
    assert parsed["database"]["connection"] == (
        "mysql+pymysql://masakari:db-secret%2Fpw@127.0.0.1:3306/masakari?charset=utf8"
    )
    assert parsed["taskflow"]["connection"] == parsed["database"]["connection"]
    assert installed.owner_of(wl.MASAKARI_CONF) == ("root", "masakari", 0o640)
    assert installed.exists("/etc/apache2/sites-enabled/charm-masakari-api.conf")


def test_non_leader_waits_for_the_leaders_db_sync(ctx, installed):
    out = ctx.run(ctx.on.config_changed(), full_state(leader=False))
    assert not installed.ran("masakari-manage")
    assert out.unit_status == ops.WaitingStatus(
        "waiting for the leader to migrate the database to caracal"
    )
    assert "masakari-engine" not in installed.running
    out = ctx.run(ctx.on.config_changed(), full_state(leader=False, app_data=synced()))
    assert out.unit_status == ops.ActiveStatus("Unit is ready")
    assert not installed.ran("masakari-manage")


def test_db_sync_runs_once_per_release(ctx, installed):
    out = ctx.run(ctx.on.config_changed(), full_state())
    installed.clear()
    ctx.run(ctx.on.update_status(), out)
    assert not installed.ran("masakari-manage")


def test_db_sync_failure_blocks_and_keeps_engine_stopped(ctx, installed):
    installed.failing["masakari-manage"] = 1
    out = ctx.run(ctx.on.config_changed(), full_state())
    assert out.unit_status == ops.BlockedStatus(
        "masakari-manage db sync failed; see juju debug-log, retrying"
    )
    assert "masakari-engine" not in installed.running


def test_replaying_an_event_writes_and_restarts_nothing(ctx, installed):
    out = ctx.run(ctx.on.config_changed(), full_state())
    mtimes = {p: p.stat().st_mtime_ns for p in installed.root.rglob("*") if p.is_file()}
    installed.clear()
    out2 = ctx.run(ctx.on.config_changed(), out)
    assert installed.restarted() == []
    assert not [c for c in installed.commands if c[0] not in ("systemctl", "dpkg-query")]
    queries = (["systemctl", "is-active"], ["systemctl", "is-enabled"])
    assert not [c for c in installed.commands if c[:2] not in queries and c[0] == "systemctl"]
    after = {p: p.stat().st_mtime_ns for p in installed.root.rglob("*") if p.is_file()}
    assert after == mtimes
    assert out2.unit_status == out.unit_status


def test_config_change_restarts_only_services_whose_files_changed(ctx, installed):
    out = ctx.run(ctx.on.config_changed(), full_state())
    installed.clear()
    out = ctx.run(ctx.on.config_changed(), _with_config(out, {"haproxy-client-timeout": 1000}))
    assert installed.restarted() == ["haproxy"]
    installed.clear()
    config = {"haproxy-client-timeout": 1000, "debug": True}
    ctx.run(ctx.on.config_changed(), _with_config(out, config))
    assert installed.restarted() == ["apache2", "masakari-engine"]


def _with_config(state, config):
    return testing.State(
        leader=state.leader,
        config=config,
        relations=state.relations,
        networks=state.networks,
        stored_states=state.stored_states,
        opened_ports=state.opened_ports,
    )


def test_a_service_that_fails_to_start_blocks_without_a_hook_error(ctx, installed):
    out = ctx.run(ctx.on.config_changed(), full_state())
    installed.running.discard("masakari-engine")
    installed.failing["systemctl enable"] = 1
    out = ctx.run(ctx.on.update_status(), out)
    assert out.unit_status == ops.BlockedStatus("Failed to start masakari-engine; see its journal")


def test_services_not_running_are_reported(ctx, installed):
    out = ctx.run(ctx.on.config_changed(), full_state())
    # A unit that systemd reports started but that dies at once.
    installed.dies_on_start.add("masakari-engine")
    installed.running.discard("masakari-engine")
    out = ctx.run(ctx.on.update_status(), out)
    assert out.unit_status == ops.BlockedStatus("Services not running: masakari-engine")


def test_ports_not_listening_are_reported(ctx, installed, monkeypatch):
    out = ctx.run(ctx.on.config_changed(), full_state())
    installed.service_ports["memcached"] = set()
    out = ctx.run(ctx.on.update_status(), out)
    assert out.unit_status == ops.BlockedStatus("Ports not listening: 11211")


def test_several_units_without_ha_block(ctx, installed):
    state = full_state(peers={1: {}, 2: {}}, app_data=synced())
    out = ctx.run(ctx.on.config_changed(), state)
    assert out.unit_status == ops.BlockedStatus(
        "3 units without HA: relate to hacluster and set vip (or dns-ha)"
    )


def test_vip_without_ha_relation_blocks(ctx, installed):
    out = ctx.run(
        ctx.on.config_changed(), full_state(config={"vip": "10.5.0.100"}, app_data=synced())
    )
    assert out.unit_status == ops.BlockedStatus("vip/dns-ha is set: relate masakari to hacluster")


def test_ha_relation_without_vip_blocks(ctx, installed):
    out = ctx.run(ctx.on.config_changed(), full_state(extra=[ha_relation()], app_data=synced()))
    assert out.unit_status == ops.BlockedStatus("ha relation needs vip or dns-ha to be set")


def test_unclustered_ha_waits(ctx, installed):
    state = full_state(
        config={"vip": "10.5.0.100"}, extra=[ha_relation(clustered=False)], app_data=synced()
    )
    out = ctx.run(ctx.on.config_changed(), state)
    assert out.unit_status == ops.WaitingStatus("ha: waiting for hacluster to form the cluster")


def test_clustered_ha_is_active(ctx, installed):
    state = full_state(config={"vip": "10.5.0.100"}, extra=[ha_relation()], app_data=synced())
    out = ctx.run(ctx.on.config_changed(), state)
    assert out.unit_status == ops.ActiveStatus("Unit is ready")


def test_missing_peer_relation_waits(ctx, installed):
    state = testing.State(
        leader=True,
        relations=[db_relation(), amqp_relation(), keystone_relation()],
        networks=networks(),
    )
    out = ctx.run(ctx.on.config_changed(), state)
    assert out.unit_status == ops.WaitingStatus("waiting for the peer relation")


def test_peer_relation_publishes_addresses(ctx, installed):
    out = ctx.run(ctx.on.config_changed(), full_state())
    peers = next(r for r in out.relations if r.endpoint == "cluster")
    assert peers.local_unit_data["public-address"] == "10.5.0.50"
    assert peers.local_unit_data["internal-address"] == "10.5.0.50"
    assert peers.local_unit_data["admin-address"] == "10.5.0.50"


def test_keystone_data_without_secret_in_status(ctx, installed):
    out = ctx.run(ctx.on.config_changed(), full_state())
    for secret in (KEYSTONE_DATA["service_password"], DB_DATA["password"], "mq-secret-pw"):
        assert secret not in out.unit_status.message


def test_restarts_skipped_while_waiting_for_the_db_sync_are_not_lost(ctx, installed):
    out = ctx.run(ctx.on.config_changed(), full_state(leader=False))
    assert {"haproxy", "apache2", "memcached"} <= installed.running
    assert "masakari-engine" not in installed.running
    installed.clear()
    state = full_state(leader=False, app_data=synced())
    state = testing.State(
        leader=False,
        relations=state.relations,
        networks=state.networks,
        stored_states=out.stored_states,
    )
    out = ctx.run(ctx.on.config_changed(), state)
    assert "masakari-engine" in installed.restarted()
    assert "haproxy" not in installed.restarted()  # already restarted with its new config
    assert out.unit_status == ops.ActiveStatus("Unit is ready")


def test_config_changed_while_paused_is_applied_on_resume(ctx, installed):
    out = ctx.run(ctx.on.config_changed(), full_state(app_data=synced()))
    out = ctx.run(ctx.on.action("pause"), out)
    out = ctx.run(ctx.on.config_changed(), _with_config(out, {"haproxy-client-timeout": 1000}))
    assert "haproxy" not in installed.running
    installed.clear()
    out = ctx.run(ctx.on.action("resume"), out)
    assert "haproxy" in installed.restarted()
    assert out.unit_status == ops.ActiveStatus("Unit is ready")
