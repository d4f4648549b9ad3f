"""Each state of the pacemaker-remote charm, the published bag and the authkey."""

from __future__ import annotations

import dataclasses
import json

import ops
import pacemaker_remote as pr
import pytest
import remote_relation as rr
from conftest import FQDN, KEY, KEY_B64, hacluster, published, state
from ops import testing


def test_install_without_relation_installs_and_asks_for_hacluster(ctx, host):
    out = ctx.run(ctx.on.install(), state(with_relation=False))
    install = host.ran("apt-get", "install")[0]
    assert {"pacemaker-remote", "resource-agents"} <= set(install)
    assert not {"corosync", "pcs", "pacemaker"} & set(install)
    assert out.unit_status == ops.BlockedStatus(
        "Missing relation: relate pacemaker-remote to hacluster (pacemaker-remote endpoint)"
    )
    assert "pacemaker_remote" not in host.running
    assert {p.port for p in out.opened_ports} == {3121}


def test_exact_published_bag(ctx, installed):
    out = ctx.run(ctx.on.config_changed(), state())
    assert published(out) == {
        "remote-hostname": '"compute-1.maas"',
        "remote-ip": '"10.5.0.21"',
        "stonith-hostname": "null",
        "enable-resources": "false",
    }


def test_bag_with_stonith_and_overrides(ctx, installed):
    installed.resolvable.add("node7.maas")
    config = {
        "enable-stonith": True,
        "enable-resources": True,
        "remote-hostname": "node7",
        "stonith-hostname": "node7.maas",
    }
    out = ctx.run(ctx.on.config_changed(), state(config=config))
    assert published(out) == {
        "remote-hostname": '"node7"',
        "remote-ip": '"10.5.0.21"',
        "stonith-hostname": '"node7.maas"',
        "enable-resources": "true",
    }
    assert out.unit_status == ops.ActiveStatus("Pacemaker remote node node7 (stonith on)")


@pytest.mark.parametrize("remote", ["compute-1.example.com", "node7.example.com", "node"])
def test_stonith_name_that_does_not_fence_the_node_blocks_and_publishes_null(
    ctx, installed, remote
):
    installed.resolvable.add("node7.maas")
    config = {"enable-stonith": True, "remote-hostname": remote, "stonith-hostname": "node7.maas"}
    out = ctx.run(ctx.on.config_changed(), state(config=config))
    assert out.unit_status == ops.BlockedStatus(
        "enable-stonith: hacluster's st-maas fences 'node7.maas' or 'node7', not this node "
        f"({remote!r}): make remote-hostname one of them or set stonith-hostname to the MAAS "
        "FQDN of which remote-hostname is the name or short name"
    )
    assert published(out)["stonith-hostname"] == "null"
    assert published(out)["remote-hostname"] == json.dumps(remote)


@pytest.mark.parametrize("remote", ["node7.maas", "node7"])
def test_stonith_name_whose_listed_names_include_the_node_is_published(ctx, installed, remote):
    installed.resolvable.add("node7.maas")
    config = {"enable-stonith": True, "remote-hostname": remote, "stonith-hostname": "node7.maas"}
    out = ctx.run(ctx.on.config_changed(), state(config=config))
    assert out.unit_status.name == "active"
    hostnames = rr.fenced_names(json.loads(published(out)["stonith-hostname"]))
    assert json.loads(published(out)["remote-hostname"]) in hostnames


def test_key_written_root_haclient_0440_and_service_started(ctx, installed):
    out = ctx.run(ctx.on.config_changed(), state())
    assert installed.read_bytes(pr.AUTHKEY) == KEY
    assert installed.owner_of(pr.AUTHKEY) == ("root", "haclient", 0o440)
    assert "pacemaker_remote" in installed.running
    assert out.unit_status == ops.ActiveStatus(f"Pacemaker remote node {FQDN} (stonith off)")


def test_service_restarted_only_when_the_key_changes(ctx, installed):
    out = ctx.run(ctx.on.config_changed(), state())
    installed.clear()
    ctx.run(ctx.on.update_status(), out)
    assert installed.restarted() == []
    assert not [c for c in installed.commands if c[0] not in ("systemctl", "dpkg-query")]
    new_key = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="
    ctx.run(ctx.on.config_changed(), state(relation=hacluster({0: {"pacemaker-key": new_key}})))
    assert installed.restarted() == ["pacemaker_remote"]


def test_waiting_for_the_key_keeps_the_service_stopped(ctx, installed):
    installed.running.add("pacemaker_remote")  # the package started it
    out = ctx.run(ctx.on.config_changed(), state(relation=hacluster({0: {}})))
    assert out.unit_status == ops.WaitingStatus("Waiting for the pacemaker authkey from hacluster")
    assert "pacemaker_remote" not in installed.running


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("not base64!", "pacemaker-key from hacluster is not valid base64"),
        ("QUJD", "pacemaker-key from hacluster is 3 bytes; expected 16 to 4096"),
    ],
)
def test_invalid_key_blocks_naming_relation_unit_and_field(ctx, installed, key, message):
    out = ctx.run(ctx.on.config_changed(), state(relation=hacluster({0: {"pacemaker-key": key}})))
    assert out.unit_status == ops.BlockedStatus(
        f"pacemaker-remote relation, masakari-hacluster/0: {message}"
    )
    assert not installed.exists(pr.AUTHKEY)


