"""Fixtures: the hypervisor (a FakeHost), the machine (real, or a fake), keystone's answer.

``host``/``ready`` run the charm's real :class:`monitors_machine.MonitorsMachine` on a
FakeHost, for tests of what lands on the hypervisor; ``machine`` replaces it with
:class:`fake_monitors_machine.FakeMonitorsMachine`, for tests of what the charm decides.
"""

from __future__ import annotations

import charm
import pytest
from fake_monitors_machine import FakeMonitorsMachine
from openstack_charm_lib.relations.identity_credentials import credentials_answer
from openstack_charm_testing import FakeHost
from ops import testing

FQDN = "compute-1.maas"
PACKAGES = {
    "masakari-host-monitor": "17.0.0-0ubuntu1",
    "masakari-instance-monitor": "17.0.0-0ubuntu1",
    "masakari-introspective-instance-monitor": "17.0.0-0ubuntu1",
    "masakari-process-monitor": "17.0.0-0ubuntu1",
}
CREDENTIALS = credentials_answer(
    "http://10.5.0.10:5000",
    "monitor-secret-pw",
    project_id="c0ffee",
    auth="http://10.5.0.10:35357",
)
NOVA_CONF_FQDN = (
    "[DEFAULT]\nhost = compute-1.maas\nstate_path = /var/lib/nova\n[libvirt]\nhost = x\n"
)
# oslo.config namespaces masakari-monitors reads (its generator file).
OPT_NAMESPACES = [
    "masakarimonitors.conf",
    "oslo.concurrency",
    "oslo.log",
    "oslo.service.periodic_task",
    "oslo.service.service",
]


@pytest.fixture
def host(tmp_path, monkeypatch):
    fake = FakeHost(tmp_path, fqdn=FQDN, available=PACKAGES)
    fake.unit_groups = {"masakari-host-monitor": "masakari"}
    monkeypatch.setattr(charm.MasakariMonitorsCharm, "make_host", lambda self: fake)
    return fake


@pytest.fixture
def ready(host):
    """Packages installed, nova-compute configured with the FQDN, pacemaker_remote running."""
    host.installed.update(PACKAGES)
    host.write_file("/etc/nova/nova.conf", NOVA_CONF_FQDN)
    host.running.add("pacemaker_remote")
    return host


@pytest.fixture
def machine(host, monkeypatch):
    """A fake machine whose nova.conf names the FQDN, with pacemaker-remote's node name."""
    fake = FakeMonitorsMachine(NOVA_CONF_FQDN)
    monkeypatch.setattr(charm.MasakariMonitorsCharm, "make_machine", lambda self: fake)
    return fake


@pytest.fixture
def ctx():
    return testing.Context(charm.MasakariMonitorsCharm)


def keystone(data=None) -> testing.Relation:
    return testing.Relation(
        "identity-credentials",
        "keystone-credentials",
        remote_app_name="keystone",
        remote_units_data={0: CREDENTIALS if data is None else data},
    )


def pacemaker_node(data=None) -> testing.SubordinateRelation:
    """pacemaker-remote on this machine, publishing ``data`` (default: the FQDN as node name)."""
    return testing.SubordinateRelation(
        "pacemaker-node",
        "pacemaker-node-name",
        remote_app_name="pacemaker-remote",
        remote_unit_data={"node-name": FQDN} if data is None else data,
    )


def state(
    *, config=None, with_keystone=True, keystone_data=None, node=None, with_node=True, extra=()
) -> testing.State:
    """nova-compute, keystone (unless not ``with_keystone``) and pacemaker-remote on ``node``."""
    rels = [testing.SubordinateRelation("container", remote_app_name="nova-compute")]
    if with_keystone:
        rels.append(keystone(keystone_data))
    if with_node:
        rels.append(pacemaker_node(node))
    return testing.State(config=config or {}, relations=[*rels, *extra])


# Print the adversarial suite's figures (cases, exceptions, invalid files, leaks) at the end.
from openstack_charm_testing.adversarial import pytest_terminal_summary  # noqa: E402, F401
