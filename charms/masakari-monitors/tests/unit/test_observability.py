"""cos-agent, nrpe-external-master and the health daemon, as the unit's watchers see them."""

from __future__ import annotations

import json
import time

import monitors_health as health
import monitors_watch
import pytest
from conftest import state
from openstack_charm_lib import liveness, nrpe, observability
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

UNIT_FILE = "/etc/systemd/system/masakari-monitors-health.service"
MONITORS = ("masakari-host-monitor", "masakari-instance-monitor")


@pytest.fixture
def nagios(ready):
    return with_nrpe_installed(ready)


def test_the_health_daemon_runs_with_each_enabled_monitors_window(ctx, ready):
    out = ctx.run(ctx.on.config_changed(), state(config={"host-monitoring-interval": 20}))
    assert out.unit_status.name == "active"
    unit = ready.read_text(UNIT_FILE)
    assert f"ExecStart=/usr/bin/python3 {health.DAEMON_DIR}/monitors_health.py" in unit
    for module in health.COPIED_MODULES:
        assert ready.read_bytes(f"{health.DAEMON_DIR}/{module.name}") == module.read_bytes()
    config = health.load_config(ready.read_text(health.CONFIG))
    # 3 x max(20, stonith_wait 30) for the host monitor; the floor for the instance monitor.
    assert config.windows == {"masakari-host-monitor": 90.0, "masakari-instance-monitor": 30.0}
    assert ready.owner_of(health.CONFIG)[2] == 0o600
    assert "masakari-monitors-health" in ready.running
    assert ready.ran("systemctl", "daemon-reload")


def test_a_wedged_monitor_blocks_the_status_naming_it(ctx, ready):
    out = ctx.run(ctx.on.config_changed(), state())
    states = {
        "masakari-host-monitor": liveness.ServiceState(True, False, 400.0, 42, time.time()),
        "masakari-instance-monitor": liveness.ServiceState(True, True, 1.0, 43, time.time()),
    }
    liveness.write_state(ready.path(health.STATE_FILE), states, time.time())
    out = ctx.run(ctx.on.update_status(), out)
    assert out.unit_status == testing.BlockedStatus(
        "masakari-host-monitor has made no progress for 400s (wedged?); "
        "run the restart-services action"
    )
    # A state file the daemon stopped refreshing says nothing: the status is the usual one.
    liveness.write_state(ready.path(health.STATE_FILE), states, time.time() - 3600)
    assert ctx.run(ctx.on.update_status(), out).unit_status.name == "active"


