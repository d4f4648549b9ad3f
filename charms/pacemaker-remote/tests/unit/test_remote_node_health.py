"""The remote node health daemon: crm_mon's XML as recorded and as the real binary writes it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import remote_node_health as rnh
from openstack_charm_lib import exporter

CRM_MON = rnh.CRM_MON[0]
needs_crm_mon = pytest.mark.skipif(not os.access(CRM_MON, os.X_OK), reason="no crm_mon")

# Recorded: pacemaker 2.1.5's `crm_mon --output-as=xml -1` of a cluster node and a remote
# node whose connection hacluster's way (`primitive compute-1 ocf:pacemaker:remote`) runs.
ONLINE = """<pacemaker-result api-version="2.25" request="crm_mon --output-as=xml -1">
  <summary>
    <stack type="corosync"/>
    <current_dc present="true" version="2.1.5-a3f44794f94" name="juju-c1" id="1"
      with_quorum="true" mixed_version="false"/>
    <last_update time="Thu Dec  3 09:15:57 2026"/>
    <last_change time="Thu Dec  3 09:01:12 2026" user="root" client="crm_attribute"
      origin="juju-c1"/>
    <nodes_configured number="2"/>
    <resources_configured number="1" disabled="0" blocked="0"/>
    <cluster_options stonith-enabled="false" symmetric-cluster="true" no-quorum-policy="stop"
      maintenance-mode="false" stop-all-resources="false" stonith-timeout-ms="60000"
      priority-fencing-delay-ms="0"/>
  </summary>
  <nodes>
    <node name="compute-1" id="compute-1" online="true" standby="false" standby_onfail="false"
      maintenance="false" pending="false" unclean="false" health="green" shutdown="false"
      expected_up="false" is_dc="false" resources_running="0" type="remote"/>
    <node name="juju-c1" id="1" online="true" standby="false" standby_onfail="false"
      maintenance="false" pending="false" unclean="false" health="green"
      feature_set="&lt;3.15.1" shutdown="false" expected_up="true" is_dc="true"
      resources_running="1" type="member"/>
  </nodes>
  <resources>
    <resource id="compute-1" resource_agent="ocf:pacemaker:remote" role="Started" active="true"
      orphaned="false" blocked="false" managed="true" failed="false" failure_ignored="false"
      nodes_running_on="1">
      <node name="juju-c1" id="1" cached="true"/>
    </resource>
  </resources>
  <node_history>
    <node name="juju-c1">
      <resource_history id="compute-1" orphan="false" migration-threshold="1000000">
        <operation_history call="2" task="start" rc="0" rc_text="ok"/>
      </resource_history>
    </node>
  </node_history>
  <status code="0" message="OK"/>
</pacemaker-result>
"""
# Recorded: the same remote while its connection is still starting (reconnecting):
# Pacemaker already calls the node online.
STARTING = ONLINE.replace('role="Started"', 'role="Starting"').replace(
    'rc="0" rc_text="ok"', 'rc="193" rc_text="unknown"'
)
# Recorded: a refused connection (the start failed): node offline, resource failed.
FAILED = (
    ONLINE.replace(
        'name="compute-1" id="compute-1" online="true"',
        'name="compute-1" id="compute-1" online="false"',
    )
    .replace('failed="false"', 'failed="true"')
    .replace(
        "  <status ",
        '  <failures>\n    <failure op_key="compute-1_start_0" node="juju-c1" exitstatus="error"'
        ' exitreason="none" exitcode="1" call="2" status="complete"/>\n  </failures>\n  <status ',
    )
)
# Recorded: crm_mon 2.1.5 where no cluster answers (exit code 102).
NOT_CONNECTED = """<pacemaker-result api-version="2.25"
    request="/usr/sbin/crm_mon --output-as=xml -1">
  <status code="102" message="Not connected">
    <errors>
      <error>error: Could not connect to launcher: Connection refused</error>
      <error>crm_mon: Connection to cluster failed: Connection refused</error>
    </errors>
  </status>
