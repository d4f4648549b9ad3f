"""The end-to-end failover stack: real services configured by the charms' files.

Real MariaDB, RabbitMQ, memcached, keystone, masakari-api and masakari-engine (caracal,
noble's distro release) run on loopback with the masakari charm's files: masakari-api
under Apache mod_wsgi (the charm's site and WSGI entry) behind haproxy (the charm's
haproxy.cfg), registered in keystone's catalog from what the charm published on
identity-service, so every client reaches it on 15868 as a unit's clients do; a
real corosync/pacemaker cluster node and pacemaker_remoted "hypervisors" run in network
namespaces, joined with the pacemaker-remote charm's authkey and published data;
masakari-hostmonitor runs on a hypervisor with the masakari-monitors charm's
masakarimonitors.conf. Nova is a test double. :func:`start` builds it (the functional
tests and the failover latency benchmark share it); :meth:`Stack.close` stops every
process by PID and removes the namespaces.
"""

from __future__ import annotations

import datetime
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import charm_runs
import pacemaker_cluster as pc
import service_stack as ss


def masakari_time(text: str) -> datetime.datetime:
    """A timestamp of masakari's (UTC, to the second) as a naive datetime."""
    return datetime.datetime.fromisoformat(text.split(".")[0].removesuffix("Z"))


def missing() -> list[str]:
    """Tools the stack needs that are not installed (.ci/run installs them)."""
    return [*pc.missing_tools(), *ss.missing(), *([] if shutil.which("socat") else ["socat"])]


class Stack:
    """The running stack and the API calls the scenarios make."""

    def __init__(self, services: ss.ServiceStack, topology: pc.Topology, facts: dict, root: Path):
        self.services = services
        self.root = root
        self.facts = facts  # what the charms' relations carry: ports, ids, passwords
        self.topology = topology
        self.remotes: dict[str, pc.Node] = {}
        self.bags: dict[str, dict] = {}  # what each pacemaker-remote unit published
        self.api = f"http://127.0.0.1:{ss.PORTS['masakari']}/v1"
        self.segments: dict[str, str] = {}
        self.duplicate_payload: dict = {}  # the VM notification scenario 4 sends again
        self.servers: dict[str, list[str]] = {}
        self.registration_bags: dict[str, dict] = {}  # hypervisor -> masakari-host bag
        self.managed: dict = {}  # the masakari leader's peer app data
        self.config: dict = {}  # the masakari application's config, as its engine runs it
        self.related: dict[str, list[dict]] = {}  # monitors app -> its units' bags
        self.relayed: dict[str, bool] = {}  # hypervisors whose loopback reaches the APIs
        self.started_in = 0.0
        self.unit: charm_runs.MasakariUnit | None = None  # the masakari unit serving the API
        self.cluster: pc.Node | None = None  # the API's cluster node, once the remotes joined

    def close(self) -> None:
        """Stop every process by PID and remove the namespaces."""
        self.topology.close()
        self.services.close()

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

    def notify(self, kind: str, hostname: str, payload: dict) -> tuple[int, dict]:
        """Send a notification as a monitor would; (status, body)."""
        notification = {
            "type": kind,
            "hostname": hostname,
            "generated_time": datetime.datetime.now(datetime.timezone.utc).strftime(
                "%Y-%m-%dT%H:%M:%S"
            ),
            "payload": payload,
        }
        return self.masakari("POST", "/notifications", {"notification": notification})

    def notification(self, uuid: str) -> dict:
        return self.masakari("GET", f"/notifications/{uuid}")[1]["notification"]

    def notifications(self) -> list[dict]:
        return self.masakari("GET", "/notifications")[1]["notifications"]

    def hosts(self, method: str) -> dict[str, dict]:
        _, body = self.masakari("GET", f"/segments/{self.segments[method]}/hosts")
        return {h["name"]: h for h in body["hosts"]}

    def nova_calls(self) -> list[dict]:
        return self.services.nova("GET", "/_double/calls")["calls"]

    def register(self, hosts: list[str] | None = None) -> charm_runs.RegistrationPass:
        """A masakari leader hook with the monitors units of ``hosts`` (default: all) related."""
        self.related = {}
        for host in hosts if hosts is not None else list(self.registration_bags):
            bag = self.registration_bags[host]
            self.related.setdefault(f"monitors-{bag['segment']}", []).append(bag)
        run = charm_runs.register_hypervisors(
            self.root / "masakari-leader",
            self.facts,
            self.related,
            config=self.config,
            app_data=self.managed,
        )
        self.managed = run.app_data
        return run

    def action(self, action: str, /, **params) -> dict:
        """A masakari action run through the charm against the real API."""
        return charm_runs.run_masakari_action(
            self.root / "masakari-actions", self.facts, action, params, self.managed, self.related
        )


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


