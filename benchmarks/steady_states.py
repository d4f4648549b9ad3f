"""Recorded steady states of each charm's unit: config, relations, bindings, machine.

Each function returns a :class:`fake_juju.UnitModel` of a unit that is fully related and
running, as Juju and the machine would answer after deployment settled. ``peers`` and
``hypervisors`` scale the relation data for the scale benchmark.
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import yaml
from fake_juju import FakeRelation, UnitModel

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "lib") not in sys.path:
    sys.path.append(str(ROOT / "lib"))  # the relations' answer builders

from openstack_charm_lib.relations.amqp import rabbitmq_answer  # noqa: E402
from openstack_charm_lib.relations.identity_credentials import credentials_answer  # noqa: E402
from openstack_charm_lib.relations.identity_service import keystone_answer  # noqa: E402
from openstack_charm_lib.relations.shared_db import mysql_answer  # noqa: E402

MASAKARI_VERSION = "17.0.0-0ubuntu1"
KEYSTONE = keystone_answer(
    "http://10.5.0.10:5000", "ks-secret-pw", project_id="c0ffee", auth="http://10.5.0.11:35357"
)
CREDENTIALS = credentials_answer(
    "http://10.5.0.10:5000",
    "monitor-secret-pw",
    project_id="c0ffee",
    auth="http://10.5.0.11:35357",
)
# 512 fixed bytes: the benchmark's hacluster authkey.
AUTHKEY = base64.b64encode(bytes(range(256)) * 2).decode()


def config_defaults(charm: str) -> dict:
    """What config-get answers for a unit nobody configured."""
    options = yaml.safe_load((ROOT / "charms" / charm / "charmcraft.yaml").read_text())
    return {
        name: spec["default"]
        for name, spec in options["config"]["options"].items()
        if spec.get("default") is not None
    }


def masakari(peers: int = 2, hypervisors: int = 0, segments: int = 1) -> UnitModel:
    """A clustered masakari leader with ``peers`` other units and ``hypervisors`` related."""
    peer_units = {
        f"masakari/{i}": {
            "private-address": f"10.5.1.{i % 250}",
            "ingress-address": f"10.5.1.{i % 250}",
            **{f"{ep}-address": f"10.5.1.{i % 250}" for ep in ("public", "internal", "admin")},
        }
        for i in range(1, peers + 1)
    }
    relations = [
        FakeRelation(
            1,
            "shared-db",
            "masakari-mysql-router",
            {"masakari-mysql-router/0": mysql_answer("db-secret-pw", "masakari/0")},
        ),
        FakeRelation(
            2,
            "amqp",
            "rabbitmq-server",
            {"rabbitmq-server/0": rabbitmq_answer("10.5.0.21", "mq-secret-pw")},
        ),
        FakeRelation(3, "identity-service", "keystone", {"keystone/0": dict(KEYSTONE)}),
        FakeRelation(
            4, "cluster", "masakari", peer_units, local_app_data={"db-synced-release": "caracal"}
        ),
        FakeRelation(6, "ha", "hacluster", {"hacluster/0": {"clustered": "yes"}}),
    ]
    if hypervisors:
        relations.append(
            FakeRelation(
                5,
                "hosts",
                "masakari-monitors",
                {
                    f"masakari-monitors/{i}": {
                        "hostname": f"compute-{i:04d}.maas",
                        "segment": f"rack-{i % segments}",
                        "reserved": "false",
                    }
                    for i in range(hypervisors)
                },
            )
        )
    return UnitModel(
        unit="masakari/0",
        leader=True,
        config={**config_defaults("masakari"), "vip": "10.5.0.100"},
        relations=relations,
        bindings=dict.fromkeys(
            ("cluster", "public", "internal", "admin", "shared-db", "identity-service", "ha"),
            "10.5.0.50",
        ),
        packages=dict.fromkeys(
            (
                "masakari-api",
                "masakari-engine",
                "masakari-common",
                "python3-masakari",
                "python3-sqlalchemy-utils",
                "apache2",
                "libapache2-mod-wsgi-py3",
                "haproxy",
                "memcached",
                "python3-memcache",
            ),
            MASAKARI_VERSION,
        ),
        services={
            "haproxy": "haproxy",
            "apache2": "root",
            "masakari-engine": "masakari",
            "memcached": "memcache",
            "masakari-exporter": "root",  # the leader's state exporter
        },
    )


def pacemaker_remote(hacluster_units: int = 3) -> UnitModel:
    """A pacemaker-remote unit whose authkey came from ``hacluster_units`` units."""
    return UnitModel(
        unit="pacemaker-remote/0",
        leader=True,
        config=config_defaults("pacemaker-remote"),
        relations=[
            FakeRelation(1, "juju-info", "nova-compute", {"nova-compute/0": {}}),
            FakeRelation(
                2,
                "pacemaker-remote",
                "hacluster",
                {f"hacluster/{i}": {"pacemaker-key": AUTHKEY} for i in range(hacluster_units)},
            ),
        ],
        bindings={"pacemaker-remote": "10.5.0.60", "juju-info": "10.5.0.60"},
        packages={"pacemaker-remote": "2.1.6-5ubuntu2", "resource-agents": "1:4.13.0-1ubuntu4"},
        services={"pacemaker_remote": "haclient", "pacemaker-remote-health": "root"},
    )


def masakari_monitors(hostname: str, masakari_units: int = 3) -> UnitModel:
    """A masakari-monitors unit on hypervisor ``hostname``."""
    return UnitModel(
        unit="masakari-monitors/0",
        leader=True,
        config={**config_defaults("masakari-monitors"), "hostname": hostname},
        relations=[
            FakeRelation(1, "container", "nova-compute", {"nova-compute/0": {}}),
            FakeRelation(2, "identity-credentials", "keystone", {"keystone/0": dict(CREDENTIALS)}),
            FakeRelation(
                3, "registration", "masakari", {f"masakari/{i}": {} for i in range(masakari_units)}
            ),
            # pacemaker-remote on the same machine: the node name it registered.
            FakeRelation(
                4,
                "pacemaker-node",
                "pacemaker-remote",
                {"pacemaker-remote/0": {"node-name": hostname}},
            ),
        ],
        bindings={
            "container": "10.5.0.60",
            "registration": "10.5.0.60",
            "pacemaker-node": "10.5.0.60",
        },
        packages={
            "masakari-host-monitor": MASAKARI_VERSION,
            "masakari-instance-monitor": MASAKARI_VERSION,
        },
        services={
            "masakari-host-monitor": "masakari",
            "masakari-instance-monitor": "masakari",
            "pacemaker_remote": "haclient",
            "masakari-monitors-health": "root",
        },
    )
