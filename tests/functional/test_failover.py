"""End-to-end failover on real services, configured only by files the charms wrote.

Real MariaDB, RabbitMQ, memcached, keystone, masakari-api and masakari-engine (caracal,
the charms' default release) run on loopback with the masakari charm's masakari.conf; a
real corosync/pacemaker cluster node and pacemaker_remoted "hypervisors" run in network
namespaces this test creates, joined with the pacemaker-remote charm's authkey and
published data; masakari-hostmonitor runs on a hypervisor with the masakari-monitors
charm's masakarimonitors.conf. Nova is a test double. Killing a hypervisor's
pacemaker_remoted must end in a finished recovery, for each recovery method.
"""

from __future__ import annotations

import datetime
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import charm_runs
import pacemaker_cluster as pc
import pytest
import service_stack as ss

MISSING = [*pc.missing_tools(), *ss.missing(), *([] if shutil.which("socat") else ["socat"])]
pytestmark = pytest.mark.skipif(
    (bool(MISSING) or os.geteuid() != 0) and not os.environ.get("CI"),
    reason=f"needs root and {', '.join(MISSING) or 'nothing else'} (.ci/run installs them)",
)

MONITOR_HOST = "compute-0.maas"
# One failing hypervisor per recovery method, each in its own segment.
METHODS = {
    "auto": "compute-1.maas",
    "reserved_host": "compute-2.maas",
    "rh_priority": "compute-3.maas",
    "auto_priority": "compute-4.maas",
}
RESERVED = {"reserved_host": "reserved-2.maas", "rh_priority": "reserved-3.maas"}
FIGURES: list[str] = []


def _time(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.split(".")[0].removesuffix("Z"))


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