def start(
    hypervisors: list[str],
    masakari_config: dict | None = None,
    progress: Callable[[str, Stack], object] | None = None,
) -> Stack:
    """Services, masakari, one cluster node and a pacemaker_remoted per hypervisor.

    With no hypervisors, only the services and masakari (no cluster). ``masakari_config``
    is the masakari application's config; its ``config-flags`` add to the stack's own.
    ``progress`` is told what starts next, with the stack as far as it is built (what it
    has started so far, e.g. to record their PIDs).
    """
    state = Path(tempfile.mkdtemp(prefix="masakari-e2e-"))
    services = ss.ServiceStack(state)
    topology = pc.Topology(state / "pacemaker")
    stack = Stack(services, topology, {}, state)
    tell = (lambda what: progress(what, stack)) if progress else ss.ignore
    started = time.monotonic()
    try:
        stack.facts = services.start_control_plane(tell)
        # masakari: the charm's files; only the log and lock directories are redirected.
        tell("the masakari charm's install and config hooks")
        wanted = masakari_config or {}
        flags = "\n".join(f for f in (services.masakari_flags(), wanted.get("config-flags")) if f)
        config = {**wanted, "config-flags": flags}
        unit = charm_runs.run_masakari(state / "masakari-root", stack.facts, config)
        services.register_endpoints(unit.identity_service)
        tell("masakari: db sync, engine, Apache mod_wsgi, haproxy")
        services.start_masakari(unit.root)
        stack.unit = unit
        stack.config = config
        if not hypervisors:  # the API alone (registration benchmarks)
            stack.started_in = time.monotonic() - started
            return stack
        tell("corosync and pacemaker (the API's cluster node)")
        key = os.urandom(512)
        cluster = topology.start_cluster_node("api-node-0", key)
        for hostname in hypervisors:
            tell(f"pacemaker_remoted on {hostname} (the pacemaker-remote charm's files)")
            address = topology.next_address()
            bag = charm_runs.run_pacemaker_remote(
                state / f"root-{hostname}", key, address, hostname
            )
            etc = state / f"root-{hostname}" / "etc" / "pacemaker"
            stack.remotes[hostname] = topology.start_remote_node(hostname, etc)
            stack.bags[hostname] = bag
        tell("the cluster: a DC elected, the remotes added as hacluster adds them")
        topology.wait_for_dc(cluster)
        cluster.exec(["crm", "configure", "property", "stonith-enabled=false"])
        for bag in stack.bags.values():
            topology.add_remote_like_hacluster(cluster, bag)
        for name in stack.remotes:
            ss.wait_until(lambda n=name: topology.remote_online(cluster, n), 90, f"{name} online")
        stack.cluster = cluster
        stack.started_in = time.monotonic() - started
        return stack
    except BaseException:
        topology.close()
        services.close()
        raise


def start_hostmonitor(stack: Stack, host: str, options: dict, name: str = "hostmonitor"):
    """masakari-hostmonitor on ``host`` with the monitors charm's file for ``options``.

    Returns its process (inside ``host``'s namespaces); stop it with ``pc.stop_pid``.
    """
    node = stack.remotes[host]
    if not stack.relayed.get(host):
        for port in (ss.PORTS["keystone"], ss.PORTS["masakari"]):
            relay(stack.services, stack.topology, node, port)
        stack.relayed[host] = True
    conf_path = stack.root / f"{name}.conf"
    logs = stack.root / f"{name}-logs"
    logs.mkdir(exist_ok=True)
    flags = "\n".join(
        [
            f"log_dir={logs}",
            "masakarimonitors_privileged/helper_command="
            f"{ss.BIN / 'privsep-helper'} --config-file {conf_path}",
        ]
    )
    rendered, _ = charm_runs.run_masakari_monitors(
        stack.root / f"{name}-root", stack.facts, host, {**options, "config-flags": flags}
    )
    shutil.copy(rendered, conf_path)
    return stack.topology.spawn_in(
        node, name, [str(ss.BIN / "masakari-hostmonitor"), "--config-file", str(conf_path)]
    )