</pacemaker-result>
"""
# The legacy format (`crm_mon --as-xml`, pacemaker 2.0): no <status>, node in standby.
LEGACY = """<?xml version="1.0"?>
<crm_mon version="2.0.3">
  <summary>
    <stack type="corosync" />
    <current_dc present="true" version="2.0.3-4b1f869f0f" name="juju-c1" id="1"
      with_quorum="true" />
    <nodes_configured number="3" />
    <resources_configured number="2" disabled="0" blocked="0" />
    <cluster_options stonith-enabled="true" symmetric-cluster="true" no-quorum-policy="stop"
      maintenance-mode="false" />
  </summary>
  <nodes>
    <node name="juju-c1" id="1" online="true" standby="false" standby_onfail="false"
      maintenance="false" pending="false" unclean="false" shutdown="false" expected_up="true"
      is_dc="true" resources_running="1" type="member" />
    <node name="compute-1.maas" id="compute-1.maas" online="true" standby="true"
      standby_onfail="false" maintenance="false" pending="false" unclean="false"
      shutdown="false" expected_up="false" is_dc="false" resources_running="0" type="remote" />
  </nodes>
  <resources>
    <resource id="compute-1.maas" resource_agent="ocf::pacemaker:remote" role="Started"
      active="true" orphaned="false" blocked="false" managed="true" failed="false"
      failure_ignored="false" nodes_running_on="1" >
      <node name="juju-c1" id="1" cached="false"/>
    </resource>
  </resources>
</crm_mon>
"""


def view(node="compute-1", **fields) -> rnh.NodeView:
    return rnh.NodeView(node, **fields)


@pytest.mark.parametrize(
    ("xml", "node", "expected"),
    [
        (ONLINE, "compute-1", view(cluster_reachable=True, known=True, online=True)),
        (STARTING, "compute-1", view(cluster_reachable=True, known=True, online=False)),
        (FAILED, "compute-1", view(cluster_reachable=True, known=True, online=False)),
        (ONLINE, "compute-2", view("compute-2", cluster_reachable=True)),  # not a node
        (ONLINE, "juju-c1", view("juju-c1", cluster_reachable=True, known=True, online=True)),
        (
            LEGACY,
            "compute-1.maas",
            view("compute-1.maas", cluster_reachable=True, known=True, online=True, standby=True),
        ),
        (
            LEGACY.replace('role="Started"', 'role="Starting"'),
            "compute-1.maas",
            view("compute-1.maas", cluster_reachable=True, known=True, standby=True),
        ),
        (
            ONLINE.replace('maintenance="false" pending', 'maintenance="true" pending', 1),
            "compute-1",
            view(cluster_reachable=True, known=True, online=True, maintenance=True),
        ),
        (
            ONLINE.replace('maintenance-mode="false"', 'maintenance-mode="true"'),
            "compute-1",
            view(cluster_reachable=True, known=True, online=True, maintenance=True),
        ),
        (
            NOT_CONNECTED,
            "compute-1",
            view(
                cluster_reachable=False,
                reason="crm_mon: Connection to cluster failed: Connection refused",
            ),
        ),
        (
            '<pacemaker-result><status code="105" message="No such device"/></pacemaker-result>',
            "compute-1",
            view(cluster_reachable=False, reason="No such device"),
        ),
        (
            '<pacemaker-result><status code="1"/></pacemaker-result>',
            "n",
            view("n", cluster_reachable=False, reason="no reason given"),
        ),
        ("", "n", view("n", cluster_reachable=False, reason="crm_mon's output is not XML")),
        (
            "<crm_mon",
            "n",
            view("n", cluster_reachable=False, reason="crm_mon's output is not XML"),
        ),
        ("<crm_mon/>", "n", view("n", cluster_reachable=False, reason="crm_mon listed no nodes")),
    ],
)
def test_parse_crm_mon(xml, node, expected):
    assert rnh.parse_crm_mon(xml, node) == expected


def test_only_the_node_list_counts_not_the_history():
    # <node name=...> also stands under <resources> and <node_history>: never this node.
    xml = ONLINE.replace('<node name="compute-1" id="compute-1"', '<node name="x" id="x"')
    assert rnh.parse_crm_mon(xml.replace('name="juju-c1"', 'name="compute-1"'), "compute-1") == (
        view(cluster_reachable=True, known=True, online=True)  # the member, renamed
    )
    assert not rnh.parse_crm_mon(xml, "compute-1").known


def test_a_long_reason_is_shortened_to_one_line():
    error = "crm_mon:\n" + "x" * 500
    xml = (
        f'<pacemaker-result><status code="102"><error>{error}</error></status></pacemaker-result>'
    )
    reason = rnh.parse_crm_mon(xml, "n").reason
    assert len(reason) == 120 and reason.startswith("crm_mon: xxx") and reason.endswith("...")


CIB = """<cib crm_feature_set="3.16.2" validate-with="pacemaker-3.9" epoch="10" num_updates="0"
     admin_epoch="0" have-quorum="1" dc-uuid="1">
  <configuration>
    <crm_config>
      <cluster_property_set id="cib-bootstrap-options">
        <nvpair id="opt-stonith" name="stonith-enabled" value="false"/>{options}
      </cluster_property_set>
    </crm_config>
    <nodes>
      <node id="1" uname="juju-c1"/>{nodes}
    </nodes>
    <resources>
      <primitive class="ocf" id="compute-1" provider="pacemaker" type="remote">
        <instance_attributes id="compute-1-params">
          <nvpair id="compute-1-server" name="server" value="10.0.0.21"/>
          <nvpair id="compute-1-reconnect" name="reconnect_interval" value="60"/>
        </instance_attributes>
        <operations><op id="compute-1-monitor" interval="30s" name="monitor"/></operations>
      </primitive>
    </resources>
    <constraints/>
  </configuration>
  <status>
    <node_state id="1" uname="juju-c1" in_ccm="true" crmd="online" join="member"
        expected="member">
      <lrm id="1"><lrm_resources>
        <lrm_resource id="compute-1" class="ocf" provider="pacemaker" type="remote">
          <lrm_rsc_op id="compute-1_last_0" operation_key="compute-1_start_0" operation="start"
            transition-key="1:1:0:x" transition-magic="{magic}" call-id="2" rc-code="{rc}"
            op-status="{op_status}" interval="0" on_node="juju-c1"/>
        </lrm_resource>
      </lrm_resources></lrm>
    </node_state>
    <node_state id="compute-1" uname="compute-1" remote_node="true" in_ccm="true"
        crmd="online" join="member" expected="member"/>
  </status>