class Stack:
    """The running stack and the API calls the scenarios make."""

    def __init__(self, services: ss.ServiceStack, topology: pc.Topology):
        self.services = services
        self.topology = topology
        self.remotes: dict[str, pc.Node] = {}
        self.bags: dict[str, dict] = {}  # what each pacemaker-remote unit published
        self.api = f"http://127.0.0.1:{ss.PORTS['masakari']}/v1"
        self.segments: dict[str, str] = {}
        self.duplicate_payload: dict = {}  # the VM notification scenario 4 sends again
        self.servers: dict[str, list[str]] = {}

    def token(self) -> str:
        if not getattr(self, "_token", None) or time.monotonic() - self._token[1] > 600:
            pw = self.services.passwords["masakari"]
            self._token = (
                self.services.admin_token("masakari", pw, "service_domain", "services")[0],
                time.monotonic(),
            )
        return self._token[0]

    def masakari(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        return self.services.call(method, f"{self.api}{path}", self.token(), body)

    def notification(self, uuid: str) -> dict:
        return self.masakari("GET", f"/notifications/{uuid}")[1]["notification"]

    def notifications(self) -> list[dict]:
        return self.masakari("GET", "/notifications")[1]["notifications"]

    def hosts(self, method: str) -> dict[str, dict]:
        _, body = self.masakari("GET", f"/segments/{self.segments[method]}/hosts")
        return {h["name"]: h for h in body["hosts"]}

    def nova_calls(self) -> list[dict]:
        return self.services.nova("GET", "/_double/calls")["calls"]


def relay(
    stack_services: ss.ServiceStack, topology: pc.Topology, node: pc.Node, port: int
) -> None:
    """Make 127.0.0.1:``port`` inside ``node`` reach 127.0.0.1:``port`` of this host.

    Loopback is per network namespace; a unix socket on the shared filesystem carries
    the connection across.
    """
    sock = stack_services.state / f"relay-{node.name}-{port}.sock"
    stack_services.spawn(
        f"relay-{node.name}-{port}", ["socat", f"UNIX-LISTEN:{sock},fork", f"TCP:127.0.0.1:{port}"]
    )
    ss.wait_until(sock.exists, 10, f"relay socket {sock}")
    topology.spawn_in(
        node,
        f"relay-{port}",
        ["socat", f"TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr", f"UNIX-CONNECT:{sock}"],
    )


@pytest.fixture(scope="module")
def stack():
    if MISSING:
        pytest.fail(f"missing (bash .ci/run installs them): {', '.join(MISSING)}")
    state = Path(tempfile.mkdtemp(prefix="masakari-e2e-"))
    services = ss.ServiceStack(state)
    topology = pc.Topology(state / "pacemaker")
    started = time.monotonic()
    try:
        services.start_mariadb()
        services.start_rabbitmq()
        services.start_memcached()
        services.start_keystone()
        ids = services.register()
        services.start_nova_double()
        facts = {
            "keystone_port": ss.PORTS["keystone"],
            "mysql_port": ss.PORTS["mysql"],
            "project_id": ids["project_id"],
            "db_password": services.passwords["mysql-masakari"],
            "rabbit_password": services.passwords["rabbit"],
            "masakari_password": services.passwords["masakari"],
            "monitors_password": services.passwords["monitors"],
        }
        # masakari: the charm's file; only host paths and the listen address are redirected.
        (state / "masakari-logs").mkdir()
        flags = "\n".join(
            [
                f"log_dir={state / 'masakari-logs'}",
                "masakari_api_listen=127.0.0.1",
                f"wsgi/api_paste_config={ss.SERVICES_VENV / 'etc' / 'masakari' / 'api-paste.ini'}",
                f"oslo_concurrency/lock_path={state / 'lock'}",
            ]
        )
        conf = charm_runs.run_masakari(
            state / "masakari-root", facts, {"evacuation-delay": 1, "config-flags": flags}
        )
        services.start_masakari(conf)

        key = os.urandom(512)
        cluster = topology.start_cluster_node("api-node-0", key)
        stack = Stack(services, topology)
        for hostname in [MONITOR_HOST, *METHODS.values()]:
            address = topology.next_address()
            bag = charm_runs.run_pacemaker_remote(
                state / f"root-{hostname}", key, address, hostname
            )
            etc = state / f"root-{hostname}" / "etc" / "pacemaker"
            stack.remotes[hostname] = topology.start_remote_node(hostname, etc)
            stack.bags[hostname] = bag
        topology.wait_for_dc(cluster)
        cluster.exec(["crm", "configure", "property", "stonith-enabled=false"])
        for bag in stack.bags.values():
            topology.add_remote_like_hacluster(cluster, bag)
        for name in stack.remotes:
            ss.wait_until(lambda n=name: topology.remote_online(cluster, n), 90, f"{name} online")

        # masakari-hostmonitor on a hypervisor, with the monitors charm's file.
        monitor = stack.remotes[MONITOR_HOST]
        for port in (ss.PORTS["keystone"], ss.PORTS["masakari"]):
            relay(services, topology, monitor, port)
        mon_conf_path = state / "masakarimonitors.conf"
        (state / "monitor-logs").mkdir()
        mon_flags = "\n".join(
            [
                f"log_dir={state / 'monitor-logs'}",
                "masakarimonitors_privileged/helper_command="
                f"{ss.BIN / 'privsep-helper'} --config-file {mon_conf_path}",
            ]
        )
        rendered = charm_runs.run_masakari_monitors(
            state / "monitors-root",
            facts,
            MONITOR_HOST,
            {
                "host-monitoring-interval": 3,
                "host-monitoring-samples": 1,
                "host-stonith-wait": 1,
                "host-api-retry-interval": 2,
                "config-flags": mon_flags,
            },
        )
        shutil.copy(rendered, mon_conf_path)
        topology.spawn_in(
            monitor,
            "hostmonitor",
            [str(ss.BIN / "masakari-hostmonitor"), "--config-file", str(mon_conf_path)],
        )
        FIGURES.append(f"stack up in {time.monotonic() - started:.1f}s")
        yield stack
    finally:
        topology.close()
        services.close()
        for line in FIGURES:
            print(line)


def test_segments_and_hosts_through_the_real_api(stack):
    nova = stack.services.nova
    for host in [MONITOR_HOST, *METHODS.values()]:
        nova("POST", "/_double/service", {"host": host})
        stack.servers[host] = [
            nova("POST", "/_double/server", {"name": f"vm-{host}-{i}", "host": host})["id"]
            for i in range(2)
        ]
    for reserved in RESERVED.values():
        nova("POST", "/_double/service", {"host": reserved, "status": "disabled"})
    nova("POST", "/_double/aggregate", {"name": "az-rack2", "hosts": [METHODS["reserved_host"]]})
    for method, failing in METHODS.items():
        status, body = stack.masakari(
            "POST",
            "/segments",
            {
                "segment": {
                    "name": f"segment-{method}",
                    "recovery_method": method,
                    "service_type": "COMPUTE",
                }
            },
        )
        assert 200 <= status < 300, body
        stack.segments[method] = body["segment"]["uuid"]
        members = [(failing, False)] + ([(RESERVED[method], True)] if method in RESERVED else [])
        if method == "auto":
            members.append((MONITOR_HOST, False))
        for name, reserved in members:
            status, body = stack.masakari(
                "POST",
                f"/segments/{stack.segments[method]}/hosts",
                {
                    "host": {
                        "name": name,
                        "type": "COMPUTE",
                        "control_attributes": "SSH",
                        "reserved": reserved,
                    }
                },
            )
            assert 200 <= status < 300, body
    assert set(stack.hosts("auto")) == {METHODS["auto"], MONITOR_HOST}
    assert stack.hosts("reserved_host")[RESERVED["reserved_host"]]["reserved"] is True


def test_killing_a_hypervisor_recovers_it_with_every_method(stack):
    names = {h["uuid"]: name for m in METHODS for name, h in stack.hosts(m).items()}
    killed_at = {}
    for failing in METHODS.values():
        node = stack.remotes[failing]
        node.read_pids()
        os.kill(node.pids["pacemaker-remoted"], signal.SIGKILL)
        killed_at[failing] = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)

    def finished_all():
        by_host = {}
        for n in stack.notifications():
            name = names.get(n.get("source_host_uuid"))
            if n["type"] == "COMPUTE_HOST" and name in killed_at:
                by_host.setdefault(name, n)
                # masakari's own timestamps: created, and last updated (finished).
                seen_at[name] = _time(n["created_at"])
                if n["status"] == "finished":
                    done_at[name] = _time(n["updated_at"])
        bad = [n for n in by_host.values() if n["status"] in ("failed", "ignored")]
        assert not bad, bad
        return len(done_at) == len(killed_at)

    seen_at: dict[str, datetime.datetime] = {}
    done_at: dict[str, datetime.datetime] = {}
    ss.wait_until(finished_all, 300, "every host notification to finish", interval=1)

    calls = stack.nova_calls()
    evacuations = [
        c for c in calls if c["method"] == "POST" and c["body"] and "evacuate" in c["body"]
    ]
    for method, failing in METHODS.items():
        to_notify = (seen_at[failing] - killed_at[failing]).total_seconds()
        to_finish = (done_at[failing] - killed_at[failing]).total_seconds()
        FIGURES.append(
            f"{method:14} kill -> notification {to_notify:5.1f}s, -> finished {to_finish:5.1f}s "
            "(masakari's timestamps, 1 s resolution)"
        )
        host = stack.hosts(method)[failing]
        assert host["on_maintenance"] is True, host
        disabled = [
            c for c in calls if c["method"] == "PUT" and c["body"].get("status") == "disabled"
        ]
        assert disabled, "the failed host's nova-compute service was not disabled"
        mine = [c for c in evacuations if c["path"].split("/")[3] in stack.servers[failing]]
        assert len(mine) == 2, (method, mine)
        targets = {c["body"]["evacuate"].get("host") for c in mine}
        if method in ("reserved_host", "rh_priority"):
            assert targets == {RESERVED[method]}, (method, targets)
            assert stack.hosts(method)[RESERVED[method]]["reserved"] is False
        else:
            assert targets == {None}, (method, targets)
    servers = {s["id"]: s for s in stack.services.nova("GET", "/_double/servers")["servers"]}
    for failing in METHODS.values():
        assert all(servers[s]["host"] != failing for s in stack.servers[failing])


