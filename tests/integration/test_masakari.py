"""Deploy masakari with its real OpenStack dependencies and exercise it as an operator would."""

from __future__ import annotations

import configparser

import jubilant
from conftest import built_charm

BASE = "ubuntu@24.04"
CHANNEL = "2024.1/stable"


def test_deploy_and_relate(juju: jubilant.Juju):
    juju.deploy(built_charm("masakari"), "masakari", base=BASE)
    juju.deploy("mysql-innodb-cluster", num_units=3, channel="8.0/stable", base=BASE)
    juju.deploy("mysql-router", "masakari-mysql-router", channel="8.0/stable", base=BASE)
    juju.deploy("rabbitmq-server", channel="3.9/stable", base=BASE)
    juju.deploy("keystone", channel=CHANNEL, base=BASE)
    juju.deploy("mysql-router", "keystone-mysql-router", channel="8.0/stable", base=BASE)
    juju.integrate("masakari:shared-db", "masakari-mysql-router:shared-db")
    juju.integrate("masakari-mysql-router:db-router", "mysql-innodb-cluster:db-router")
    juju.integrate("keystone:shared-db", "keystone-mysql-router:shared-db")
    juju.integrate("keystone-mysql-router:db-router", "mysql-innodb-cluster:db-router")
    juju.integrate("masakari:amqp", "rabbitmq-server:amqp")
    juju.integrate("masakari:identity-service", "keystone:identity-service")
    juju.wait(jubilant.all_active)
    status = juju.status()
    assert status.apps["masakari"].units["masakari/0"].workload_status.message == "Unit is ready"


def test_relation_data_on_both_sides(juju: jubilant.Juju):
    data = juju.cli("show-unit", "keystone/0", "--format", "json")
    assert "instance-ha" in data or "masakari" in data
    conf = configparser.ConfigParser(interpolation=None)
    conf.read_string(juju.ssh("masakari/0", "sudo cat /etc/masakari/masakari.conf"))
    assert conf["DEFAULT"]["transport_url"].startswith("rabbit://masakari:")
    assert conf["database"]["connection"].startswith("mysql+pymysql://masakari:")


def test_config_change_is_rendered(juju: jubilant.Juju):
    juju.config("masakari", {"evacuation-delay": 90})
    juju.wait(jubilant.all_active)
    conf = configparser.ConfigParser(interpolation=None)
    conf.read_string(juju.ssh("masakari/0", "sudo cat /etc/masakari/masakari.conf"))
    assert conf["DEFAULT"]["wait_period_after_service_update"] == "90"


def test_pause_and_resume(juju: jubilant.Juju):
    task = juju.run("masakari/0", "pause")
    assert "masakari-engine" in task.results["stopped"]
    juju.wait(
        lambda s: s.apps["masakari"].units["masakari/0"].workload_status.current == "maintenance"
    )
    juju.run("masakari/0", "resume")
    juju.wait(jubilant.all_active)


def test_openstack_upgrade_action(juju: jubilant.Juju):
    juju.config("masakari", {"action-managed-upgrade": True, "openstack-origin": "dalmatian"})
    juju.wait(
        lambda s: (
            "openstack-upgrade" in s.apps["masakari"].units["masakari/0"].workload_status.message
        )
    )
    task = juju.run("masakari/0", "openstack-upgrade")
    assert task.results["outcome"] == "upgraded from caracal to dalmatian"
    juju.wait(jubilant.all_active)
