"""Deploy the suite's charms (bundles/masakari-minimal.yaml) and use them as an operator.

Needs a Juju controller with a machine cloud, the charms built (``tox -e build``) and
MASAKARI_VIP set to a free address of the model's network; conftest skips otherwise.
The hypervisors are ``ubuntu`` stand-ins without nova or libvirt: what the tests wait
for (tests/integration/waits.py) is what such hosts can reach.
"""

from __future__ import annotations

import configparser
import json
import time
from pathlib import Path

import jubilant
import pytest
import waits

# What nova-compute would have written: nova's name of the host, which must be the name
# the monitors report and pacemaker-remote registers; both charms default to Python's
# socket.getfqdn(). The bundle's header gives operators the same command.
STAND_IN_NOVA_CONF = (
    'mkdir -p /etc/nova && printf "[DEFAULT]\\nhost = %s\\n" '
    '"$(python3 -c "import socket; print(socket.getfqdn())")" > /etc/nova/nova.conf'
)
MASAKARI_CONF = "/etc/masakari/masakari.conf"
MONITORS_CONF = "/etc/masakarimonitors/masakarimonitors.conf"


def conf(juju: jubilant.Juju, unit: str, path: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(juju.ssh(unit, f"sudo cat {path}"))
    return parser


def rendered(juju: jubilant.Juju, unit: str, path: str, option: str, want: str) -> str | None:
    """``section/option`` of ``path`` on ``unit`` once it is ``want`` (or after 10 minutes).

    Right after ``juju config`` every unit still shows its old, active status, so a
    status wait can end before config-changed has run: the file itself says when.
    """
    section, key = option.split("/")
    deadline = time.monotonic() + 10 * 60
    while True:
        found = conf(juju, unit, path).get(section, key, fallback=None)
        if found == want or time.monotonic() > deadline:
            return found
        time.sleep(5)


def unit_data(juju: jubilant.Juju, unit: str, endpoint: str) -> list[dict]:
    """Relation data of ``unit`` on ``endpoint`` (both sides), from ``juju show-unit``."""
    shown = json.loads(juju.cli("show-unit", unit, "--format", "json"))[unit]
    return [r for r in shown["relation-info"] if r["endpoint"] == endpoint]


@pytest.fixture(scope="module")
def deployed(juju: jubilant.Juju, bundle: Path, vip: str):
    juju.deploy(bundle)
    juju.config("masakari", {"vip": vip})
    juju.wait(waits.monitors_wait_for_nova_conf, error=jubilant.any_error, timeout=60 * 60)
    for unit in juju.status().apps[waits.COMPUTE].units:
        juju.exec(STAND_IN_NOVA_CONF, unit=unit)
    # A hook that reads nova.conf now rather than at the next update-status; the segment
    # is the one the registration test looks for.
    juju.config("masakari-monitors", {"segment-name": "rack-1"})
    juju.wait(jubilant.all_active, error=jubilant.any_error, timeout=60 * 60)
    juju.wait(jubilant.all_agents_idle)
    return juju


def test_every_unit_is_active(deployed: jubilant.Juju):
    status = deployed.status()
    for app in ("masakari", "pacemaker-remote", "masakari-monitors"):
        units = status.get_units(app)
        assert units, app
        for name, unit in units.items():
            assert unit.workload_status.current == "active", name


def test_relation_data_on_both_sides(deployed: jubilant.Juju):
    ha = unit_data(deployed, "masakari/0", "ha")[0]
    resources = json.loads(ha["local-unit"]["data"]["json_resources"])
    assert resources["res_masakari_haproxy"] == "lsb:haproxy"
    remote = unit_data(deployed, "masakari-hacluster/0", "pacemaker-remote")[0]
    for data in remote["related-units"].values():
        assert json.loads(data["data"]["enable-resources"]) is False
        assert isinstance(json.loads(data["data"]["remote-hostname"]), str)
    for sub in waits.monitors_units(deployed.status()):
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

    Their masakari-monitors units publish on registration. With auto-register-hosts on,
    the masakari leader creates their segment and asks the real Masakari API to add them;
    masakari refuses (no nova to find them in), which the leader reports as a
    registration it will retry. Turned off again, the leader registers nothing and is
    active, as the later tests need.
    """
    monitors = list(waits.monitors_units(deployed.status()))
    published = {
        unit_data(deployed, sub, "registration")[0]["local-unit"]["data"].get("hostname")
        for sub in monitors
    }
    assert None not in published and len(published) == len(monitors)
    deployed.config("masakari", {"auto-register-hosts": True})
    try:
        deployed.wait(waits.leader_retries_host_registration, error=jubilant.any_error)
        leader = waits.leader(deployed.status(), waits.MASAKARI)
        assert leader is not None
        task = deployed.run(leader, "list-segments")
        assert task.results["segments"].startswith("rack-1: auto, COMPUTE, 0 hosts, auto (")
        task = deployed.run(leader, "list-notifications", {"limit": 5})
        assert task.results["count"] == "0"
    finally:
        deployed.config("masakari", {"auto-register-hosts": False})
        deployed.wait(jubilant.all_active, error=jubilant.any_error)


def test_config_change_is_rendered(deployed: jubilant.Juju):
    deployed.config("masakari", {"evacuation-delay": 90})
    deployed.config("masakari-monitors", {"host-monitoring-interval": 30})
    wait_period = "DEFAULT/wait_period_after_service_update"
    assert rendered(deployed, "masakari/0", MASAKARI_CONF, wait_period, "90") == "90"
    interval = "host/monitoring_interval"
    assert rendered(deployed, "masakari-monitors/0", MONITORS_CONF, interval, "30") == "30"
    deployed.wait(jubilant.all_active, error=jubilant.any_error)
    deployed.wait(jubilant.all_agents_idle)


def test_pause_and_resume(deployed: jubilant.Juju):
    task = deployed.run("masakari/0", "pause")
    assert "masakari-engine" in task.results["stopped"]
    deployed.wait(waits.paused(waits.MASAKARI, "masakari/0"), error=jubilant.any_error)
    task = deployed.run("masakari/0", "resume")
    assert "masakari-engine" in task.results["started"]
    deployed.wait(jubilant.all_active, error=jubilant.any_error)


def test_openstack_upgrade_action(deployed: jubilant.Juju):
    deployed.config("masakari", {"action-managed-upgrade": True, "openstack-origin": "dalmatian"})
    deployed.wait(waits.upgrade_offered(waits.MASAKARI, "dalmatian"), error=jubilant.any_error)
    for unit in sorted(deployed.status().apps["masakari"].units):
        task = deployed.run(unit, "openstack-upgrade")
        assert task.results["outcome"] == "upgraded from caracal to dalmatian"
    deployed.wait(jubilant.all_active, error=jubilant.any_error)