def test_instance_failure_stops_and_starts_the_instance(stack):
    server = stack.servers[MONITOR_HOST][0]
    payload = {"event": "LIFECYCLE", "instance_uuid": server, "vir_domain_event": "STOPPED_FAILED"}
    status, body = stack.masakari(
        "POST",
        "/notifications",
        {
            "notification": {
                "type": "VM",
                "hostname": MONITOR_HOST,
                "generated_time": now(),
                "payload": payload,
            }
        },
    )
    assert 200 <= status < 300, body
    uuid = body["notification"]["notification_uuid"]
    ss.wait_until(lambda: stack.notification(uuid)["status"] == "finished", 120, "VM notification")
    actions = [
        next(iter(c["body"]))
        for c in stack.nova_calls()
        if c["method"] == "POST" and c["path"].endswith(f"/servers/{server}/action")
    ]
    assert "os-stop" in actions and "os-start" in actions, actions
    assert actions.index("os-stop") < actions.index("os-start")
    stack.duplicate_payload = payload


def test_duplicate_and_maintenance_notifications_are_refused(stack):
    status, body = stack.masakari(
        "POST",
        "/notifications",
        {
            "notification": {
                "type": "VM",
                "hostname": MONITOR_HOST,
                "generated_time": now(),
                "payload": stack.duplicate_payload,
            }
        },
    )
    assert status == 409, body
    assert "duplicate" in str(body).lower()
    status, body = stack.masakari(
        "POST",
        "/notifications",
        {
            "notification": {
                "type": "COMPUTE_HOST",
                "hostname": METHODS["auto"],
                "generated_time": now(),
                "payload": {
                    "event": "STOPPED",
                    "host_status": "NORMAL",
                    "cluster_status": "OFFLINE",
                },
            }
        },
    )
    assert status == 409, body
    assert "maintenance" in str(body).lower()
