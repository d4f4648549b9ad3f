"""pacemaker_remoted with the pacemaker-remote charm's authkey, joined by a real cluster.

The real pacemaker_remoted runs with the authkey the charm wrote, and a real Pacemaker
cluster node connects to it using the data the charm published.

The cluster node and the remote nodes run in network namespaces this test creates; the
remote primitive is created from the charm's relation data the way hacluster does. The
charm's health daemon and Nagios check, run on a remote node, follow the cluster's view.
"""

from __future__ import annotations

import json
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


def test_the_health_daemon_and_its_check_follow_the_clusters_view(
    topology, cluster, cluster_key, tmp_path
):
    """The charm's daemon and Nagios check, run on the remote node, as the cluster sees it."""
    name = "compute-3.maas"
    address = topology.next_address()
    root = tmp_path / "root"
    bag = charm_runs.run_pacemaker_remote(root, cluster_key, address, name)
    unit = charm_runs.watch_pacemaker_remote(root, cluster_key, address, name)
    config = json.loads(unit.daemon_config.read_text())
    assert config["node_name"] == name
    # Redirected like the stack's other host paths; a short interval keeps the test short.
    config.update(state_file=str(tmp_path / "state.json"), sample_interval=2)
    unit.daemon_config.write_text(json.dumps(config))
    remote = topology.start_remote_node(name, root / "etc" / "pacemaker")
    topology.add_remote_like_hacluster(cluster, bag)
    assert wait_online(topology, cluster, name, 90), topology.logs(remote)
    topology.spawn_in(remote, "remote-node-health", unit.daemon_argv)

    def check() -> tuple[int, str]:
        line = unit.checks["check_pacemaker-remote-node"]
        proc = remote.exec(["sh", "-c", line], check=False)
        return proc.returncode, proc.stdout.strip()

    def wait_for(code: int, seconds: float) -> str:
        deadline = time.monotonic() + seconds
        while (found := check())[0] != code:
            assert time.monotonic() < deadline, (found, topology.logs(remote))
            time.sleep(1)
        return found[1]

    wait_for(0, 60)  # OK: the cluster sees the node online
    cluster.exec(["crm", "resource", "stop", name])
    wait_for(2, 90)  # CRITICAL: the cluster no longer runs the node's connection
    cluster.exec(["crm", "resource", "start", name])
    assert wait_online(topology, cluster, name, 90)
    wait_for(0, 60)