def test_cos_agent_bag_decodes_as_the_collector_decodes_it(ctx, ready):
    relation = cos_agent_relation(subordinate=True)
    out = ctx.run(ctx.on.relation_joined(relation), state(extra=[relation]))
    data = consumer_decode(out.get_relation(relation.id).local_unit_data, "masakari-monitors/0")
    (job,) = data["metrics_scrape_jobs"]
    assert job["static_configs"][0]["targets"] == [f"127.0.0.1:{health.LISTEN_PORT}"]
    assert job["metrics_path"] == "/metrics"
    assert data["log_files"] == ["/var/log/masakarimonitors/*.log"]
    alerts = {r.get("alert") for g in data["metrics_alert_rules"]["groups"] for r in g["rules"]}
    assert {"MasakariMonitorWedged", "HostDown"} <= alerts
    assert data["log_alert_rules"]["groups"]
    for group in data["metrics_alert_rules"]["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["juju_application"] == "masakari-monitors"
    # A replay publishes the same bag.
    again = ctx.run(ctx.on.update_status(), out)
    assert (
        again.get_relation(relation.id).local_unit_data
        == out.get_relation(relation.id).local_unit_data
    )


def test_nrpe_checks_follow_the_classic_names_and_the_relation_names_them(ctx, nagios):
    relation = nrpe_relation()
    out = ctx.run(ctx.on.relation_joined(relation), state(extra=[relation]))
    files = nrpe_files(nagios)
    assert sorted(files) == sorted(
        f"{nrpe.NRPE_DIR}/check_{name}.cfg"
        for name in [*MONITORS, *(f"{m}-progress" for m in MONITORS)]
    )
    host_check = nrpe_commands(files[f"{nrpe.NRPE_DIR}/check_masakari-host-monitor.cfg"])
    assert host_check == {
        "check_masakari-host-monitor": (
            f"{nrpe.PLUGIN_DIR}/check_systemd_units.py --paused-file "
            "/var/lib/masakari-monitors-charm/paused masakari-host-monitor"
        )
    }
    progress = nrpe_commands(files[f"{nrpe.NRPE_DIR}/check_masakari-host-monitor-progress.cfg"])
    assert progress["check_masakari-host-monitor-progress"].endswith(
        "--family masakari_monitor_progressing --label monitor=masakari-host-monitor "
        "--below --critical 0"
    )
    exported = nagios.read_text(
        f"{nrpe.EXPORT_DIR}/service__juju-masakari-monitors-0_check_masakari-host-monitor.cfg"
    )
    ((_, service),) = nagios_objects(exported)
    assert service["check_command"] == "check_nrpe!check_masakari-host-monitor"
    assert service["servicegroups"] == "juju"
    bag = out.get_relation(relation.id).local_unit_data
    assert nrpe_relation_checks(bag)["masakari-instance-monitor-progress"] == (
        "check_masakari-instance-monitor-progress"
    )
    assert bag["primary"] == "False"  # a subordinate: the host is named after nova-compute
    for plugin in nrpe.PLUGINS:
        assert nagios.owner_of(f"{nrpe.PLUGIN_DIR}/{plugin}")[2] == 0o755
    assert nagios.restarted().count(nrpe.NRPE_SERVICE) == 1
    nagios.clear()
    ctx.run(ctx.on.update_status(), out)
    assert nrpe.NRPE_SERVICE not in nagios.restarted()


def test_nagios_options_and_the_nrpe_charms_host_name_reach_the_definitions(ctx, nagios):
    relation = nrpe_relation(hostname="compute-1")
    config = {"nagios_context": "cloud1", "nagios_servicegroups": "openstack, ha"}
    ctx.run(ctx.on.relation_changed(relation), state(config=config, extra=[relation]))
    exported = nagios.read_text(
        f"{nrpe.EXPORT_DIR}/service__compute-1_check_masakari-instance-monitor.cfg"
    )
    ((_, service),) = nagios_objects(exported)
    assert service["host_name"] == "compute-1"
    assert service["servicegroups"] == "openstack,ha"
    assert "# servicegroups: openstack,ha" in nagios.read_text(
        f"{nrpe.NRPE_DIR}/check_masakari-instance-monitor.cfg"
    )


@pytest.mark.parametrize(
    ("option", "value"),
    [("nagios_context", "juju;rm -rf"), ("nagios_servicegroups", "a,b}\ndefine")],
)
def test_an_invalid_nagios_option_blocks_naming_it_and_writes_nothing(ctx, nagios, option, value):
    relation = nrpe_relation()
    out = ctx.run(ctx.on.config_changed(), state(config={option: value}, extra=[relation]))
    assert out.unit_status.name == "blocked"
    assert option in out.unit_status.message
    assert value not in out.unit_status.message
    assert nrpe_files(nagios) == {}


def test_enabling_a_monitor_adds_its_checks_and_removing_the_relation_removes_them(ctx, nagios):
    relation = nrpe_relation()
    out = ctx.run(ctx.on.config_changed(), state(extra=[relation]))
    out = ctx.run(
        ctx.on.config_changed(),
        testing.State(
            config={"enable-introspective-instance-monitor": True},
            relations=out.relations,
            stored_states=out.stored_states,
        ),
    )
    assert f"{nrpe.NRPE_DIR}/check_masakari-introspective-instance-monitor-progress.cfg" in (
        nrpe_files(nagios)
    )
    out = ctx.run(ctx.on.relation_broken(out.get_relation(relation.id)), out)
    assert nrpe_files(nagios) == {}
    assert not list(nagios.path(nrpe.EXPORT_DIR).glob("*"))


def test_pause_turns_the_service_checks_ok_and_drops_the_progress_checks(ctx, nagios):
    relation = nrpe_relation()
    out = ctx.run(ctx.on.config_changed(), state(extra=[relation]))
    flag = observability.paused_flag("masakari-monitors")
    assert not nagios.exists(flag)
    out = ctx.run(ctx.on.action("pause"), out)
    assert nagios.exists(flag)
    assert sorted(nrpe_files(nagios)) == sorted(f"{nrpe.NRPE_DIR}/check_{m}.cfg" for m in MONITORS)
    out = ctx.run(ctx.on.action("resume"), out)
    assert not nagios.exists(flag)
    assert len(nrpe_files(nagios)) == 4


def test_without_nrpe_installed_no_check_is_written(ctx, ready):
    relation = nrpe_relation()
    out = ctx.run(ctx.on.relation_joined(relation), state(extra=[relation]))
    assert not ready.exists(nrpe.NRPE_DIR)
    assert out.unit_status.name == "active"
    assert nrpe_relation_checks(out.get_relation(relation.id).local_unit_data) == {}


def test_the_daemon_config_holds_no_credential(ctx, ready):
    ctx.run(ctx.on.config_changed(), state())
    document = json.loads(ready.read_text(health.CONFIG))
    assert "monitor-secret-pw" not in json.dumps(document)
    assert monitors_watch.HEALTH_SERVICE == "masakari-monitors-health"


def test_removing_the_unit_stops_the_daemon_and_deletes_its_files_and_checks(ctx, nagios):
    relation = nrpe_relation()
    out = ctx.run(ctx.on.config_changed(), state(extra=[relation]))
    assert nrpe_files(nagios) and nagios.exists(UNIT_FILE)
    ctx.run(ctx.on.remove(), out)
    assert "masakari-monitors-health" not in nagios.running
    assert not nagios.exists(UNIT_FILE) and not nagios.exists(health.CONFIG)
    assert nrpe_files(nagios) == {}
    assert not list(nagios.path(nrpe.EXPORT_DIR).glob("*"))
    # The plugins stay: pacemaker-remote on the same machine runs them too.
    assert nagios.exists(f"{nrpe.PLUGIN_DIR}/check_systemd_units.py")
