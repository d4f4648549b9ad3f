"""cos-agent, nrpe-external-master and the state exporter, as the watchers see them."""

from __future__ import annotations

import masakari_exporter
import masakari_workload as wl
import pytest
from conftest import full_state
from openstack_charm_lib import nrpe, observability
from openstack_charm_testing.consumers import (
    consumer_decode,
    cos_agent_relation,
    nagios_objects,
    nrpe_commands,
    nrpe_files,
    nrpe_relation,
    nrpe_relation_checks,
    with_nrpe_installed,
)
from ops import testing

UNIT_FILE = "/etc/systemd/system/masakari-exporter.service"


def as_leader(out: testing.State, leader: bool, config: dict | None = None) -> testing.State:
    """The state after ``out`` with leadership (and config) as given."""
    return testing.State(
        leader=leader,
        config=config or {},
        relations=out.relations,
        networks=out.networks,
        stored_states=out.stored_states,
    )


SERVICE_CHECKS = {f"check_{s}" for s in wl.SERVICES}
LEADER_CHECKS = {
    "check_masakari-state",
    "check_masakari-hosts-maintenance",
    "check_masakari-notifications-error",
}


@pytest.fixture
def nagios(installed):
    return with_nrpe_installed(installed)


def command_names(host) -> set[str]:
    return {name for text in nrpe_files(host).values() for name in nrpe_commands(text)}


def test_the_leader_runs_the_exporter_as_keystones_service_user(ctx, installed):
    out = ctx.run(ctx.on.config_changed(), full_state(config={"region": "RegionTwo"}))
    assert out.unit_status.name == "active"
    config = masakari_exporter.load_config(str(installed.path(masakari_exporter.CONFIG)))
    assert (config.credentials.username, config.credentials.password) == (
        "masakari",
        "ks-secret-pw",
    )
    assert (config.credentials.region, config.credentials.interface) == ("RegionTwo", "public")
    assert installed.owner_of(masakari_exporter.CONFIG) == ("root", "root", 0o600)
    unit = installed.read_text(UNIT_FILE)
    assert f"{masakari_exporter.DAEMON_DIR}/masakari_exporter.py --config" in unit
    copied = {p.name for p in installed.path(masakari_exporter.DAEMON_DIR).iterdir()}
    assert {"masakari_exporter.py", "masakari_api.py", "exporter.py"} <= copied
    assert "masakari-exporter" in installed.running
    # use-internal-endpoints reaches the exporter, which restarts once for it.
    installed.clear()
    config = {"region": "RegionTwo", "use-internal-endpoints": True}
    out = ctx.run(ctx.on.config_changed(), as_leader(out, True, config))
    config = masakari_exporter.load_config(str(installed.path(masakari_exporter.CONFIG)))
    assert config.credentials.interface == "internal"
    assert installed.restarted().count("masakari-exporter") == 1


def test_a_unit_that_loses_leadership_stops_and_removes_the_exporter(ctx, installed):
    out = ctx.run(ctx.on.config_changed(), full_state())
    assert installed.exists(masakari_exporter.CONFIG)
    ctx.run(ctx.on.config_changed(), as_leader(out, False))
    assert "masakari-exporter" not in installed.running
    assert not installed.exists(UNIT_FILE)
    assert not installed.exists(masakari_exporter.CONFIG)  # it held the password


def test_no_exporter_without_keystones_credentials(ctx, installed):
    state = full_state()
    state = testing.State(
        leader=True,
        relations=[r for r in state.relations if r.endpoint != "identity-service"],
        networks=state.networks,
        stored_states=state.stored_states,
    )
    ctx.run(ctx.on.config_changed(), state)
    assert not installed.exists(UNIT_FILE)


@pytest.mark.parametrize("leader", [True, False])
def test_cos_agent_bag_decodes_as_the_collector_decodes_it(ctx, installed, leader):
    relation = cos_agent_relation(subordinate=False)
    out = ctx.run(ctx.on.relation_joined(relation), full_state(leader=leader, extra=[relation]))
    data = consumer_decode(out.get_relation(relation.id).local_unit_data)
    targets = {
        job["static_configs"][0]["targets"][0]: job["job_name"]
        for job in data["metrics_scrape_jobs"]
    }
    expected = {f"127.0.0.1:{wl.HAPROXY_PROMETHEUS_PORT}"}
    if leader:  # the state of masakari is collected once, by the leader
        expected.add(f"127.0.0.1:{masakari_exporter.DEFAULT_PORT}")
    assert set(targets) == expected
    assert all(name.startswith("masakari_") for name in targets.values())
    assert sorted(data["log_files"]) == [
        "/var/log/apache2/masakari_*.log",
        "/var/log/haproxy.log",
        "/var/log/masakari/*.log",
    ]
    (dashboard,) = data["dashboards"]
    assert dashboard["title"]
    alerts = {r.get("alert") for g in data["metrics_alert_rules"]["groups"] for r in g["rules"]}
    assert {"MasakariHostOnMaintenance", "MasakariNotificationInError"} <= alerts
    assert data["log_alert_rules"]["groups"]


