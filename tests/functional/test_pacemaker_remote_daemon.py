"""pacemaker_remoted with the pacemaker-remote charm's authkey, joined by a real cluster.

The real pacemaker_remoted runs with the authkey the charm wrote, and a real Pacemaker
cluster node connects to it using the data the charm published.

The cluster node and the remote nodes run in network namespaces this test creates; the
remote primitive is created from the charm's relation data the way hacluster does.
"""

from __future__ import annotations

import os
import time

import charm_runs
import pacemaker_cluster as pc
import pytest
from openstack_charm_lib.host import Host

MISSING = pc.missing_tools()
pytestmark = pytest.mark.skipif(
    (bool(MISSING) or os.geteuid() != 0) and not os.environ.get("CI"),
    reason=f"needs root and {', '.join(MISSING) or 'nothing else'} (.ci/run installs them)",
)


@pytest.fixture(scope="module")
def topology(tmp_path_factory):
    if MISSING:
        pytest.fail(f"missing (bash .ci/run installs them): {', '.join(MISSING)}")
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


def test_remote_node_joins_with_the_charms_authkey(topology, cluster, cluster_key, tmp_path):
    address = topology.next_address()
    bag = charm_runs.run_pacemaker_remote(
        tmp_path / "root", cluster_key, address, "compute-1.maas"
    )
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
    topology.add_remote_like_hacluster(cluster, bag)
    started = time.monotonic()
    assert wait_online(topology, cluster, "compute-1.maas", 90), topology.logs(remote)
    print(f"remote node online {time.monotonic() - started:.1f}s after its primitive was created")


def test_a_remote_with_another_key_is_refused(topology, cluster, tmp_path):
    address = topology.next_address()
    bag = charm_runs.run_pacemaker_remote(
        tmp_path / "root", os.urandom(512), address, "compute-2.maas"
    )
    remote = topology.start_remote_node("compute-2.maas", tmp_path / "root" / "etc" / "pacemaker")
    topology.add_remote_like_hacluster(cluster, bag)
    assert not wait_online(topology, cluster, "compute-2.maas", 20), topology.logs(remote)
    assert topology.remote_online(cluster, "compute-1.maas")
