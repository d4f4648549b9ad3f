"""A fake unit agent and machine that a charm's real ``dispatch`` runs against.

:class:`FakeAgent` answers the hook tools ops calls (config-get, relation-*, network-get,
status-*, ports, juju-log, is-leader, application-version-set, action-*) from a
:class:`UnitModel`, and the machine commands the charms run (systemctl, dpkg-query,
apt-get, a2ensite and friends) from the same model: packages installed, services
running. Every call is counted; restarts and relation writes are counted apart. A call
the model cannot answer is recorded in ``unexpected`` and fails, so a benchmark never
times a charm that took a path it did not mean to measure.

Machine changes (restarts, installs, site changes) are answered and listed in
``changes``: a steady-state hook must make none.

The tools are copies of one small C client (``hooktool.c``) that asks this agent over a
unix socket, the way Juju's own hook tools ask the unit agent.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import socketserver
import subprocess
import sys
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
HOOK_TOOLS = (
    "juju-log",
    "config-get",
    "is-leader",
    "relation-ids",
    "relation-list",
    "relation-get",
    "relation-set",
    "network-get",
    "status-get",
    "status-set",
    "application-version-set",
    "open-port",
    "close-port",
    "opened-ports",
    "action-get",
    "action-set",
    "action-fail",
    "action-log",
)
MACHINE_TOOLS = (
    "systemctl",
    "dpkg-query",
    "apt-get",
    "add-apt-repository",
    "a2ensite",
    "a2dissite",
    "a2enmod",
    "update-ca-certificates",
    "masakari-manage",
)


@dataclasses.dataclass
class FakeRelation:
    """One relation as this unit sees it."""

    id: int
    endpoint: str
    remote_app: str
    remote_units: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    remote_app_data: dict[str, str] = dataclasses.field(default_factory=dict)
    local_unit_data: dict[str, str] = dataclasses.field(default_factory=dict)
    local_app_data: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class UnitModel:
    """What Juju and the machine hold for one unit."""

    unit: str
    leader: bool
    config: dict
    relations: list[FakeRelation]
    bindings: dict[str, str]  # binding -> address (in a /24)
    packages: dict[str, str]  # installed package -> version
    services: dict[str, str]  # running service -> Group= of its unit
    ports: set[str] = dataclasses.field(default_factory=set)
    action_params: dict = dataclasses.field(default_factory=dict)

    @property
    def app(self) -> str:
        """The unit's application."""
        return self.unit.split("/")[0]

    def relation(self, ref: str) -> FakeRelation:
        """The relation ``ref`` ("endpoint:id" or "id") names."""
        rel_id = int(ref.rsplit(":", 1)[-1])
        return next(r for r in self.relations if r.id == rel_id)


class UnanswerableError(Exception):
    """The model has no answer for this call."""


@dataclasses.dataclass
class Counts:
    """What the charm asked for during one hook."""

    tools: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    restarts: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    relation_writes: int = 0
    changes: list[str] = dataclasses.field(default_factory=list)  # machine changes made
    unexpected: list[str] = dataclasses.field(default_factory=list)
    status: tuple[str, str] = ("unknown", "")

    @property
    def hook_tools(self) -> int:
        """Hook tool invocations."""
        return sum(n for t, n in self.tools.items() if t in HOOK_TOOLS)

    @property
    def machine_commands(self) -> int:
        """Machine command invocations (systemctl, dpkg-query, ...)."""
        return sum(n for t, n in self.tools.items() if t in MACHINE_TOOLS)


def _flags(args: list[str]) -> tuple[dict[str, str | bool], list[str]]:
    """``-r X``, ``--k=v``, ``--k`` and positionals (after ``--``, all positional)."""
    flags: dict[str, str | bool] = {}
    positional: list[str] = []
    items = iter(args)
    for arg in items:
        if arg == "--":
            positional.extend(items)
        elif arg in ("-r", "--file", "--log-level", "--endpoints"):
            flags[arg.lstrip("-")] = next(items)
        elif arg.startswith("--") and "=" in arg:
            key, value = arg[2:].split("=", 1)
            flags[key] = value
        elif arg.startswith("--"):
            flags[arg[2:]] = True
        else:
            positional.append(arg)
    return flags, positional


