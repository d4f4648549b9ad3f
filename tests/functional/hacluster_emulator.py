"""The hacluster leader's pass over a principal's ``ha`` bag, on a file-backed CIB.

Models what charm-hacluster's ``ha_relation_changed`` does once the cluster formed
(the leader, ``member_ready`` reached), with the real crmsh and Pacemaker tools acting on
a CIB file (``CIB_file``), so that crmsh's own behaviour (a deleted group's location
rules re-pointed to its first member, its ids, its refusals) is the real one:

- each ``delete_resources`` name present in ``crm configure show`` (a plain substring
  test) is stopped and deleted, in the bag's order;
- primitives are created if absent, else updated with ``crm configure load update``
  when their agent and parameters changed since hacluster last wrote them;
- groups, clones, colocations, locations (and ms, orders) are created only if absent;
- with pacemaker-remote nodes that all say ``enable-resources=false``, the cluster is
  opt-in (``symmetric-cluster=false``) and every resource that is not a clone target
  nor exactly a group's member string, every clone (plus ``clone-max``) and every group
  gets ``loc-<name>-<node>`` score 0 on each full member node; each remote connection
  gets 200 on one node and 0 on the others.

The full member nodes (``crm node show``'s lines with a node id, in hacluster) are the
nodes the CIB is made with; the remote nodes come up when ``crm_simulate`` starts their
connection resources. ``crm`` commands go through :mod:`crm_forkserver` (the same crmsh
code, without its start-up cost). ``crm -w`` waits for the cluster to settle; here
that is a ``crm_simulate`` transition run in place on the file. The cluster-wide
properties hacluster sets on every pass are set once, when the CIB is made (they never
change between passes). ``crm resource cleanup`` only clears operation history, so
passes skip it; STONITH is off, as in CI without MAAS.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import itertools
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from xml.etree import ElementTree

KEYS = (
    "resources",
    "delete_resources",
    "resource_params",
    "groups",
    "ms",
    "orders",
    "colocations",
    "clones",
    "locations",
)


def available() -> bool:
    """Whether crmsh is installed.

    install-prerequisites.sh installs it with Pacemaker's command-line tools, which the
    tests then need.
    """
    return shutil.which("crm", path=_path()) is not None


def _path() -> str:
    return os.environ.get("PATH", "") + ":/usr/sbin:/sbin"


class CrmServer:
    """A :mod:`crm_forkserver` process: ``crm`` commands without crmsh's start-up cost."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None

    def run(self, argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        """``crm <argv>`` in ``env``, as a completed process."""
        if self._proc is None:
            crm = shutil.which("crm", path=_path())
            assert crm is not None
            python = Path(crm).read_text().splitlines()[0].removeprefix("#!").strip()
            self._proc = subprocess.Popen(
                [python, str(Path(__file__).with_name("crm_forkserver.py"))],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps({"argv": argv, "env": env}) + "\n")
        self._proc.stdin.flush()
        answer = json.loads(self._proc.stdout.readline())
        return subprocess.CompletedProcess(
            ["crm", *argv], answer["rc"], answer["stdout"], answer["stderr"]
        )

    def close(self) -> None:
        """Stop the server (it exits when its input closes)."""
        if self._proc is not None:
            assert self._proc.stdin is not None and self._proc.stdout is not None
            self._proc.stdin.close()
            self._proc.wait(timeout=30)
            self._proc.stdout.close()
            self._proc = None


CRM = CrmServer()


def parse_data(bag: dict[str, str], key: str):
    """Hacluster's parse_data: ``json_<key>`` then ``<key>``, JSON then a literal."""
    data = bag.get(f"json_{key}") or bag.get(key)
    if not data:
        return {}
    try:
        return json.loads(data)
    except ValueError:
        return ast.literal_eval(data)


@dataclasses.dataclass
class Placement:
    """Where the simulated cluster runs each resource (``crm_mon`` after a transition)."""

    running: dict[str, list[str]]  # primitive -> nodes it is active on

    def node_of(self, resource: str) -> str | None:
        nodes = self.running.get(resource, [])
        return nodes[0] if len(nodes) == 1 else None


class Cluster:
    """A CIB file with full member nodes and pacemaker-remote nodes, and hacluster's pass."""

    def __init__(
        self,
        path: Path,
        members: list[str],
        remotes: dict[str, str] | None = None,
        enable_resources: bool | None = None,
    ):
        self.path = path
        self.members = sorted(members)
        self.remotes = dict(remotes or {})
        self.enable_resources = enable_resources
        self.env = {**os.environ, "CIB_file": str(path), "PATH": _path()}
        self.commands: list[str] = []  # every crm command a pass ran, for diagnosis
        self._hashes: dict[str, str] = {}  # hacluster's unitdata kv of object md5s
        self._show: str | None = None

    # -- the CIB file -------------------------------------------------------------------
    def create(self) -> None:
        """An empty CIB with the nodes online and hacluster's cluster-wide settings."""
        empty = self._run(["cibadmin", "--empty"]).stdout
        root = ElementTree.fromstring(empty)
        root.set("have-quorum", "1")
        nodes = root.find("configuration/nodes")
        assert nodes is not None
        for number, name in enumerate(self.members, start=1):
            ElementTree.SubElement(nodes, "node", id=str(number), uname=name)
        self.path.write_text(ElementTree.tostring(root, encoding="unicode"))
        for cmd in (
            "crm configure property no-quorum-policy=stop",
            'crm configure rsc_defaults $id="rsc-options" resource-stickiness="100" '
            "failure-timeout=180",
            "crm configure property cluster-recheck-interval=60",
            "crm configure property stonith-enabled=false",
        ):
            self.commit(cmd)
        if self.remotes and isinstance(self.enable_resources, bool):
            # set_cluster_symmetry (every pass in hacluster; the value never changes here)
            self.commit(
                f"crm configure property symmetric-cluster={str(self.enable_resources).lower()}"
            )
        ups = [arg for node in self.members for arg in ("--node-up", node)]
        self._run(["crm_simulate", "--in-place", "--xml-file", str(self.path), "-Q", *ups])

    def copy(self, path: Path) -> Cluster:
        """The same cluster in another file, with the same hacluster memory."""
        shutil.copyfile(self.path, path)
        other = Cluster(path, self.members, self.remotes, self.enable_resources)
        other._hashes = dict(self._hashes)
        return other

    def configuration(self) -> str:
        """The CIB's configuration section, as XML."""
        return self._run(["cibadmin", "--query", "--scope", "configuration"]).stdout

    def ids(self, tag: str) -> set[str]:
        """The ids of the configuration's ``tag`` elements (group, rsc_colocation, ...)."""
        root = ElementTree.fromstring(self.configuration())
        return {e.get("id", "") for e in root.iter(tag)}

    def show(self) -> str:
        """``crm configure show`` (what hacluster's existence test searches)."""
        if self._show is None:
            self._show = self._run(["crm", "configure", "show"]).stdout
        return self._show

    def placement(self) -> Placement:
        """Which node runs each primitive, per ``crm_mon`` on the simulated status."""
        out = self._run(["crm_mon", "-1", "--output-as=xml"]).stdout
        running: dict[str, list[str]] = {}
        for res in ElementTree.fromstring(out).iter("resource"):
            if res.get("active") == "true" and res.get("role") == "Started":
                nodes = [n.get("name", "") for n in res.findall("node")]
                running.setdefault(res.get("id", ""), []).extend(nodes)
        return Placement(running)

    def verify(self) -> str:
        """``crm_verify`` of the CIB file: its complaints (empty when valid)."""
        result = self._run(["crm_verify", "--xml-file", str(self.path)], check=False)
        return "" if result.returncode == 0 else result.stdout + result.stderr

    # -- commands -----------------------------------------------------------------------
    def _run(self, argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        if argv[0] == "crm":
            result = CRM.run(argv[1:], self.env)
            if check and result.returncode:
                raise subprocess.CalledProcessError(
                    result.returncode, argv, result.stdout, result.stderr
                )
            return result
        return subprocess.run(
            argv, env=self.env, capture_output=True, text=True, check=check, timeout=60
        )

    def commit(self, cmd: str) -> int:
        """Hacluster's pcmk.commit (a command split on spaces); ``-w`` runs a transition."""
        argv = cmd.split()
        wait = "-w" in argv
        argv = [a for a in argv if a != "-w"]
        self.commands.append(cmd)
        self._show = None
        code = self._run(argv, check=False).returncode
        if wait:
            self.settle()
        return code

    def settle(self) -> None:
        """Run the cluster's transition on the file (what ``crm -w`` waits for)."""
        self._run(["crm_simulate", "--in-place", "--xml-file", str(self.path), "-Q"])

    def exists(self, name: str) -> bool:
        """pcmk.crm_opt_exists: a substring of ``crm configure show``."""
        return name in self.show()

    def running(self, name: str) -> bool:
        """pcmk.crm_res_running."""
        out = self._run(["crm", "resource", "status", name], check=False)
        return (out.stdout + out.stderr).startswith(f"resource {name} is running")

    def _present(self, name: str) -> bool:
        """pcmk.is_resource_present: whether the resource exists.

        Asked of crm_resource, the tool ``crm resource status`` runs, to save a crmsh
        call per remote and pass.
        """
        return (
            self._run(["crm_resource", "--resource", name, "--query-xml"], check=False).returncode
            == 0
        )

    # -- hacluster's pass ---------------------------------------------------------------
    def apply(self, bag: dict[str, str]) -> None:
        """The leader's ha_relation_changed for one principal bag."""
        data = {key: parse_data(bag, key) for key in KEYS}
        resources, params = data["resources"], data["resource_params"]
        for name in data["delete_resources"]:
            if self.exists(name):
                if self.running(name):
                    self.commit(f"crm -w -F resource stop {name}")
                self.commit(f"crm -w -F resource stop {name}")
                self.commit(f"crm -w -F configure delete {name}")
        for name, agent in resources.items():
            if not self.exists(name):
                extra = f" {params[name]}" if name in params else ""
                self.commit(f"crm -w -F configure primitive {name} {agent}{extra}")
            else:
                self._update(f"primitive {name} {agent}", name, params.get(name))
        for key, verb in (
            ("groups", "group"),
            ("ms", "ms"),
            ("orders", "order"),
            ("clones", "clone"),
            ("colocations", "colocation"),
            ("locations", "location"),
        ):
            for name, spec in data[key].items():
                if not self.exists(name):
                    self.commit(f"crm -w -F configure {verb} {name} {spec}")
        self._remote_resources(resources, data["clones"], data["groups"])
        self.settle()

    def _update(self, text: str, name: str, params: str | None) -> None:
        """pcmk.crm_update_resource: ``load update`` when agent/params changed."""
        digest = hashlib.md5(f"{text}{params}".encode()).hexdigest()
        if self._hashes.get(name) == digest:
            return
        with tempfile.NamedTemporaryFile("w", suffix=".crm") as f:
            f.write(f"{text} \\\n\t{params}\n" if params else f"{text}\n")
            f.flush()
            if self.commit(f"crm configure load update {f.name}") == 0:
                self._hashes[name] = digest

    def _remote_resources(self, resources: dict, clones: dict, groups: dict) -> None:
        """configure_pacemaker_remote_resources and configure_resources_on_remotes."""
        remotes = []
        for hostname, address in sorted(self.remotes.items()):
            if not self._present(hostname):
                self.commit(
                    f"crm configure primitive {hostname} ocf:pacemaker:remote params "
                    f"server={address} reconnect_interval=60 op monitor interval=30s"
                )
            remotes.append(hostname)
        if not remotes or self.enable_resources is not False:
            return
        targets = [*clones.values(), *groups.values()]
        for name in resources:
            if name not in targets:
                self._local_rules(name)
        preferred = list(zip(sorted(remotes), itertools.cycle(self.members)))
        for name in sorted(remotes):
            for node in self.members:
                score = 200 if (name, node) in preferred else 0
                self._update(
                    f"location loc-{name}-{node} {name} {score}: {node}",
                    f"loc-{name}-{node}",
                    None,
                )
        for name in clones:
            self._local_rules(name)
            self.commit(
                f"crm_resource --resource {name} --set-parameter clone-max --meta "
                f"--parameter-value {len(self.members)}"
            )
        for name in groups:
            self._local_rules(name)

    def _local_rules(self, name: str) -> None:
        """add_location_rules_for_local_nodes."""
        for node in self.members:
            rule = f"loc-{name}-{node}"
            if not self.exists(rule):
                self.commit(f"crm -w -F configure location {rule} {name} 0: {node}")
