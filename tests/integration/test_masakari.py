"""Deploy the suite's charms (bundles/masakari-minimal.yaml) and use them as an operator.

Needs a Juju controller with a machine cloud, the charms built (``tox -e build``) and
MASAKARI_VIP set to a free address of the model's network.
"""

from __future__ import annotations

import configparser
import json
import os

import jubilant
import pytest
from conftest import ROOT

BUNDLE = ROOT / "bundles" / "masakari-minimal.yaml"
NOVA_WAIT = "Waiting for nova-compute to write /etc/nova/nova.conf"


def conf(juju: jubilant.Juju, unit: str, path: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(juju.ssh(unit, f"sudo cat {path}"))
    return parser


def unit_data(juju: jubilant.Juju, unit: str, endpoint: str) -> list[dict]:
    """Relation data of ``unit`` on ``endpoint`` (both sides), from ``juju show-unit``."""
    shown = json.loads(juju.cli("show-unit", unit, "--format", "json"))[unit]
    return [r for r in shown["relation-info"] if r["endpoint"] == endpoint]


def monitors_units(status: jubilant.Status) -> dict[str, str]:
    """masakari-monitors unit -> its workload status message, on every compute unit."""
    return {
        sub: sub_status.workload_status.message
        for unit in status.apps["compute"].units.values()
        for sub, sub_status in unit.subordinates.items()
        if sub.startswith("masakari-monitors/")
    }


@pytest.fixture(scope="module")
def deployed(juju: jubilant.Juju):
    vip = os.environ.get("MASAKARI_VIP")
    if not vip:
        pytest.fail("set MASAKARI_VIP to a free address of the model's network")
    juju.deploy(BUNDLE)
    juju.config("masakari", {"vip": vip})
    # The stand-in hypervisors have no nova-compute: the monitors wait for nova.conf
    # (never guessing nova's host) until it gets nova's host setting.
    count = len(juju.status().apps["compute"].units)
    juju.wait(
        lambda s: (
            len(monitors_units(s)) == count and set(monitors_units(s).values()) == {NOVA_WAIT}
        ),
        timeout=60 * 60,
    )
    for sub in monitors_units(juju.status()):
        juju.ssh(
            sub,
            "sudo mkdir -p /etc/nova && printf '[DEFAULT]\\nhost = %s\\n' \"$(hostname -f)\" "
            "| sudo tee /etc/nova/nova.conf",
        )
    juju.config("masakari-monitors", {"segment-name": "rack-1"})  # a hook that reads it
    juju.wait(jubilant.all_active, timeout=60 * 60)
    juju.wait(jubilant.all_agents_idle)
    return juju


def test_every_unit_is_active(deployed: jubilant.Juju):
    status = deployed.status()
    for app in ("masakari", "pacemaker-remote", "masakari-monitors"):
        for unit in status.apps[app].units.values():
            assert unit.workload_status.current == "active"
        for unit in status.apps["compute"].units.values():
            for sub, sub_status in unit.subordinates.items():
                assert sub_status.workload_status.current == "active", sub


def test_relation_data_on_both_sides(deployed: jubilant.Juju):
    ha = unit_data(deployed, "masakari/0", "ha")[0]
    resources = json.loads(ha["local-unit"]["data"]["json_resources"])
    assert resources["res_masakari_haproxy"] == "lsb:haproxy"
    remote = unit_data(deployed, "masakari-hacluster/0", "pacemaker-remote")[0]
    for data in remote["related-units"].values():
        assert json.loads(data["data"]["enable-resources"]) is False
        assert isinstance(json.loads(data["data"]["remote-hostname"]), str)
    for sub in monitors_units(deployed.status()):
        # The node name pacemaker-remote registered is the one the monitors register.
        node = unit_data(deployed, sub, "pacemaker-node")[0]
        (pacemaker,) = node["related-units"].values()
        registration = unit_data(deployed, sub, "registration")[0]["local-unit"]["data"]
        assert pacemaker["data"]["node-name"] == registration["hostname"]
    identity = unit_data(deployed, "masakari/0", "identity-service")[0]
    assert identity["local-unit"]["data"]["service"] == "masakari"
    assert any("service_password" in u["data"] for u in identity["related-units"].values())


def test_hypervisors_are_published_and_registration_reaches_the_api(deployed: jubilant.Juju):
    """The stand-in hypervisors got nova's host setting (the fixture), names agree.

    Their masakari-monitors units then publish on registration, and the masakari leader
    asks the real Masakari API to add them; masakari refuses (no nova to find them in),
    which the leader reports as a registration it will retry.
    """
    monitors = list(monitors_units(deployed.status()))
    published = {
        unit_data(deployed, sub, "registration")[0]["local-unit"]["data"].get("hostname")
        for sub in monitors
    }
    assert None not in published and len(published) == len(monitors)
    leader = next(n for n, u in deployed.status().apps["masakari"].units.items() if u.leader)
    deployed.wait(
        lambda s: "host registration" in s.apps["masakari"].units[leader].workload_status.message
    )
    task = deployed.run(leader, "list-segments")
    assert task.results["segments"].startswith("rack-1: auto, COMPUTE, 0 hosts, auto (")
    task = deployed.run(leader, "list-notifications", {"limit": 5})
    assert task.results["count"] == "0"


def test_config_change_is_rendered(deployed: jubilant.Juju):
    deployed.config("masakari", {"evacuation-delay": 90})
    deployed.config("masakari-monitors", {"host-monitoring-interval": 30})
    deployed.wait(jubilant.all_active)
    deployed.wait(jubilant.all_agents_idle)
    masakari = conf(deployed, "masakari/0", "/etc/masakari/masakari.conf")
    assert masakari["DEFAULT"]["wait_period_after_service_update"] == "90"
    monitors = conf(deployed, "masakari-monitors/0", "/etc/masakarimonitors/masakarimonitors.conf")
    assert monitors["host"]["monitoring_interval"] == "30"


def test_pause_and_resume(deployed: jubilant.Juju):
    task = deployed.run("masakari/0", "pause")
    assert "masakari-engine" in task.results["stopped"]
    deployed.wait(
        lambda s: s.apps["masakari"].units["masakari/0"].workload_status.current == "maintenance"
    )
    task = deployed.run("masakari/0", "resume")
    assert "masakari-engine" in task.results["started"]
    deployed.wait(jubilant.all_active)


def test_openstack_upgrade_action(deployed: jubilant.Juju):
    deployed.config("masakari", {"action-managed-upgrade": True, "openstack-origin": "dalmatian"})
    deployed.wait(
        lambda s: (
            "openstack-upgrade" in s.apps["masakari"].units["masakari/0"].workload_status.message
        )
    )
    for unit in sorted(deployed.status().apps["masakari"].units):
        task = deployed.run(unit, "openstack-upgrade")
        assert task.results["outcome"] == "upgraded from caracal to dalmatian"
    deployed.wait(jubilant.all_active)