def test_nrpe_checks_on_the_leader_and_on_the_others(ctx, nagios):
    relation = nrpe_relation()
    out = ctx.run(ctx.on.relation_joined(relation), full_state(extra=[relation]))
    assert command_names(nagios) == SERVICE_CHECKS | {"check_masakari-api"} | LEADER_CHECKS
    files = nrpe_files(nagios)
    (maintenance,) = nrpe_commands(
        files[f"{nrpe.NRPE_DIR}/check_masakari-hosts-maintenance.cfg"]
    ).values()
    assert maintenance.endswith(
        f"--url http://127.0.0.1:{masakari_exporter.DEFAULT_PORT}/metrics "
        "--family masakari_host_on_maintenance --name-label host --warning 1"
    )
    (errors,) = nrpe_commands(
        files[f"{nrpe.NRPE_DIR}/check_masakari-notifications-error.cfg"]
    ).values()
    assert "--label status=error --critical 1" in errors
    exported = nagios.read_text(f"{nrpe.EXPORT_DIR}/service__juju-masakari-0_check_haproxy.cfg")
    ((_, service),) = nagios_objects(exported)
    assert service["service_description"] == "juju-masakari-0[haproxy] process check {haproxy}"
    bag = out.get_relation(relation.id).local_unit_data
    assert bag["primary"] == "True"
    assert set(nrpe_relation_checks(bag).values()) == command_names(nagios)
    # Leadership moves: the leader's checks leave this unit, on disk and on the relation.
    out = ctx.run(ctx.on.config_changed(), as_leader(out, False))
    assert command_names(nagios) == SERVICE_CHECKS | {"check_masakari-api"}
    assert not list(nagios.path(nrpe.EXPORT_DIR).glob("*masakari-state*"))
    bag = out.get_relation(relation.id).local_unit_data
    assert set(nrpe_relation_checks(bag).values()) == command_names(nagios)


def test_paused_the_api_checks_go_and_the_service_checks_say_ok(ctx, nagios):
    relation = nrpe_relation()
    out = ctx.run(ctx.on.config_changed(), full_state(extra=[relation]))
    out = ctx.run(ctx.on.action("pause"), out)
    assert command_names(nagios) == SERVICE_CHECKS
    assert nagios.exists(observability.paused_flag("masakari"))
    assert "masakari-exporter" not in nagios.running
    ctx.run(ctx.on.action("resume"), out)
    assert command_names(nagios) == SERVICE_CHECKS | {"check_masakari-api"} | LEADER_CHECKS
    assert not nagios.exists(observability.paused_flag("masakari"))


def test_a_hostile_nagios_hostname_from_nrpe_blocks_naming_the_relation(ctx, nagios):
    relation = nrpe_relation(hostname="x\n}\ndefine command {")
    out = ctx.run(ctx.on.relation_changed(relation), full_state(extra=[relation]))
    assert out.unit_status == testing.BlockedStatus(
        "nrpe-external-master: nagios_hostname is not a plain host name"
    )
    assert nrpe_files(nagios) == {}


def test_nagios_servicegroups_reach_every_definition(ctx, nagios):
    relation = nrpe_relation(hostname="masakari-lxd-3")
    config = {"nagios_servicegroups": "openstack,masakari"}
    ctx.run(ctx.on.config_changed(), full_state(config=config, extra=[relation]))
    for path in nagios.path(nrpe.EXPORT_DIR).glob("service__masakari-lxd-3_*.cfg"):
        ((_, service),) = nagios_objects(path.read_text())
        assert service["servicegroups"] == "openstack,masakari"


def test_removing_the_leader_deletes_the_exporters_password_and_the_checks(ctx, nagios):
    relation = nrpe_relation()
    out = ctx.run(ctx.on.config_changed(), full_state(extra=[relation]))
    assert nagios.exists(masakari_exporter.CONFIG)
    ctx.run(ctx.on.remove(), out)
    assert "masakari-exporter" not in nagios.running
    assert not nagios.exists(masakari_exporter.CONFIG) and not nagios.exists(UNIT_FILE)
    assert nrpe_files(nagios) == {}


def test_one_hook_validates_the_options_once(ctx, installed, monkeypatch):
    """The pass and watch() share one validated config."""
    import charm

    calls = []

    class Counted(charm.MasakariConfig):
        def __post_init__(self):
            calls.append(self.series)
            super().__post_init__()

    monkeypatch.setattr(charm, "MasakariConfig", Counted)
    state = full_state(extra=[cos_agent_relation(subordinate=False)])
    out = ctx.run(ctx.on.config_changed(), state)
    assert out.unit_status.name == "active", out.unit_status
    assert len(calls) == 1
