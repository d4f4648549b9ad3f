"""cos-agent, nrpe-external-master and the node's health daemon, as watchers see them."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest
import remote_node_health as health
from conftest import FQDN, state
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

UNIT_FILE = "/etc/systemd/system/pacemaker-remote-health.service"


def with_relations(base: testing.State, *extra) -> testing.State:
    return dataclasses.replace(base, relations=[*base.relations, *extra])


@pytest.fixture
def nagios(installed):
    return with_nrpe_installed(installed)


def test_the_health_daemon_watches_the_node_name_while_related_to_hacluster(ctx, installed):
    out = ctx.run(ctx.on.config_changed(), state(config={"remote-hostname": "compute-1"}))
    assert out.unit_status.name == "active"
    assert health.load_config(installed.read_text(health.CONFIG)).node_name == "compute-1"
    assert f"{health.DAEMON_DIR}/remote_node_health.py" in installed.read_text(UNIT_FILE)
    assert "pacemaker-remote-health" in installed.running
    # The cluster departs: the daemon and its files go with it.
    ctx.run(ctx.on.config_changed(), state(with_relation=False))
    assert not installed.exists(UNIT_FILE)
    assert not installed.exists(health.CONFIG)
    assert "pacemaker-remote-health" not in installed.running


@pytest.mark.parametrize(
    ("view", "message"),
    [
        (
            health.NodeView(FQDN, cluster_reachable=True, known=True, online=False),
            f"The cluster sees node {FQDN} offline",
        ),
        (
            health.NodeView(
                FQDN, cluster_reachable=True, known=True, online=True, maintenance=True
            ),
            f"Node {FQDN} is in Pacemaker maintenance: no recovery, no fencing",
        ),
        (
            health.NodeView(FQDN, cluster_reachable=True, known=False),
            f"The cluster has no node {FQDN}: see hacluster's status",
        ),
    ],
)
def test_the_clusters_view_of_the_node_blocks_the_status(ctx, installed, view, message):
    out = ctx.run(ctx.on.config_changed(), state())
    health.write_state(installed.path(health.STATE_FILE), view, time.time())
    assert ctx.run(ctx.on.update_status(), out).unit_status == testing.BlockedStatus(message)
    online = dataclasses.replace(view, known=True, online=True, maintenance=False)
    health.write_state(installed.path(health.STATE_FILE), online, time.time())
    assert ctx.run(ctx.on.update_status(), out).unit_status.name == "active"


def test_cos_agent_bag_decodes_as_the_collector_decodes_it(ctx, installed):
    relation = cos_agent_relation(subordinate=True)
    out = ctx.run(ctx.on.relation_joined(relation), with_relations(state(), relation))
    data = consumer_decode(out.get_relation(relation.id).local_unit_data, "pacemaker-remote/0")
    (job,) = data["metrics_scrape_jobs"]
    assert job["static_configs"][0]["targets"] == [f"127.0.0.1:{health.LISTEN_PORT}"]
    assert data["log_files"] == ["/var/log/pacemaker/pacemaker.log"]
    alerts = {r.get("alert") for g in data["metrics_alert_rules"]["groups"] for r in g["rules"]}
    assert "PacemakerRemoteNodeOffline" in alerts


def test_nrpe_checks_the_service_and_the_node_online(ctx, nagios):
    relation = nrpe_relation()
    out = ctx.run(ctx.on.relation_joined(relation), with_relations(state(), relation))
    files = nrpe_files(nagios)
    assert sorted(files) == [
        f"{nrpe.NRPE_DIR}/check_pacemaker-remote-node.cfg",
        f"{nrpe.NRPE_DIR}/check_pacemaker_remote.cfg",
    ]
    (command,) = nrpe_commands(files[f"{nrpe.NRPE_DIR}/check_pacemaker-remote-node.cfg"]).values()
    assert command == (
        f"{nrpe.PLUGIN_DIR}/check_exporter_metric.py --url "
        f"http://127.0.0.1:{health.LISTEN_PORT}/metrics --family pacemaker_remote_node_online "
        "--name-label node --below --critical 0"
    )
    exported = nagios.read_text(
        f"{nrpe.EXPORT_DIR}/service__juju-pacemaker-remote-0_check_pacemaker_remote.cfg"
    )
    ((_, service),) = nagios_objects(exported)
    assert service["service_description"] == (
        "juju-pacemaker-remote-0[pacemaker_remote] process check {pacemaker_remote}"
    )
    bag = out.get_relation(relation.id).local_unit_data
    assert nrpe_relation_checks(bag) == {
        "pacemaker_remote": "check_pacemaker_remote",
        "pacemaker-remote-node": "check_pacemaker-remote-node",
    }
    assert bag["primary"] == "False"


def test_without_hacluster_only_the_service_check_remains(ctx, nagios):
    relation = nrpe_relation()
    ctx.run(ctx.on.config_changed(), with_relations(state(), relation))
    ctx.run(ctx.on.config_changed(), with_relations(state(with_relation=False), relation))
    assert sorted(nrpe_files(nagios)) == [f"{nrpe.NRPE_DIR}/check_pacemaker_remote.cfg"]


def test_nagios_options_reach_the_definitions_and_bad_ones_block(ctx, nagios):
    relation = nrpe_relation()
    config = {"nagios_context": "site-a", "nagios_servicegroups": "hypervisors"}
    out = ctx.run(ctx.on.config_changed(), with_relations(state(config=config), relation))
    assert out.unit_status.name == "active"
    exported = nagios.read_text(
        f"{nrpe.EXPORT_DIR}/service__site-a-pacemaker-remote-0_check_pacemaker_remote.cfg"
    )
    assert nagios_objects(exported)[0][1]["servicegroups"] == "hypervisors"
    bad = {"nagios_context": "a b"}
    out = ctx.run(ctx.on.config_changed(), with_relations(state(config=bad), relation))
    assert out.unit_status == testing.BlockedStatus(
        "Invalid config: nagios_context is not a plain Nagios name (letters, digits, ._@:+-)"
    )


def test_pause_marks_the_service_check_ok_and_drops_the_node_check(ctx, nagios):
    relation = nrpe_relation()
    out = ctx.run(ctx.on.config_changed(), with_relations(state(), relation))
    out = ctx.run(ctx.on.action("pause"), out)
    assert nagios.exists(observability.paused_flag("pacemaker-remote"))
    assert sorted(nrpe_files(nagios)) == [f"{nrpe.NRPE_DIR}/check_pacemaker_remote.cfg"]
    ctx.run(ctx.on.action("resume"), out)
    assert not nagios.exists(observability.paused_flag("pacemaker-remote"))
    assert len(nrpe_files(nagios)) == 2


def test_the_daemon_config_is_root_only_json(ctx, installed):
    ctx.run(ctx.on.config_changed(), state())
    assert json.loads(installed.read_text(health.CONFIG))["node_name"] == FQDN
    assert installed.owner_of(health.CONFIG) == ("root", "root", 0o600)


def test_removing_the_unit_stops_the_daemon_and_deletes_its_files_and_checks(ctx, nagios):
    relation = nrpe_relation()
    out = ctx.run(ctx.on.config_changed(), with_relations(state(), relation))
    assert nagios.exists(UNIT_FILE)
    ctx.run(ctx.on.remove(), out)
    assert "pacemaker-remote-health" not in nagios.running
    assert not nagios.exists(UNIT_FILE) and not nagios.exists(health.CONFIG)
    assert nrpe_files(nagios) == {}