</cib>
"""
MAINTENANCE_ATTRIBUTE = """
      <node id="compute-1" type="remote" uname="compute-1">
        <instance_attributes id="nodes-compute-1">
          <nvpair id="nodes-compute-1-maintenance" name="maintenance" value="true"/>
        </instance_attributes>
      </node>"""


def cib(tmp_path: Path, start: str = "ok", nodes: str = "", options: str = "") -> Path:
    rc, op_status, magic = {
        "ok": ("0", "0", "0:0;1:1:0:x"),
        "failed": ("1", "0", "0:1;1:1:0:x"),
        "pending": ("193", "-1", "-1:193;1:1:0:x"),
    }[start]
    path = tmp_path / f"cib-{start}.xml"
    path.write_text(
        CIB.format(rc=rc, op_status=op_status, magic=magic, nodes=nodes, options=options)
    )
    return path


@needs_crm_mon
@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ({}, view(cluster_reachable=True, known=True, online=True)),
        ({"start": "pending"}, view(cluster_reachable=True, known=True, online=False)),
        ({"start": "failed"}, view(cluster_reachable=True, known=True, online=False)),
        (
            {"nodes": MAINTENANCE_ATTRIBUTE},
            view(cluster_reachable=True, known=True, online=True, maintenance=True),
        ),
        (
            {"options": '\n<nvpair id="mm" name="maintenance-mode" value="true"/>'},
            view(cluster_reachable=True, known=True, online=True, maintenance=True),
        ),
    ],
)
def test_the_real_crm_mon_on_a_recorded_cluster(tmp_path, monkeypatch, kind, expected):
    # CIB_file makes crm_mon read the cluster's state from a file instead of the cluster.
    monkeypatch.setenv("CIB_file", str(cib(tmp_path, **kind)))
    assert rnh.query("compute-1") == expected


@needs_crm_mon
def test_the_real_crm_mon_without_a_cluster_is_unreachable(monkeypatch):
    monkeypatch.delenv("CIB_file", raising=False)
    result = rnh.query("compute-1", timeout=20)
    assert not result.cluster_reachable and not result.online
    assert "Connection to cluster failed" in result.reason or "no answer" in result.reason


def test_query_never_raises(tmp_path):
    missing = rnh.query("n", command=(str(tmp_path / "crm_mon"),))
    assert missing == view(
        "n", cluster_reachable=False, reason="crm_mon could not run: No such file or directory"
    )
    slow = rnh.query("n", command=("sleep", "5"), timeout=0.2)
    assert slow == view("n", cluster_reachable=False, reason="crm_mon gave no answer within 0.2s")
    # XML that claims success from a command that failed: the exit code wins.
    script = tmp_path / "fake"
    script.write_text(f"#!/bin/sh\ncat <<'EOF'\n{ONLINE}EOF\nexit 1\n")
    script.chmod(0o755)
    failed = rnh.query("compute-1", command=(str(script),))
    assert failed == view(cluster_reachable=False, reason="crm_mon exited with 1")
    script.write_text("#!/bin/sh\nprintf '<a>\\377\\376</a'\n")
    garbled = rnh.query("compute-1", command=(str(script),))
    assert garbled == view(cluster_reachable=False, reason="crm_mon's output is not XML")


def test_families():
    online = view(cluster_reachable=True, known=True, online=True, maintenance=True)
    helps = rnh.METRIC_FAMILIES
    assert exporter.render(rnh.families(online)).splitlines() == [
        f"# HELP pacemaker_remote_cluster_reachable {helps['pacemaker_remote_cluster_reachable']}",
        "# TYPE pacemaker_remote_cluster_reachable gauge",
        "pacemaker_remote_cluster_reachable 1",
        f"# HELP pacemaker_remote_node_online {helps['pacemaker_remote_node_online']}",
        "# TYPE pacemaker_remote_node_online gauge",
        'pacemaker_remote_node_online{node="compute-1"} 1',
        f"# HELP pacemaker_remote_node_maintenance {helps['pacemaker_remote_node_maintenance']}",
        "# TYPE pacemaker_remote_node_maintenance gauge",
        'pacemaker_remote_node_maintenance{node="compute-1"} 1',
    ]
    unknown = view("compute-1", cluster_reachable=True)  # not a node of the cluster
    assert [f.samples for f in rnh.families(unknown)] == [
        (((), 1.0),),
        (((("node", "compute-1"),), 0.0),),
        (((("node", "compute-1"),), 0.0),),
    ]
    # Unreachable: the node's state is unknown, so its families carry no sample.
    unreachable = view(cluster_reachable=False, reason="x")
    assert [f.samples for f in rnh.families(unreachable)] == [(((), 0.0),), (), ()]
    assert [f.samples for f in rnh.families(None)] == [(), (), ()]
    assert [f.name for f in rnh.families(None)] == list(rnh.METRIC_FAMILIES)


@pytest.mark.parametrize(
    ("state", "problem"),
    [
        (None, None),
        (view(cluster_reachable=True, known=True, online=True), None),
        (view(cluster_reachable=True, known=True, online=True, standby=True), None),
        (
            view(cluster_reachable=False, reason="crm_mon exited with 1"),
            "The cluster does not answer through pacemaker_remote (crm_mon exited with 1)",
        ),
        (
            view(cluster_reachable=True),
            "The cluster has no node compute-1: see hacluster's status",
        ),
        (view(cluster_reachable=True, known=True), "The cluster sees node compute-1 offline"),
        (
            view(cluster_reachable=True, known=True, online=True, maintenance=True),
            "Node compute-1 is in Pacemaker maintenance: no recovery, no fencing",
        ),
    ],
)
def test_status_problem(state, problem):
    assert rnh.status_problem(state) == problem


def test_state_file_round_trip_and_garbage(tmp_path):
    path = tmp_path / "state.json"
    state = view(cluster_reachable=False, reason="crm_mon exited with 1")
    rnh.write_state(path, state, now=100.0)
    assert rnh.read_state(path, now=110.0) == state
    assert rnh.read_state(path, now=100.0 + rnh.STATE_MAX_AGE + 1) is None
    assert rnh.read_state(tmp_path / "absent", now=100.0) is None
    document = json.loads(path.read_text())
    for key, bad in (("online", 1), ("node", None), ("reason", 3)):
        path.write_text(json.dumps({**document, key: bad}))
        assert rnh.read_state(path, now=100.0) is None, key
    path.write_text(json.dumps({k: v for k, v in document.items() if k != "known"}))
    assert rnh.read_state(path, now=100.0) is None


def test_config_round_trip_and_refusals():
    text = rnh.config_text("compute-1.maas")
    assert json.loads(text) == {
        "listen_port": 9870,
        "node_name": "compute-1.maas",
        "state_file": "/run/pacemaker-remote-health/state.json",
    }
    assert rnh.load_config(text) == rnh.Config("compute-1.maas")
    assert rnh.load_config(text).daemon.sample_interval == 30
    for bad in (
        "",
        "{}",
        '{"node_name": ""}',
        '{"node_name": 7}',
        '{"node_name": "n", "listen_port": -1}',
    ):
        with pytest.raises(ValueError, match="invalid remote node health configuration"):
            rnh.load_config(bad)


def test_copied_modules():
    assert [p.name for p in rnh.COPIED_MODULES] == [
        "remote_node_health.py",
        "liveness.py",
        "exporter.py",
    ]


@needs_crm_mon
@pytest.mark.skipif(not os.access("/usr/bin/python3", os.X_OK), reason="no system python3")
def test_the_installed_daemon_reports_what_crm_mon_says(tmp_path):
    install = tmp_path / "install"
    install.mkdir()
    for module in rnh.COPIED_MODULES:
        shutil.copy(module, install / module.name)
    config = json.loads(
        rnh.config_text("compute-1", listen_port=0, state_file=str(tmp_path / "s"))
    )
    (tmp_path / "config.json").write_text(json.dumps({**config, "sample_interval": 0.2}))
    env = {"PATH": "/usr/bin:/bin", "CIB_file": str(cib(tmp_path, nodes=MAINTENANCE_ATTRIBUTE))}
    script = install / "remote_node_health.py"
    argv = ["/usr/bin/python3", "-E", "-s", str(script), "--config", str(tmp_path / "config.json")]
    daemon = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert daemon.stderr is not None
        lines = [daemon.stderr.readline(), daemon.stderr.readline()]
        assert "watching node compute-1" in lines[0] and "metrics on 127.0.0.1:" in lines[1]
        url = f"http://127.0.0.1:{int(lines[1].rsplit(':', 1)[1])}/metrics"
        deadline = time.monotonic() + 20
        while "pacemaker_remote_node_online{" not in (metrics := fetch(url)):
            assert time.monotonic() < deadline, metrics
            time.sleep(0.1)
        assert "pacemaker_remote_cluster_reachable 1" in metrics
        assert 'pacemaker_remote_node_online{node="compute-1"} 1' in metrics
        assert 'pacemaker_remote_node_maintenance{node="compute-1"} 1' in metrics
        # The sample is served before it is persisted: the file may lag a moment.
        while rnh.read_state(tmp_path / "s", time.time()) is None:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert rnh.read_state(tmp_path / "s", time.time()) == view(
            cluster_reachable=True, known=True, online=True, maintenance=True
        )
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=10) == 0
    finally:
        daemon.kill()
        daemon.wait()
        if daemon.stderr is not None:
            daemon.stderr.close()


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.read().decode()


@needs_crm_mon
def test_main_with_stop_set_samples_once(tmp_path, monkeypatch):
    monkeypatch.setenv("CIB_file", str(cib(tmp_path, start="failed")))
    config = rnh.config_text("compute-1", listen_port=0, state_file=str(tmp_path / "s"))
    (tmp_path / "config.json").write_text(config)
    stop = threading.Event()
    stop.set()
    rnh.main(["--config", str(tmp_path / "config.json")], stop=stop)
    state = rnh.read_state(tmp_path / "s", time.time())
    assert state == view(cluster_reachable=True, known=True, online=False)
