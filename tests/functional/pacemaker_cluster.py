"""A real Pacemaker cluster node and pacemaker-remote nodes, in namespaces we create.

Each node gets its own network namespace (pacemaker's IPC uses abstract unix sockets,
which are per network namespace) plus private mount and UTS namespaces, so that
``/etc/corosync``, ``/etc/pacemaker``, ``/var/lib/pacemaker`` and ``/run`` are the test's
own and the host name is the node name. Nodes are linked by veth pairs whose addresses
exist only inside these namespaces. Every daemon's PID is recorded and stopped by PID.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import textwrap
import time
import uuid
from pathlib import Path
from typing import IO
from xml.etree import ElementTree

SUBNET = "10.250.77"


def run(
    argv: list[str], *, check: bool = True, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing output."""
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=timeout)


def pacemaker_remoted() -> str | None:
    """The pacemaker-remoted binary: on PATH, or extracted by .ci/run under build/."""
    root = Path(__file__).resolve().parents[2]
    for candidate in (
        shutil.which("pacemaker-remoted"),
        root / "build" / "pacemaker-remote" / "usr" / "sbin" / "pacemaker-remoted",
    ):
        if candidate and Path(candidate).exists():
            return str(candidate)
    return None


def missing_tools() -> list[str]:
    """Tools this harness needs that are not installed."""
    tools = ["ip", "unshare", "nsenter", "corosync", "pacemakerd", "crm", "crm_mon", "crmadmin"]
    missing = [t for t in tools if shutil.which(t) is None]
    if pacemaker_remoted() is None:
        missing.append("pacemaker-remoted")
    return missing


@dataclasses.dataclass
class Node:
    """One namespaced node: its holder process enters every namespace of the node."""

    name: str
    netns: str
    address: str
    state: Path
    holder: subprocess.Popen | None = None
    log: IO[str] | None = None
    pids: dict[str, int] = dataclasses.field(default_factory=dict)

    def exec(self, argv: list[str], *, check: bool = True, timeout: float = 30):
        """Run a command inside this node's namespaces."""
        assert self.holder is not None
        enter = ["nsenter", "-t", str(self.holder.pid), "-n", "-m", "-u"]
        return run([*enter, *argv], check=check, timeout=timeout)

    def read_pids(self) -> None:
        """Collect the PIDs the node's start script wrote."""
        for pidfile in self.state.glob("*.pid"):
            text = pidfile.read_text().strip()
            if text.isdigit():
                self.pids[pidfile.stem] = int(text)


