"""A masakari unit driven by its charm through every release of its series, on real services.

:class:`UnitOnStack` is the unit's machine. Its files are real (under a root, as in every
functional test); its packages are releases of masakari, the Cloud Archive pockets the
charm adds deciding what ``apt-get`` installs, each release's real code (its services
venv) taking the place of the packages'; its services are the stack's own daemons:
starting masakari-engine or apache2 starts that release's code, and the charm's
``masakari-manage db sync`` is the release's real command against MariaDB. As
``deb-systemd-invoke`` does, an upgraded masakari-engine package restarts the engine
unless it is masked. Every engine start and every migration is recorded with the
schema's revision, so a test sees whether an engine ever ran on a schema older than
its code.

:class:`UpgradeChain` deploys caracal through the charm's hooks, fills masakari with
segments, hosts and finished notifications, and moves ``openstack-origin`` forward one
release at a time (with or without ``action-managed-upgrade``). The functional test and
the upgrade benchmark share it.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import charm_runs
import release_matrix
import service_stack as ss
from openstack_charm_lib.host import CommandError
from openstack_charm_lib.releases import CLOUD_ARCHIVE_POCKETS, SERIES_DISTRO_RELEASE
from openstack_charm_testing import FakeHost

SERIES = "noble"
# caracal, then every Cloud Archive release of noble, oldest first.
CHAIN = (SERIES_DISTRO_RELEASE[SERIES], *CLOUD_ARCHIVE_POCKETS[SERIES])
ENGINE = "masakari-engine"
DAEMONS = (ENGINE, "apache2", "haproxy")  # the stack's real processes; memcached is shared
MASAKARI_PACKAGES = ("masakari-api", "masakari-engine", "masakari-common")
PROBED_PORTS = (ss.PORTS["masakari"], 8404, 8405, ss.PORTS["apache"], ss.PORTS["memcached"])
DAEMON_PORTS = {"apache2": (ss.PORTS["apache"],), "haproxy": (ss.PORTS["masakari"], 8404, 8405)}


def package_version(release: str) -> str:
    """What Ubuntu calls masakari of ``release`` on noble (distro or Cloud Archive)."""
    version = f"{release_matrix.RELEASES[release].masakari}-0ubuntu1"
    return version if release == CHAIN[0] else f"{version}~cloud0"


def schema_head(venv: Path) -> str:
    """The newest alembic revision among a masakari's migration scripts."""
    found = list(venv.glob("lib/python3*/site-packages/masakari/db/sqlalchemy/migrations"))
    revisions, parents = set(), set()
    for script in found[0].glob("versions/*.py"):
        text = script.read_text()
        revision = re.search(r"^revision = '(\w+)'", text, re.M)
        down = re.search(r"^down_revision = '(\w+)'", text, re.M)
        if revision:
            revisions.add(revision[1])
        if down:
            parents.add(down[1])
    (head,) = revisions - parents
    return head


@dataclasses.dataclass(frozen=True)
class Event:
    """A migration (``db sync``) or an engine start, with the schema's revision then."""

    kind: str  # "db sync", "engine start" or "backfill" (the charm's, after a sync)
    release: str  # the release whose code ran
    revision: str | None  # the schema's revision: after a sync, at an engine start
    # (for a backfill: what it printed, the number of rows it filled)
    head: str  # the newest revision that release's code knows


