"""Fixtures: a FakeHost in place of the machine, and relation data of a full deployment.

``host``/``installed`` run the charm's real :class:`masakari_machine.Machine` on the
FakeHost, for tests of what lands on the machine; ``machine`` (on an installed unit)
replaces it with :class:`fake_machine.FakeMachine`, for tests of what the charm decides.
"""

from __future__ import annotations

import base64
import json

import charm
import pytest
from openstack_charm_lib import tls
from openstack_charm_lib.relations.amqp import rabbitmq_answer
from openstack_charm_lib.relations.identity_service import keystone_answer
from openstack_charm_lib.relations.shared_db import mysql_answer
from openstack_charm_testing import FakeHost
from openstack_charm_testing.adversarial import pytest_terminal_summary  # noqa: F401
from openstack_charm_testing.pki import pki
from ops import testing

UNIT = "masakari/0"
MASAKARI_VERSION = "17.0.0-0ubuntu1"
MASAKARI_PACKAGES = (
    "masakari-api",
    "masakari-engine",
    "masakari-common",
    "python3-sqlalchemy-utils",
)
PACKAGE_VERSIONS = dict.fromkeys(MASAKARI_PACKAGES, MASAKARI_VERSION) | {
    "apache2": "2.4.58-1ubuntu8",
    "libapache2-mod-wsgi-py3": "5.0.0-1",
    "haproxy": "2.8.5-1ubuntu3",
    "memcached": "1.6.24-1build3",
    "python3-memcache": "1.59-8",
}
SERVICE_PORTS = {"haproxy": [15868, 8404, 8405], "apache2": [15858, 15848], "memcached": [11211]}

# oslo.config namespaces whose options masakari reads (masakari's generator file, plus
# oslo.concurrency, which masakari uses but the generator file leaves out).
OPT_NAMESPACES = [
    "masakari.conf",
    "keystonemiddleware.auth_token",
    "oslo.db",
    "oslo.log",
    "oslo.messaging",
    "oslo.middleware",
    "oslo.policy",
    "oslo.service.service",
    "oslo.service.wsgi",
    "oslo.versionedobjects",
    "oslo.concurrency",
]

KEYSTONE_DATA = keystone_answer(
    "http://10.5.0.10:5000",
    "ks-secret-pw",
    project_id="c0ffee",
    auth="http://10.5.0.11:35357",
    internal="http://10.6.0.10:5000",
)
DB_DATA = mysql_answer("db-secret/pw", UNIT)
AMQP_UNITS = {
    0: rabbitmq_answer("10.5.0.21", "mq-secret-pw"),
    1: rabbitmq_answer("10.5.0.20", "mq-secret-pw"),
}

CA_PEM, CERT_PEM, KEY_PEM = (pki()[name] for name in ("ca", "cert", "key"))


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture
def host(tmp_path, monkeypatch):
    fake = FakeHost(
        tmp_path,
        fqdn="juju-m-0.maas",
        series="noble",
        cpus=4,
        available=PACKAGE_VERSIONS,
        service_ports=SERVICE_PORTS,
    )
    monkeypatch.setattr(charm.MasakariCharm, "make_host", lambda self: fake)
    return fake


@pytest.fixture
def installed(host):
    """A unit whose packages are installed and whose origin was applied."""
    host.installed.update(PACKAGE_VERSIONS)
    return host


@pytest.fixture
def machine(installed, monkeypatch):
    from fake_machine import FakeMachine

    fake = FakeMachine()
    monkeypatch.setattr(charm.MasakariCharm, "make_machine", lambda self: fake)
    return fake


@pytest.fixture
def ctx():
    return testing.Context(charm.MasakariCharm)


def network(name: str, address: str, cidr: str, iface: str = "eth0") -> testing.Network:
    return testing.Network(
        name,
        bind_addresses=[
            testing.BindAddress([testing.Address(address, cidr=cidr)], interface_name=iface)
        ],
        ingress_addresses=[address],
        egress_subnets=[cidr],
    )


def networks(address: str = "10.5.0.50", cidr: str = "10.5.0.0/24") -> list[testing.Network]:
    return [
        network(n, address, cidr) for n in ("cluster", "public", "internal", "admin", "shared-db")
    ]


def db_relation(data=None) -> testing.Relation:
    return testing.Relation(
        "shared-db",
        "mysql-shared",
        remote_app_name="masakari-mysql-router",
        remote_units_data={0: DB_DATA if data is None else data},
    )


def amqp_relation(units=None) -> testing.Relation:
    return testing.Relation(
        "amqp",
        "rabbitmq",
        remote_app_name="rabbitmq-server",
        remote_units_data=AMQP_UNITS if units is None else units,
    )


def keystone_relation(data=None) -> testing.Relation:
    return testing.Relation(
        "identity-service",
        "keystone",
        remote_app_name="keystone",
        remote_units_data={0: KEYSTONE_DATA if data is None else data},
    )


def certificates_relation(cns, chain="") -> testing.Relation:
    """vault, having issued a certificate for each of ``cns``."""
    issued = {cn: {"cert": CERT_PEM, "key": KEY_PEM} for cn in cns}
    data = tls.vault_answer("masakari/0", issued, CA_PEM, chain)
    return testing.Relation(
        "certificates", "tls-certificates", remote_app_name="vault", remote_units_data={0: data}
    )


def peer_relation(peers=None, app_data=None) -> testing.PeerRelation:
    return testing.PeerRelation(
        "cluster", "openstack-ha", peers_data=peers or {}, local_app_data=app_data or {}
    )


def ha_relation(clustered: bool = True, local=None) -> testing.SubordinateRelation:
    return testing.SubordinateRelation(
        "ha",
        "hacluster",
        remote_app_name="hacluster",
        remote_unit_data={"clustered": "yes"} if clustered else {},
        local_unit_data=local or {},
    )


def synced(release: str = "caracal") -> dict[str, str]:
    return {"db-synced-release": release}


def full_state(
    *, leader=True, config=None, extra=(), peers=None, app_data=None, **kw
) -> testing.State:
    rels = [
        db_relation(),
        amqp_relation(),
        keystone_relation(),
        peer_relation(peers, app_data),
        *extra,
    ]
    return testing.State(
        leader=leader,
        config=config or {},
        relations=rels,
        networks=networks(),
        **kw,
    )


def decoded(data: dict[str, str]) -> dict:
    return {k: json.loads(v) if k.startswith("json_") else v for k, v in data.items()}


@pytest.fixture
def fake(monkeypatch):
    """A fake masakari (and nova) that the charm's API client talks to."""
    from fake_masakari_api import FakeMasakari
    from masakari_api import MasakariApi

    api = FakeMasakari()

    def client(credentials, page_size):
        return MasakariApi(credentials, page_size=page_size, transport=api)

    monkeypatch.setattr(charm.MasakariCharm, "api_factory", client)
    return api
