"""What pacemaker-remote leaves on the machine: :class:`RemoteNode`'s steps on a FakeHost.

The charm's decisions are tested against a fake node (``test_charm.py``); here the real
node acts on a simulated machine: the packages, the key file, the service, the corosync
leftovers, and the whole charm's replays, pause, resume and restart.
"""

from __future__ import annotations

import ops
import pacemaker_remote as pr
import pytest
from conftest import FQDN, KEY, PACKAGES, hacluster, state
from openstack_charm_lib.host import CommandError
from openstack_charm_testing.seams import assert_same_steps
from ops import testing


class Record:
    sources_updated = False


def remote_node(host) -> pr.RemoteNode:
    return pr.RemoteNode(host, Record(), lambda _message: None)


def test_install_installs_the_remote_packages_only_and_leaves_the_service_stopped(host):
    host.maintainer_starts = {"pacemaker-remote": ["pacemaker_remote"]}
    remote_node(host).install()
    install = host.ran("apt-get", "install")[0]
    assert set(PACKAGES) <= set(install)
    assert not {"corosync", "pcs", "pacemaker"} & set(install)
    assert set(PACKAGES) <= set(host.installed)
    assert "pacemaker_remote" not in host.running


def test_install_refreshes_the_index_once_and_asks_nothing_when_installed(host):
    record = Record()
    node = pr.RemoteNode(host, record, lambda _message: None)
    node.install()
    assert record.sources_updated and len(host.ran("apt-get", "update")) == 1
    host.clear()
    node.install()
    assert not host.ran("apt-get")


def test_install_failure_raises(host):
    host.failing["apt-get install"] = 100
    with pytest.raises(CommandError, match="apt-get exited 100"):
        remote_node(host).install()


def test_key_written_root_haclient_0440_and_changed_only_when_it_differs(installed):
    node = remote_node(installed)
    assert node.write_key(KEY)
    assert installed.read_bytes(pr.AUTHKEY) == KEY
    assert installed.owner_of(pr.AUTHKEY) == ("root", "haclient", 0o440)
    assert not node.write_key(KEY)


def test_run_restarts_on_a_new_key_and_only_then(installed):
    node = remote_node(installed)
    assert node.run(key_changed=True) is None
    assert installed.restarted() == ["pacemaker_remote"]
    assert "pacemaker_remote" in installed.enabled | installed.running
    installed.clear()
    assert node.run(key_changed=False) is None
    assert installed.restarted() == []


def test_run_says_when_the_service_does_not_start(installed):
    installed.failing["systemctl restart"] = 1
    assert remote_node(installed).run(key_changed=True) == (
        "pacemaker_remote is not running; see 'journalctl -u pacemaker_remote'"
    )


def test_run_says_when_the_service_does_not_listen(installed):
    installed.service_ports["pacemaker_remote"] = set()
    assert remote_node(installed).run(key_changed=True) == (
        "pacemaker_remote runs but does not listen on 3121"
    )


def test_corosync_leftover_config_is_removed_unless_corosync_runs(installed):
    node = remote_node(installed)
    installed.write_file("/etc/corosync/corosync.conf", "totem {}\n")
    node.remove_corosync_leftovers()
    assert not installed.exists("/etc/corosync/corosync.conf")
    installed.write_file("/etc/corosync/corosync.conf", "totem {}\n")
    installed.running.add("corosync")
    node.remove_corosync_leftovers()
    assert installed.exists("/etc/corosync/corosync.conf")


def test_forget_cluster_stops_the_service_and_removes_the_key(installed):
    node = remote_node(installed)
    node.write_key(KEY)
    node.run(key_changed=True)
    node.forget_cluster()
    assert not installed.exists(pr.AUTHKEY)
    assert "pacemaker_remote" not in installed.running


def test_stonith_names_are_checked_against_what_the_machine_resolves(installed):
    node = remote_node(installed)
    assert node.stonith_problem(FQDN, FQDN) is None
    assert node.stonith_problem(FQDN, None) is None
    assert "is not a name MAAS resolves" in (node.stonith_problem(FQDN, "other.maas") or "")


# -- the whole charm on the simulated machine ------------------------------------------
def test_a_deployed_node_serves_with_hacluster_key(ctx, installed):
    out = ctx.run(ctx.on.config_changed(), state())
    assert installed.read_bytes(pr.AUTHKEY) == KEY
    assert "pacemaker_remote" in installed.running
    assert out.unit_status == ops.ActiveStatus(f"Pacemaker remote node {FQDN} (stonith off)")


def test_a_replay_only_asks_the_machine_questions(ctx, installed):
    out = ctx.run(ctx.on.config_changed(), state())
    installed.clear()
    ctx.run(ctx.on.update_status(), out)
    assert installed.restarted() == []
    assert not [c for c in installed.commands if c[0] not in ("systemctl", "dpkg-query")]
    new_key = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="
    ctx.run(ctx.on.config_changed(), state(relation=hacluster({0: {"pacemaker-key": new_key}})))
    assert installed.restarted() == ["pacemaker_remote"]


def test_invalid_options_run_no_command(ctx, installed):
    out = ctx.run(ctx.on.config_changed(), state(config={"remote-hostname": "bad name!"}))
    assert out.unit_status.name == "blocked"
    assert installed.commands == []


def test_relation_broken_leaves_no_key_and_no_service(ctx, installed):
    out = ctx.run(ctx.on.config_changed(), state())
    relation = next(r for r in out.relations if r.endpoint == "pacemaker-remote")
    ctx.run(ctx.on.relation_broken(relation), out)
    assert not installed.exists(pr.AUTHKEY)
    assert "pacemaker_remote" not in installed.running


def test_pause_resume_and_restart(ctx, installed):
    out = ctx.run(ctx.on.config_changed(), state())
    out = ctx.run(ctx.on.action("pause"), out)
    assert ctx.action_results == {"stopped": "pacemaker_remote"}
    out = ctx.run(ctx.on.update_status(), out)
    assert "pacemaker_remote" not in installed.running
    assert out.unit_status.name == "maintenance"
    with pytest.raises(testing.ActionFailed, match="paused"):
        ctx.run(ctx.on.action("restart-services"), out)
    out = ctx.run(ctx.on.action("resume"), out)
    assert ctx.action_results["started"] == "pacemaker_remote"
    assert out.unit_status == ops.ActiveStatus(f"Pacemaker remote node {FQDN} (stonith off)")
    installed.clear()
    ctx.run(ctx.on.action("restart-services"), out)
    assert installed.restarted() == ["pacemaker_remote"]


def test_the_fake_node_of_the_charm_tests_offers_what_remote_node_offers():
    from fake_remote_node import FakeRemoteNode

    assert_same_steps(FakeRemoteNode, pr.RemoteNode)
