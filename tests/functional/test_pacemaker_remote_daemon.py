"""pacemaker_remoted with the pacemaker-remote charm's authkey, joined by a real cluster.

The real pacemaker_remoted runs with the authkey the charm wrote, and a real Pacemaker
cluster node connects to it using the data the charm published.

The cluster node and the remote nodes run in network namespaces this test creates; the
remote primitive is created from the charm's relation data the way hacluster does.
"""

from __future__ import annotations

import ast
import base64
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

import pacemaker_cluster as pc
import pytest
from openstack_charm_lib.host import Host
from openstack_charm_lib.testing import FakeHost
from ops import testing

ROOT = Path(__file__).resolve().parents[2]
CHARM_DIR = ROOT / "charms" / "pacemaker-remote"
MISSING = pc.missing_tools()
pytestmark = pytest.mark.skipif(
    (bool(MISSING) or os.geteuid() != 0) and not os.environ.get("CI"),
    reason=f"needs root and {', '.join(MISSING) or 'nothing else'} (.ci/run installs them)",
)


@pytest.fixture(scope="module")
def charm_module():
    """The pacemaker-remote charm module, imported from its staged tree."""
    sys.path[:0] = [str(CHARM_DIR / "src"), str(CHARM_DIR / "lib")]
    name = "pacemaker_remote_charm"
    spec = importlib.util.spec_from_file_location(name, CHARM_DIR / "src" / "charm.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class RealFilesHost(FakeHost):
    """Files written with real ownership; packages and services still simulated."""

    chown = Host.chown
    stat_owner_mode = Host.stat_owner_mode

    def write_file(self, path, content, *, owner="root", group="root", mode=0o644):
        return Host.write_file(self, path, content, owner=owner, group=group, mode=mode)


def hacluster_decode(value: str):
    """Hacluster's parse_data: JSON first, then a Python literal."""
    try:
        return json.loads(value)
    except ValueError:
        return ast.literal_eval(value)


def run_charm(charm_module, root: Path, key: bytes, address: str, hostname: str) -> dict:
    """Run the charm's config-changed with hacluster's key; return its published bag."""
    host = RealFilesHost(root, fqdn=hostname, service_ports={"pacemaker_remote": [3121]})
    host.installed.update({"pacemaker-remote": "2.1.5", "resource-agents": "4.12"})
    charm_module.PacemakerRemoteCharm._make_host = lambda self: host
    ctx = testing.Context(charm_module.PacemakerRemoteCharm, charm_root=CHARM_DIR)
    relation = testing.Relation(
        "pacemaker-remote",
        remote_app_name="hacluster",
        remote_units_data={0: {"pacemaker-key": base64.b64encode(key).decode()}},
    )
    network = testing.Network(
        "pacemaker-remote",
        bind_addresses=[testing.BindAddress([testing.Address(address, cidr=f"{pc.SUBNET}.0/24")])],
        ingress_addresses=[address],
        egress_subnets=[f"{pc.SUBNET}.0/24"],
    )
    state = testing.State(
        relations=[
            testing.SubordinateRelation("juju-info", remote_app_name="nova-compute"),
            relation,
        ],
        networks=[network],
    )
    out = ctx.run(ctx.on.config_changed(), state)
    assert out.unit_status.name == "active", out.unit_status
    bag = next(r for r in out.relations if r.endpoint == "pacemaker-remote").local_unit_data
    return {
        k: hacluster_decode(v)
        for k, v in bag.items()
        if k in ("remote-hostname", "remote-ip", "stonith-hostname", "enable-resources")
    }


def add_remote_like_hacluster(cluster: pc.Node, bag: dict) -> None:
    """What hacluster's leader runs for each remote unit."""
    cluster.exec(
        [
            "crm",
            "configure",
            "primitive",
            bag["remote-hostname"],
            "ocf:pacemaker:remote",
            "params",
            f"server={bag['remote-ip']}",
            "reconnect_interval=60",
            "op",
            "monitor",
            "interval=30s",
        ]
    )


@pytest.fixture(scope="module")
def topology(tmp_path_factory):
    topo = pc.Topology(tmp_path_factory.mktemp("pacemaker"))
    try:
        yield topo
    finally:
        topo.close()


@pytest.fixture(scope="module")
def cluster_key():
    return os.urandom(512)


@pytest.fixture(scope="module")
def cluster(topology, cluster_key):
    node = topology.start_cluster_node("api-node-0", cluster_key)
    topology.wait_for_dc(node)
    node.exec(["crm", "configure", "property", "stonith-enabled=false"])
    return node


def wait_online(topology, cluster, name: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if topology.remote_online(cluster, name):
            return True
        time.sleep(1)
    return False


def test_remote_node_joins_with_the_charms_authkey(
    charm_module, topology, cluster, cluster_key, tmp_path
):
    address = topology.next_address()
    bag = run_charm(charm_module, tmp_path / "root", cluster_key, address, "compute-1.maas")
    assert bag == {
        "remote-hostname": "compute-1.maas",
        "remote-ip": address,
        "stonith-hostname": None,
        "enable-resources": False,
    }
    authkey = tmp_path / "root" / "etc" / "pacemaker" / "authkey"
    assert Host(tmp_path / "root").stat_owner_mode("/etc/pacemaker/authkey") == (
        "root",
        "haclient",
        0o440,
    )
    assert authkey.read_bytes() == cluster_key
    remote = topology.start_remote_node("compute-1.maas", authkey.parent)
    add_remote_like_hacluster(cluster, bag)
    started = time.monotonic()
    assert wait_online(topology, cluster, "compute-1.maas", 90), topology.logs(remote)
    print(f"remote node online {time.monotonic() - started:.1f}s after its primitive was created")


def test_a_remote_with_another_key_is_refused(charm_module, topology, cluster, tmp_path):
    address = topology.next_address()
    bag = run_charm(charm_module, tmp_path / "root", os.urandom(512), address, "compute-2.maas")
    remote = topology.start_remote_node("compute-2.maas", tmp_path / "root" / "etc" / "pacemaker")
    add_remote_like_hacluster(cluster, bag)
    assert not wait_online(topology, cluster, "compute-2.maas", 20), topology.logs(remote)
    assert topology.remote_online(cluster, "compute-1.maas")