def test_disagreeing_hacluster_units_block_naming_them(ctx, installed):
    other = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="
    relation = hacluster({0: {"pacemaker-key": KEY_B64}, 1: {"pacemaker-key": other}})
    out = ctx.run(ctx.on.config_changed(), state(relation=relation))
    assert out.unit_status == ops.BlockedStatus(
        "hacluster units send different pacemaker-key values "
        "(masakari-hacluster/0, masakari-hacluster/1); "
        "set hacluster's pacemaker_key option so that they agree"
    )


def test_service_failure_blocks(ctx, installed):
    installed.failing["systemctl restart"] = 1
    out = ctx.run(ctx.on.config_changed(), state())
    assert out.unit_status == ops.BlockedStatus(
        "pacemaker_remote is not running; see 'journalctl -u pacemaker_remote'"
    )


def test_service_not_listening_blocks(ctx, installed):
    installed.service_ports["pacemaker_remote"] = set()
    out = ctx.run(ctx.on.config_changed(), state())
    assert out.unit_status == ops.BlockedStatus(
        "pacemaker_remote runs but does not listen on 3121"
    )


def test_stonith_without_a_resolvable_maas_name_blocks_and_publishes_null(ctx, installed):
    installed.resolvable.clear()
    out = ctx.run(ctx.on.config_changed(), state(config={"enable-stonith": True}))
    assert out.unit_status == ops.BlockedStatus(
        "enable-stonith: 'compute-1.maas' is not a name MAAS resolves; "
        "set stonith-hostname to the machine's MAAS FQDN"
    )
    assert published(out)["stonith-hostname"] == "null"


def test_stonith_with_a_short_name_blocks(ctx, installed):
    installed.resolvable.add("compute1")
    config = {"enable-stonith": True, "stonith-hostname": "compute1"}
    out = ctx.run(ctx.on.config_changed(), state(config=config))
    assert out.unit_status.name == "blocked"
    assert "'compute1' is not a name MAAS resolves" in out.unit_status.message


@pytest.mark.parametrize("option", ["remote-hostname", "stonith-hostname"])
def test_invalid_names_block_naming_the_option(ctx, installed, option):
    config = {option: "bad name!", "enable-stonith": True}
    out = ctx.run(ctx.on.config_changed(), state(config=config))
    assert out.unit_status == ops.BlockedStatus(f"{option} 'bad name!' is not a valid host name")
    assert installed.commands == []


def test_stonith_hostname_counts_only_with_enable_stonith(ctx, installed):
    out = ctx.run(ctx.on.config_changed(), state(config={"stonith-hostname": "bad name!"}))
    assert out.unit_status.message == "Pacemaker remote node compute-1.maas (stonith off)"
    assert published(out)["stonith-hostname"] == "null"


def test_relation_broken_stops_the_service_and_removes_the_key(ctx, installed):
    out = ctx.run(ctx.on.config_changed(), state())
    assert installed.exists(pr.AUTHKEY)
    relation = next(r for r in out.relations if r.endpoint == "pacemaker-remote")
    out = ctx.run(ctx.on.relation_broken(relation), out)
    assert not installed.exists(pr.AUTHKEY)
    assert "pacemaker_remote" not in installed.running
    assert out.unit_status.name == "blocked"


def test_corosync_leftover_config_is_removed_unless_corosync_runs(ctx, installed):
    installed.write_file("/etc/corosync/corosync.conf", "totem {}\n")
    ctx.run(ctx.on.config_changed(), state())
    assert not installed.exists("/etc/corosync/corosync.conf")
    installed.write_file("/etc/corosync/corosync.conf", "totem {}\n")
    installed.running.add("corosync")
    ctx.run(ctx.on.config_changed(), state())
    assert installed.exists("/etc/corosync/corosync.conf")


def test_install_failure_blocks(ctx, host):
    host.failing["apt-get install"] = 100
    out = ctx.run(ctx.on.install(), state())
    assert out.unit_status == ops.BlockedStatus(
        "Package installation failed (apt-get exited 100); retrying"
    )


def test_pause_resume_and_restart(ctx, installed):
    import ops.testing as testing

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


def test_relation_broken_removes_the_key_even_when_an_option_is_invalid(ctx, installed):
    out = ctx.run(ctx.on.config_changed(), state())
    assert installed.exists(pr.AUTHKEY)
    bad = dataclasses.replace(out, config={"remote-hostname": "bad name!"})
    relation = next(r for r in bad.relations if r.endpoint == "pacemaker-remote")
    gone = ctx.run(ctx.on.relation_broken(relation), bad)
    assert gone.unit_status.name == "blocked"
    assert not installed.exists(pr.AUTHKEY)
    assert "pacemaker_remote" not in installed.running


def test_no_address_on_the_binding_waits_and_publishes_nothing(ctx, installed):
    base = state()
    network = testing.Network("pacemaker-remote", bind_addresses=[], ingress_addresses=[])
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(base, networks=[network]))
    assert out.unit_status == ops.WaitingStatus(
        "pacemaker-remote relation: no IP address on this unit's pacemaker-remote binding yet"
    )
    assert "remote-hostname" not in published(out)