class Topology:
    """Creates namespaces and daemons; :meth:`close` stops everything by PID."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.tag = uuid.uuid4().hex[:6]
        self.namespaces: list[str] = []
        self.nodes: list[Node] = []
        self.extra: list[tuple[subprocess.Popen, IO[str]]] = []  # processes run inside nodes
        self.hub = f"mkhub-{self.tag}"
        run(["ip", "netns", "add", self.hub])
        self.namespaces.append(self.hub)
        run(["ip", "-n", self.hub, "link", "add", "br0", "type", "bridge"])
        run(["ip", "-n", self.hub, "link", "set", "br0", "up"])

    def _netns(self, name: str, address: str) -> str:
        netns = f"mk{len(self.namespaces)}-{self.tag}"  # node names may share prefixes
        run(["ip", "netns", "add", netns])
        self.namespaces.append(netns)
        inside, outside = (
            f"e-{self.tag}-{len(self.namespaces)}",
            f"b-{self.tag}-{len(self.namespaces)}",
        )
        run(
            [
                "ip",
                "link",
                "add",
                inside,
                "netns",
                netns,
                "type",
                "veth",
                "peer",
                "name",
                outside,
                "netns",
                self.hub,
            ]
        )
        run(["ip", "-n", self.hub, "link", "set", outside, "master", "br0", "up"])
        run(["ip", "-n", netns, "addr", "add", f"{address}/24", "dev", inside])
        run(["ip", "-n", netns, "link", "set", inside, "up"])
        run(["ip", "-n", netns, "link", "set", "lo", "up"])
        return netns

    def _start(
        self, node: Node, mounts: dict[str, Path], commands: str, env: dict[str, str]
    ) -> None:
        script = node.state / "node-up.sh"
        binds = "\n".join(
            f"mkdir -p {target} && mount --bind {source} {target}"
            for target, source in mounts.items()
        )
        script.write_text(
            textwrap.dedent(
                """\
                set -e
                hostname {name}
                mount -t tmpfs tmpfs /run
                mount -t tmpfs tmpfs /dev/shm
                mkdir -p /run/pacemaker /run/corosync /run/crm
                {binds}
                {commands}
                wait
                """
            ).format(name=node.name, binds=binds, commands=commands)
        )
        argv = [
            "ip",
            "netns",
            "exec",
            node.netns,
            "unshare",
            "--mount",
            "--uts",
            "--propagation",
            "private",
            "sh",
            str(script),
        ]
        node.log = open(node.state / "holder.log", "w")  # noqa: SIM115 - closed by close()
        node.holder = subprocess.Popen(
            argv,
            stdout=node.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            start_new_session=True,
        )
        self.nodes.append(node)

    def next_address(self) -> str:
        """The address the next node started will get."""
        return f"{SUBNET}.{len(self.nodes) + 1}"

    def start_cluster_node(self, name: str, authkey: bytes) -> Node:
        """A one-node corosync/pacemaker cluster member holding ``authkey``."""
        address = self.next_address()
        state = self.workdir / name
        for sub in (
            "etc-corosync",
            "etc-pacemaker",
            "var-lib-pacemaker",
            "var-lib-corosync",
            "log",
        ):
            (state / sub).mkdir(parents=True, exist_ok=True)
        for sub in ("cib", "pengine", "blackbox", "cores"):
            (state / "var-lib-pacemaker" / sub).mkdir(exist_ok=True)
        run(
            [
                "chown",
                "-R",
                "hacluster:haclient",
                str(state / "var-lib-pacemaker"),
                str(state / "log"),
            ]
        )
        (state / "etc-pacemaker" / "authkey").write_bytes(authkey)
        os.chmod(state / "etc-pacemaker" / "authkey", 0o440)
        run(["chown", "root:haclient", str(state / "etc-pacemaker" / "authkey")])
        (state / "etc-corosync" / "corosync.conf").write_text(
            textwrap.dedent(
                f"""\
                totem {{
                    version: 2
                    cluster_name: masakari-func
                    transport: knet
                    crypto_cipher: none
                    crypto_hash: none
                }}
                nodelist {{
                    node {{
                        ring0_addr: {address}
                        name: {name}
                        nodeid: 1
                    }}
                }}
                quorum {{
                    provider: corosync_votequorum
                }}
                logging {{
                    to_logfile: yes
                    logfile: {state}/log/corosync.log
                    to_stderr: no
                    to_syslog: no
                }}
                """
            )
        )
        node = Node(name, self._netns(name, address), address, state)
        commands = textwrap.dedent(
            f"""\
            corosync -f & echo $! > {state}/corosync.pid
            sleep 1
            pacemakerd -f & echo $! > {state}/pacemakerd.pid
            """
        )
        mounts = {
            "/etc/corosync": state / "etc-corosync",
            "/etc/pacemaker": state / "etc-pacemaker",
            "/var/lib/pacemaker": state / "var-lib-pacemaker",
            "/var/lib/corosync": state / "var-lib-corosync",
        }
        self._start(node, mounts, commands, {"PCMK_logfile": str(state / "log" / "pacemaker.log")})
        return node

    def start_remote_node(self, name: str, etc_pacemaker: Path) -> Node:
        """pacemaker-remoted reading ``etc_pacemaker/authkey`` (the charm's file, unchanged)."""
        address = self.next_address()
        state = self.workdir / name
        (state / "log").mkdir(parents=True, exist_ok=True)
        (state / "var-lib-pacemaker").mkdir(exist_ok=True)
        node = Node(name, self._netns(name, address), address, state)
        commands = f"{pacemaker_remoted()} & echo $! > {state}/pacemaker-remoted.pid\n"
        mounts = {
            "/etc/pacemaker": etc_pacemaker,
            "/var/lib/pacemaker": state / "var-lib-pacemaker",
        }
        self._start(node, mounts, commands, {"PCMK_logfile": str(state / "log" / "remoted.log")})
        return node

    def wait_for_dc(self, node: Node, timeout: float = 90) -> None:
        """Wait until the cluster elected a designated controller."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            node.read_pids()
            result = node.exec(["timeout", "5", "crmadmin", "-D", "-t", "2000"], check=False)
            if result.returncode == 0 and "Designated Controller" in result.stdout:
                return
            time.sleep(2)
        raise TimeoutError(f"no DC on {node.name}: {self.logs(node)}")

    @staticmethod
    def add_remote_like_hacluster(cluster: Node, bag: dict) -> None:
        """What hacluster's leader runs for a remote unit's decoded relation data."""
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

    def remote_online(self, cluster: Node, remote_name: str) -> bool:
        """Whether ``cluster`` runs the connection to ``remote_name`` and sees it online.

        The node flag alone is not enough: pacemaker 2.1.5 reports a remote online while
        its connection resource is still starting (even one whose key will be refused).
        """
        result = cluster.exec(["crm_mon", "-1", "-X"], check=False)
        try:
            root = ElementTree.fromstring(result.stdout)
        except ElementTree.ParseError:
            return False
        node_online = any(
            n.get("name") == remote_name
            and n.get("type") == "remote"
            and n.get("online") == "true"
            for n in root.iter("node")
        )
        connected = any(
            r.get("id") == remote_name
            and r.get("resource_agent") == "ocf:pacemaker:remote"
            and r.get("role") == "Started"
            and r.get("failed") == "false"
            for r in root.iter("resource")
        )
        return node_online and connected

    def logs(self, node: Node) -> str:
        """Tail of every log of ``node`` (for failure messages)."""
        chunks = []
        for log in sorted(node.state.rglob("*.log")):
            chunks.append(
                f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            )
        return "\n".join(chunks)

    def spawn_in(self, node: Node, name: str, argv: list[str]) -> subprocess.Popen:
        """Run ``argv`` inside ``node``'s namespaces; stopped by PID in :meth:`close`."""
        assert node.holder is not None
        log = open(node.state / f"{name}.log", "w")  # noqa: SIM115 - closed by close()
        proc = subprocess.Popen(
            ["nsenter", "-t", str(node.holder.pid), "-n", "-m", "-u", *argv],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.extra.append((proc, log))
        return proc

    def close(self) -> None:
        """Stop every daemon by PID, then the holders, then delete the namespaces."""
        for proc, log in reversed(self.extra):
            stop_pid(proc.pid, timeout=20)
            proc.wait(timeout=10)
            log.close()
        for node in reversed(self.nodes):
            node.read_pids()
            for name in ("pacemaker-remoted", "pacemakerd", "corosync"):
                pid = node.pids.get(name)
                if pid:
                    stop_pid(pid, timeout=30)
            if node.holder is not None:
                stop_pid(node.holder.pid, timeout=10)
                node.holder.wait(timeout=10)
            if node.log is not None:
                node.log.close()
        for netns in reversed(self.namespaces):
            run(["ip", "netns", "delete", netns], check=False)


def _running(pid: int) -> bool:
    """Whether ``pid`` still runs: an exited child its parent has not reaped yet does not.

    The daemons the stacks start are this process's children, so they linger as
    zombies until ``Popen.wait``; signal 0 still reaches those.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def stop_pid(pid: int, timeout: float = 20) -> None:
    """SIGTERM ``pid``, then SIGKILL it if it outlives ``timeout`` seconds."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _running(pid):
            return
        time.sleep(0.2)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