class UnitOnStack(FakeHost):
    """The masakari unit's machine: real files, releases as packages, the stack's daemons."""

    def __init__(self, root: Path, stack: ss.ServiceStack):
        super().__init__(
            root,
            fqdn="masakari-0.maas",
            series=SERIES,
            service_ports={"memcached": [ss.PORTS["memcached"]]},
        )
        self.stack = stack
        self.release: str | None = None  # of the installed masakari packages
        self.pockets: list[str] = []  # Cloud Archive releases added by add-apt-repository
        self.depends = {"masakari-api": ["masakari-common"]}
        self.maintainer_starts = {"masakari-engine": [ENGINE]}
        self.events: list[Event] = []

    # -- packages: the pockets decide the release; its venv is the code ---------------
    def _simulate(self, argv: list[str]) -> tuple[int, str]:
        if argv[0] == "add-apt-repository" and argv[-1].startswith("cloud-archive:"):
            self.pockets.append(argv[-1].removeprefix("cloud-archive:").split("-")[0])
        if argv[:2] == ["apt-get", "update"]:
            newest = max(CHAIN.index(r) for r in [CHAIN[0], *self.pockets] if r in CHAIN)
            self.available.update(dict.fromkeys(MASAKARI_PACKAGES, package_version(CHAIN[newest])))
        return super()._simulate(argv)

    def packages_changed(self, packages: list[str]) -> None:
        """The new release's code replaces the old; then the maintainer scripts run."""
        version = self.installed.get("masakari-common", "")
        release = next((r for r in CHAIN if version == package_version(r)), None)
        if release and release != self.release:
            self.release = release
            self.stack.masakari_venv = release_matrix.services_venv_path(release)
        super().packages_changed(packages)
        restarted = {s for p in packages for s in self.maintainer_starts.get(p, ())}
        for service in restarted - self.masked:
            self._converge_daemon(service, restart=True)

    # -- services: systemctl acts on the stack's processes ------------------------------
    def _systemctl(self, args: list[str]) -> tuple[int, str]:
        verb = args[0]
        names = [a for a in args[1:] if not a.startswith("-")]
        if verb == "is-active":
            for name in DAEMONS:
                (self.running.add if self.stack.running(name) else self.running.discard)(name)
        code, out = super()._systemctl(args)
        if code == 0:
            for name in names:
                if name in DAEMONS:
                    self._converge_daemon(name, restart=verb in ("restart", "reload-or-restart"))
        return code, out

    def _converge_daemon(self, name: str, restart: bool) -> None:
        alive = self.stack.running(name)
        wanted = name in self.running
        if alive and (restart or not wanted):
            self.stack.stop(name)
            for port in DAEMON_PORTS.get(name, ()):
                ss.wait_until(lambda p=port: ss.port_free(p), 30, f"{name} to free {port}")
            alive = False
        if wanted and not alive:
            self._start_daemon(name)

    def _start_daemon(self, name: str) -> None:
        root = self.path("/")
        if name == ENGINE:
            assert self.release, "the engine started before any masakari was installed"
            head = schema_head(self.stack.masakari_venv)
            self.events.append(
                Event("engine start", self.release, self.stack.schema_revision(), head)
            )
            self.stack.start_engine(root)
        elif name == "apache2":
            self.stack.start_apache(root)
        else:
            self.stack.start_haproxy(root)

    def listening_tcp_ports(self) -> set[int]:
        """The ports something listens on, asked of the network."""
        return {port for port in PROBED_PORTS if not ss.port_free(port)}

    # -- the leader's migration is the release's real one ---------------------------------
    def run(
        self,
        argv: Sequence[str],
        *,
        check: bool = True,
        env: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """The leader's db sync and the charm's backfill for real; others as FakeHost does."""
        if list(argv[:2]) == ["python3", "-c"] and argv[3] == "--config-file":
            return self._run_python(argv, check)
        if list(argv[:1]) != ["masakari-manage"] or list(argv[-2:]) != ["db", "sync"]:
            return super().run(argv, check=check, env=env, timeout=timeout)
        self.commands.append(list(argv))
        assert self.release
        log = self.stack.logs / f"db-sync-{self.release}.log"
        try:
            proc = self.stack.db_sync(self.path("/"))
        except subprocess.CalledProcessError as exc:
            log.write_text(f"exit {exc.returncode}\n{exc.stdout}\n{exc.stderr}")
            if check:
                raise CommandError(argv, exc.returncode, exc.stderr[-2000:]) from exc
            return subprocess.CompletedProcess(argv, exc.returncode, exc.stdout, exc.stderr)
        log.write_text(f"{proc.stdout}\n{proc.stderr}")
        head = schema_head(self.stack.masakari_venv)
        self.events.append(Event("db sync", self.release, self.stack.schema_revision(), head))
        return subprocess.CompletedProcess(list(argv), 0, proc.stdout, proc.stderr)

    def _run_python(self, argv: Sequence[str], check: bool) -> subprocess.CompletedProcess[str]:
        """``python3 -c CODE --config-file <masakari.conf>`` with the release's interpreter."""
        self.commands.append(list(argv))
        conf = self.stack.masakari_etc(self.path("/")) / "masakari.conf"
        python = self.stack.masakari_venv / "bin" / "python"
        proc = subprocess.run(
            [str(python), "-c", argv[2], "--config-file", str(conf)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        self.events.append(Event("backfill", str(self.release), proc.stdout.strip(), ""))
        if check and proc.returncode:
            raise CommandError(argv[:2], proc.returncode, proc.stderr[-2000:])
        return proc


@dataclasses.dataclass
class Step:
    """One move of ``openstack-origin``: what the unit said and how long it took."""

    release: str
    status: str
    seconds: float
    outcome: str = ""  # the openstack-upgrade action's, when it ran
    back_after: float = 0.0  # seconds from the hook's end until haproxy served the API again


class UpgradeChain:
    """A masakari leader on the stack, deployed at caracal and upgraded release by release."""

    def __init__(self, state: Path, config: dict | None = None):
        self.state = state
        self.services = ss.ServiceStack(state)
        self.host: UnitOnStack | None = None
        self.config = dict(config or {})
        self.unit_state = None
        self.facts: dict = {}
        self.servers: list[str] = []
        self.segments: dict[str, str] = {}
        self._token: tuple[str, float] | None = None

    def close(self) -> None:
        """Stop every process by PID."""
        self.services.close()

    # -- deploying ---------------------------------------------------------------------
    def start(self) -> None:
        """The services, then a new masakari unit through install and config-changed."""
        services = self.services
        self.facts = services.start_control_plane()
        self.config = {
            "openstack-origin": "distro",
            **self.config,
            "config-flags": services.masakari_flags(),
        }
        self.host = UnitOnStack(self.state / "masakari-root", services)
        self.host.running.add("memcached")  # the stack's own
        self.unit_state = charm_runs.new_masakari_state(self.facts, self.config)
        self.hook("install")
        self.hook("config_changed")
        published = next(r for r in self.unit_state.relations if r.endpoint == "identity-service")
        services.register_endpoints(dict(published.local_unit_data))
        ss.wait_until(lambda: ss.http_ok(self.url("/")), 60, "masakari-api through haproxy")

    def hook(self, event: str, **config) -> str:
        """Run a hook (``config`` changes the charm's options first); the unit's status."""
        if config:
            self.config = {**self.config, **config}
            self.unit_state = dataclasses.replace(self.unit_state, config=self.config)
        ctx = charm_runs.masakari_context(self.host)
        self.unit_state = ctx.run(getattr(ctx.on, event)(), self.unit_state)
        return self.status

    def action(self, name: str, **params) -> dict:
        """Run an action of the charm; its results."""
        ctx = charm_runs.masakari_context(self.host)
        self.unit_state = ctx.run(ctx.on.action(name, params=params), self.unit_state)
        return dict(ctx.action_results or {})

    @property
    def status(self) -> str:
        """``<name>: <message>`` of the unit's status."""
        status = self.unit_state.unit_status
        return f"{status.name}: {status.message}"

    @property
    def synced_release(self) -> str | None:
        """What the leader recorded on the peer relation as migrated."""
        peers = next(r for r in self.unit_state.relations if r.endpoint == "cluster")
        return peers.local_app_data.get("db-synced-release")

    # -- upgrading -----------------------------------------------------------------------
    def upgrade_to(self, release: str, *, with_action: bool) -> Step:
        """Move ``openstack-origin`` to ``release``; with the action, also run it."""
        started = time.monotonic()
        origin = f"cloud:{SERIES}-{release}"
        outcome = ""
        if with_action:
            options = {"openstack-origin": origin, "action-managed-upgrade": True}
            waiting = self.hook("config_changed", **options)
            expected = f"active: Unit is ready (run openstack-upgrade for {release})"
            assert waiting == expected, waiting
            assert self.host.release != release, "upgraded before the action ran"
            outcome = self.action("openstack-upgrade")["outcome"]
        else:
            self.hook("config_changed", **{"openstack-origin": origin})
        seconds = time.monotonic() - started
        # haproxy takes a restarted Apache back once its layer-7 check passes again.
        ss.wait_until(lambda: ss.http_ok(self.url("/")), 60, "masakari-api through haproxy")
        back_after = time.monotonic() - started - seconds
        return Step(release, self.status, seconds, outcome, back_after)

    # -- talking to masakari through haproxy -----------------------------------------------
    def url(self, path: str) -> str:
        """A masakari URL on the unit's haproxy frontend."""
        return f"http://127.0.0.1:{ss.PORTS['masakari']}{path}"

    def token(self) -> str:
        if not self._token or time.monotonic() - self._token[1] > 600:
            password = self.services.passwords["masakari"]
            token, _ = self.services.admin_token(
                "masakari", password, "service_domain", "services"
            )
            self._token = (token, time.monotonic())
        return self._token[0]

    def api(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        """A call to masakari's v1 API through haproxy."""
        return self.services.call(method, self.url(f"/v1{path}"), self.token(), body)

    def populate(self) -> None:
        """Segments, hosts (one reserved) and finished host and instance notifications."""
        nova = self.services.nova
        for host in ("compute-a.maas", "compute-b.maas"):
            nova("POST", "/_double/service", {"host": host})
        nova("POST", "/_double/service", {"host": "spare-c.maas", "status": "disabled"})
        self.servers = [
            nova("POST", "/_double/server", {"name": f"vm-{i}", "host": "compute-a.maas"})["id"]
            for i in range(len(CHAIN) + 2)
        ]
        nova("POST", "/_double/server", {"name": "vm-b", "host": "compute-b.maas"})
        for name, method, hosts in (
            ("segment-auto", "auto", [("compute-a.maas", False), ("compute-b.maas", False)]),
            ("segment-reserved", "reserved_host", [("spare-c.maas", True)]),
        ):
            body = {"name": name, "recovery_method": method, "service_type": "COMPUTE"}
            status, answer = self.api("POST", "/segments", {"segment": body})
            assert status in (200, 201), answer
            self.segments[name] = answer["segment"]["uuid"]
            for host, reserved in hosts:
                body = {"name": host, "type": "COMPUTE", "control_attributes": "SSH"}
                body["reserved"] = reserved
                status, answer = self.api(
                    "POST", f"/segments/{self.segments[name]}/hosts", {"host": body}
                )
                assert status in (200, 201), answer
        payload = {"event": "STOPPED", "host_status": "NORMAL", "cluster_status": "OFFLINE"}
        self.wait_finished(self.notify("COMPUTE_HOST", "compute-b.maas", payload))
        self.instance_failure()

    def notify(self, kind: str, hostname: str, payload: dict) -> str:
        """Send a notification as a monitor would; its uuid."""
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        body = {"type": kind, "hostname": hostname, "generated_time": now, "payload": payload}
        status, answer = self.api("POST", "/notifications", {"notification": body})
        assert 200 <= status < 300, answer
        return answer["notification"]["notification_uuid"]

    def instance_failure(self) -> str:
        """A failed instance on compute-a (a new one each time) notified and recovered."""
        server = self.servers.pop()
        payload = {
            "event": "LIFECYCLE",
            "instance_uuid": server,
            "vir_domain_event": "STOPPED_FAILED",
        }
        return self.wait_finished(self.notify("VM", "compute-a.maas", payload))

    def wait_finished(self, uuid: str) -> str:
        def finished() -> bool:
            status = self.api("GET", f"/notifications/{uuid}")[1]["notification"]["status"]
            assert status not in ("failed", "ignored"), status
            return status == "finished"

        ss.wait_until(finished, 180, f"notification {uuid} to finish", interval=0.5)
        return uuid

    def records(self) -> dict[str, dict]:
        """Every segment, host and notification, by uuid, with the fields an upgrade keeps."""
        segments = self.api("GET", "/segments")[1]["segments"]
        hosts = {}
        for segment in segments:
            for host in self.api("GET", f"/segments/{segment['uuid']}/hosts")[1]["hosts"]:
                keys = ("name", "reserved", "on_maintenance", "failover_segment_id")
                hosts[host["uuid"]] = {k: host.get(k) for k in keys}
        notifications = self.api("GET", "/notifications")[1]["notifications"]
        return {
            "segments": {
                s["uuid"]: {k: s[k] for k in ("name", "recovery_method", "service_type")}
                for s in segments
            },
            "hosts": hosts,
            "notifications": {
                n["notification_uuid"]: {
                    k: n[k] for k in ("type", "status", "source_host_uuid", "generated_time")
                }
                for n in notifications
            },
        }

    def api_processes_run(self) -> set[str]:
        """The services venvs whose code the API's mod_wsgi processes have loaded."""
        apache = self.services.pids["apache2"]
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == apache:
                children.append(stat.parent)
        loaded = set()
        for proc in children:
            try:
                maps = (proc / "maps").read_text()
            except OSError:
                continue
            loaded.update(re.findall(r"/services-(\w+)/lib/", maps))
        return loaded
