"""Fixtures: the compute machine (a FakeHost), the node (real, or a fake), hacluster's side.

``host``/``installed`` run the charm's real :class:`pacemaker_remote.RemoteNode` on a
FakeHost, for tests of what lands on the machine; ``node`` replaces the RemoteNode with
:class:`fake_remote_node.FakeRemoteNode`, for tests of what the charm decides.
"""

from __future__ import annotations

import base64

import charm
import pytest
from fake_remote_node import FakeRemoteNode
from openstack_charm_testing import FakeHost
from ops import testing

FQDN = "compute-1.maas"
KEY = bytes(range(256)) * 2  # a 512-byte authkey
KEY_B64 = base64.b64encode(KEY).decode()
PACKAGES = {"pacemaker-remote": "2.1.6-5ubuntu2", "resource-agents": "1:4.13.0-1ubuntu2"}


@pytest.fixture
def host(tmp_path, monkeypatch):
    fake = FakeHost(
        tmp_path, fqdn=FQDN, available=PACKAGES, service_ports={"pacemaker_remote": [3121]}
    )
    monkeypatch.setattr(charm.PacemakerRemoteCharm, "make_host", lambda self: fake)
    return fake


@pytest.fixture
def installed(host):
    host.installed.update(PACKAGES)
    return host


@pytest.fixture
def node(host, monkeypatch):
    fake = FakeRemoteNode(FQDN)
    monkeypatch.setattr(charm.PacemakerRemoteCharm, "make_node", lambda self: fake)
    return fake


@pytest.fixture
def ctx():
    return testing.Context(charm.PacemakerRemoteCharm)


def container() -> testing.SubordinateRelation:
    return testing.SubordinateRelation("juju-info", remote_app_name="nova-compute")


def hacluster(units: dict[int, dict[str, str]] | None = None) -> testing.Relation:
    if units is None:
        units = {0: {"pacemaker-key": KEY_B64}, 1: {"pacemaker-key": KEY_B64}}
    return testing.Relation(
        "pacemaker-remote",
        "pacemaker-remote",
        remote_app_name="masakari-hacluster",
        remote_units_data=units,
    )


def remote_network(address: str = "10.5.0.21") -> testing.Network:
    return testing.Network(
        "pacemaker-remote",
        bind_addresses=[testing.BindAddress([testing.Address(address, cidr="10.5.0.0/24")])],
        ingress_addresses=[address],
        egress_subnets=["10.5.0.0/24"],
    )


def state(*, config=None, relation=None, with_relation=True) -> testing.State:
    rels = [container()]
    if with_relation:
        rels.append(relation if relation is not None else hacluster())
    return testing.State(config=config or {}, relations=rels, networks=[remote_network()])


def published(out) -> dict[str, str]:
    rel = next(r for r in out.relations if r.endpoint == "pacemaker-remote")
    return {
        k: v for k, v in rel.local_unit_data.items() if not k.endswith(("-address", "subnets"))
    }


# Print the adversarial suite's figures (cases, exceptions, invalid files, leaks) at the end.
from openstack_charm_testing.adversarial import pytest_terminal_summary  # noqa: E402, F401