class FakeAgent:
    """Serves one unit's hook tools and machine commands on a unix socket."""

    def __init__(self, model: UnitModel, workdir: Path):
        self.model = model
        self.workdir = workdir
        self.socket_path = str(workdir / "agent.sock")
        self.tools_dir = workdir / "bin"
        self.counts = Counts()
        self._lock = threading.Lock()
        self._server: socketserver.ThreadingUnixStreamServer | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        """Compile the client, link every tool to it and serve."""
        self.tools_dir.mkdir(parents=True, exist_ok=True)
        client = self.workdir / "hooktool"
        if not client.exists():
            subprocess.run(["gcc", "-O2", "-o", str(client), str(HERE / "hooktool.c")], check=True)
        for tool in (*HOOK_TOOLS, *MACHINE_TOOLS):
            link = self.tools_dir / tool
            if not link.exists():
                link.symlink_to(client)
        if os.path.exists(self.socket_path):
            os.unlink(self.socket_path)
        agent = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                raw = self.rfile.read()
                head, _, stdin = raw.partition(b"\0\0")
                argv = head.decode().split("\0")
                code, text = agent.answer(argv, stdin.decode())
                self.wfile.write(f"{code}\n".encode() + text.encode())

        self._server = socketserver.ThreadingUnixStreamServer(self.socket_path, Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Stop serving."""
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def take_counts(self) -> Counts:
        """The counts since the last call."""
        with self._lock:
            counts, self.counts = self.counts, Counts(status=self.counts.status)
        return counts

    def env(self, hook: str, python_dir: str, remote_unit: str = "", relation: str = "") -> dict:
        """The environment Juju gives ``dispatch`` for ``hook``."""
        env = {
            "PATH": f"{self.tools_dir}:{python_dir}:/usr/sbin:/usr/bin:/sbin:/bin",
            "FAKE_JUJU_SOCKET": self.socket_path,
            "JUJU_UNIT_NAME": self.model.unit,
            "JUJU_MODEL_NAME": "benchmark",
            "JUJU_MODEL_UUID": "00000000-0000-4000-8000-000000000000",
            "JUJU_VERSION": "3.6.0",
            "JUJU_DISPATCH_PATH": f"hooks/{hook}",
            "JUJU_HOOK_NAME": hook,
            "LANG": "C.UTF-8",
        }
        if relation:
            rel = self.model.relation(relation)
            env.update(
                JUJU_RELATION=rel.endpoint,
                JUJU_RELATION_ID=f"{rel.endpoint}:{rel.id}",
                JUJU_REMOTE_APP=rel.remote_app,
            )
            if remote_unit:
                env["JUJU_REMOTE_UNIT"] = remote_unit
        return env

    # -- answers -----------------------------------------------------------------------
    def answer(self, argv: list[str], stdin: str) -> tuple[int, str]:
        """Exit code and output of one call."""
        tool, args = argv[0], argv[1:]
        with self._lock:
            self.counts.tools[tool] += 1
            try:
                handler = getattr(self, "_" + tool.replace("-", "_"))
                answer = handler(*_flags(args), stdin)
                return answer if isinstance(answer, tuple) else (0, answer)
            except UnanswerableError as exc:
                self.counts.unexpected.append(f"{tool} {' '.join(args)}: {exc}")
                return 1, f"fake agent: {exc}\n"
            except (StopIteration, KeyError, IndexError, ValueError) as exc:
                self.counts.unexpected.append(f"{tool} {' '.join(args)}: {exc!r}")
                return 1, f"fake agent: cannot answer {tool} {args}\n"

    def _juju_log(self, flags, args, stdin):
        return ""

    def _config_get(self, flags, args, stdin):
        return json.dumps(self.model.config[args[0]] if args else self.model.config)

    def _is_leader(self, flags, args, stdin):
        return json.dumps(self.model.leader)

    def _relation_ids(self, flags, args, stdin):
        ids = [f"{r.endpoint}:{r.id}" for r in self.model.relations if r.endpoint == args[0]]
        return json.dumps(ids)

    def _relation_list(self, flags, args, stdin):
        rel = self.model.relation(str(flags["r"]))
        if flags.get("app"):
            return json.dumps(rel.remote_app)
        return json.dumps(sorted(rel.remote_units, key=lambda u: int(u.split("/")[1])))

    def _relation_get(self, flags, args, stdin):
        rel = self.model.relation(str(flags["r"]))
        member = args[-1]
        if flags.get("app"):
            bag = rel.local_app_data if member == self.model.app else rel.remote_app_data
        elif member == self.model.unit:
            bag = rel.local_unit_data
        else:
            bag = rel.remote_units[member]
        return json.dumps(bag)

    def _relation_set(self, flags, args, stdin):
        rel = self.model.relation(str(flags["r"]))
        bag = rel.local_app_data if flags.get("app") else rel.local_unit_data
        for key, value in json.loads(stdin).items():
            if value == "":
                bag.pop(key, None)
            else:
                bag[key] = value
        self.counts.relation_writes += 1
        return ""

    def _network_get(self, flags, args, stdin):
        address = self.model.bindings[args[-1]]
        cidr = address.rsplit(".", 1)[0] + ".0/24"
        return json.dumps(
            {
                "bind-addresses": [
                    {
                        "mac-address": "00:16:3e:00:00:01",
                        "interface-name": "eth0",
                        "addresses": [{"hostname": "", "value": address, "cidr": cidr}],
                    }
                ],
                "egress-subnets": [cidr],
                "ingress-addresses": [address],
            }
        )

    def _status_get(self, flags, args, stdin):
        status, message = self.counts.status
        return json.dumps({"status": status, "message": message, "status-data": {}})

    def _status_set(self, flags, args, stdin):
        self.counts.status = (args[0], args[1] if len(args) > 1 else "")
        return ""

    def _application_version_set(self, flags, args, stdin):
        return ""

    def _opened_ports(self, flags, args, stdin):
        return json.dumps(sorted(self.model.ports))

    def _open_port(self, flags, args, stdin):
        self.model.ports.add(args[0] if "/" in args[0] else f"{args[0]}/tcp")
        return ""

    def _close_port(self, flags, args, stdin):
        self.model.ports.discard(args[0] if "/" in args[0] else f"{args[0]}/tcp")
        return ""

    def _action_get(self, flags, args, stdin):
        return json.dumps(self.model.action_params)

    def _action_set(self, flags, args, stdin):
        return ""

    _action_fail = _action_log = _action_set

    # -- the machine -------------------------------------------------------------------
    def _systemctl(self, flags, args, stdin):
        verb, service = args[0], args[-1]
        if verb == "is-active":
            states = ["active" if s in self.model.services else "inactive" for s in args[1:]]
            code = 0 if "inactive" not in states else 3
            return code, "" if flags.get("quiet") else "\n".join(states) + "\n"
        if verb == "is-enabled":  # a question, not a change: running services are enabled
            states = ["enabled" if s in self.model.services else "disabled" for s in args[1:]]
            code = 0 if "disabled" not in states else 1
            return code, "" if flags.get("quiet") else "\n".join(states) + "\n"
        if verb == "show":
            return self.model.services.get(service, "") + "\n"
        if verb in ("restart", "reload-or-restart"):
            self.counts.restarts[service] += 1
        return self._change("systemctl", args)

    def _dpkg_query(self, flags, args, stdin):
        lines = [
            f"{p} install ok installed {self.model.packages[p]}"
            for p in args
            if p in self.model.packages
        ]
        return "\n".join(lines) + "\n"

    def _change(self, tool: str, args: list[str]) -> str:
        """A command that changes the machine: done (nothing to do here) and recorded."""
        self.counts.changes.append(" ".join([tool, *args]))
        return ""

    def _apt_get(self, flags, args, stdin):
        return self._change("apt-get", args)

    def _add_apt_repository(self, flags, args, stdin):
        return self._change("add-apt-repository", args)

    def _a2enmod(self, flags, args, stdin):
        return self._change("a2enmod", args)

    def _update_ca_certificates(self, flags, args, stdin):
        return self._change("update-ca-certificates", args)

    def _masakari_manage(self, flags, args, stdin):
        return self._change("masakari-manage", args)

    def _a2ensite(self, flags, args, stdin):
        for site in args:
            link = Path(f"/etc/apache2/sites-enabled/{site}.conf")
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.is_symlink():
                link.symlink_to(f"../sites-available/{site}.conf")
        return self._change("a2ensite", args)

    def _a2dissite(self, flags, args, stdin):
        for site in args:
            Path(f"/etc/apache2/sites-enabled/{site}.conf").unlink(missing_ok=True)
        return self._change("a2dissite", args)


def python_dir() -> str:
    """The directory of a real python3 (not a version manager's shim)."""
    return str(Path(os.path.realpath(sys.executable)).parent)
