"""What the masakari charm does on its machine once config and relations are read.

:class:`Machine` runs the workload's part of a pass: it installs the policyd-override
rules, turns the relations' answers into the workload's inputs, writes the files whose
content changed, keeps the restarts they call for until they can happen, updates the
system trust store when the charm's CA changed, migrates the schema once per release
(on the leader), starts or restarts the services (masakari-engine only on a migrated
schema) and says whether they serve. The functions below it switch the Apache sites
(the charm's WSGI site on, the package's off, the TLS frontend as TLS is configured),
rebuild the trust store and run the migration (``masakari-manage db sync``, then the
segment backfill a release needs). What goes wrong becomes text for the status; the
next hook retries a failed command.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import time
from typing import Protocol

import masakari_workload as wl
import ops
from masakari_config import MasakariConfig
from masakari_relations import Answers
from masakari_status import Outcome, summarise
from openstack_charm_lib import policy_overrides, services
from openstack_charm_lib.charm_base import failure_message
from openstack_charm_lib.host import CommandError, Host
from openstack_charm_lib.network import Binding, is_ipv6
from openstack_charm_lib.rendering import Renderer, apply_when_changed
from openstack_charm_lib.status import join_names
from openstack_charm_lib.tls import TlsMaterial
from peers import Peers

logger = logging.getLogger(__name__)

_ENABLED = "/etc/apache2/sites-enabled/{}.conf"
_AVAILABLE = "/etc/apache2/sites-available/{}.conf"
TLS_MODULES = ("ssl", "proxy", "proxy_http", "headers")


class MachineRecord(Protocol):
    """What the unit remembers between hooks about its machine (the charm's stored state)."""

    stats_password: str  # haproxy's statistics page
    pending_restarts: list[str]  # services whose inputs changed but that have not restarted
    rendered: dict  # digests of the files as last written
    code_versions: str  # the masakari packages the running processes were started on
    ca_update_pending: bool  # the charm's CA changed but the trust store was not rebuilt


@dataclasses.dataclass(frozen=True)
class PassRead:
    """What the pass read that the workload is built from."""

    config: MasakariConfig
    answers: Answers  # shared-db's, amqp's and identity-service's
    tls: TlsMaterial | None  # the certificates, once vault issued them
    bindings: dict[str, Binding]
    local: dict[str, str]  # this unit's address by endpoint type
    leader: bool
    paused: bool


class Machine:
    """The workload's part of a pass, on ``host``."""

    def __init__(self, host: Host, record: MachineRecord, renderer: Renderer, peers: Peers):
        self._host = host
        self._record = record
        self._renderer = renderer
        self._peers = peers

    def _stats_password(self) -> str:
        """Haproxy's statistics password, made once per unit."""
        if not self._record.stats_password:
            self._record.stats_password = secrets.token_urlsafe(24)
        return str(self._record.stats_password)

    def _restart_later(self, service: str) -> None:
        """Restart ``service`` when the pass can, even if no file of it changes."""
        self._record.pending_restarts = sorted({*self._record.pending_restarts, service})

    def apply_policy_overrides(
        self, model: ops.Model, enabled: bool, app: str, outcome: Outcome
    ) -> None:
        """Install or remove the policyd-override rules; masakari-api restarts on a change."""
        policy = outcome.policy = policy_overrides.converge(
            self._host, model, enabled, wl.POLICY_OVERRIDES, "masakari", app
        )
        if policy.problem:
            outcome.blocked.append(policy.problem)
        if policy.changed:  # every mod_wsgi process of masakari-api enforces it at once
            self._restart_later("apache2")

    def apply_answers(self, read: PassRead, outcome: Outcome) -> None:
        """The workload for the relations' answers; waits while a peer's addresses are bad."""
        bad_peers = self._peers.address_problems()
        if bad_peers:
            outcome.waiting.extend(summarise("peers", bad_peers))
            return
        database, messaging, keystone = read.answers
        inputs = wl.WorkloadInputs(
            config=read.config,
            database=database,
            messaging=messaging,
            keystone=keystone,
            tls=read.tls,
            backends=self._peers.backends(read.bindings, read.local),
            cpus=self._host.cpu_count(),
            stats_password=self._stats_password(),
            ipv6=is_ipv6(next(iter(read.local.values()), "")),
            release=outcome.installed.release,
        )
        self._apply(inputs, outcome, leader=read.leader, paused=read.paused)

    def _apply(
        self, inputs: wl.WorkloadInputs, outcome: Outcome, *, leader: bool, paused: bool
    ) -> None:
        """Files, trust store, schema and services as ``inputs`` ask."""
        applied = apply_when_changed(
            self._host,
            self._record.rendered,
            [inputs, self._renderer.digest()],
            lambda: wl.build_files(inputs, self._renderer),
        )
        # Restarts that could not happen yet (paused, schema not migrated, a failed
        # command below) are kept until they can: the files will not change again.
        pending = {*self._record.pending_restarts, *applied.restarts}
        self._record.pending_restarts = sorted(pending)
        if not self._trust_store_current(wl.CHARM_CA in applied.changed, outcome):
            return
        # New package versions bring new code, which running processes load only on restart.
        versions = outcome.installed.versions
        code_versions = ",".join(f"{p}={versions.get(p)}" for p in wl.CODE_PACKAGES)
        if code_versions != self._record.code_versions:
            pending.update(wl.CODE_SERVICES)
        outcome.to_restart = [s for s in wl.SERVICES if s in pending]
        synced = outcome.synced = self._database_synced(outcome, leader)
        self._run_services(synced, pending, outcome, paused)
        self._record.pending_restarts = sorted(pending)
        self._record.code_versions = code_versions

    def stop_engine(self) -> None:
        """Stop masakari-engine: it must not act on relations that are not ready."""
        services.ensure_stopped(self._host, wl.ENGINE)

    def converge_sites(self, tls_on: bool, outcome: Outcome, paused: bool) -> None:
        """Our WSGI site enabled, the package's disabled, TLS frontend as configured."""
        changed = converge_sites(self._host, tls_on)
        if changed and not paused and "apache2" not in outcome.to_restart:
            if services.is_running(self._host, "apache2"):
                services.restart(self._host, "apache2")
                outcome.to_restart.append("apache2")

    def serving_problem(self, restarted: bool, tls_on: bool) -> str | None:
        """A service that is not running or a port nothing listens on; None when serving.

        ``restarted``: services restarted in this hook, which may need a moment to bind.
        """
        down = services.not_running(self._host, wl.SERVICES)
        if down:
            return f"Services not running: {join_names(down)}"
        wanted = wl.listening_ports(tls_on)
        listening = self._listening(set(wanted), restarted)
        closed = [p for p in wanted if p not in listening]
        if closed:
            return f"Ports not listening: {join_names(map(str, closed))}"
        return None

    def _listening(self, wanted: set[int], restarted: bool) -> set[int]:
        ports = self._host.listening_tcp_ports()
        attempts = 10 if restarted else 0
        while attempts and not wanted <= ports:
            time.sleep(1)
            attempts -= 1
            ports = self._host.listening_tcp_ports()
        return ports

    def _trust_store_current(self, ca_changed: bool, outcome: Outcome) -> bool:
        """Whether the system trust store holds the CA the charm wrote (updated if not)."""
        if ca_changed:
            self._record.ca_update_pending = True
        if not self._record.ca_update_pending:
            return True
        problem = update_trust_store(self._host)
        if problem:
            outcome.blocked.append(problem)
            return False
        self._record.ca_update_pending = False
        return True

    def _run_services(
        self, synced: bool, pending: set[str], outcome: Outcome, paused: bool
    ) -> None:
        """Start what should run and restart ``pending``; the engine only on a synced schema."""
        if not synced:
            services.mask(self._host, wl.ENGINE)
        elif not paused:
            services.unmask(self._host, wl.ENGINE)
        if paused:
            return
        wanted = [s for s in wl.SERVICES if synced or s != wl.ENGINE]
        for service in services.converge(self._host, wanted, pending):
            logger.error("could not start %s", service)
            outcome.blocked.append(f"Failed to start {service}; see its journal")

    def _database_synced(self, outcome: Outcome, leader: bool) -> bool:
        """Run the leader's db sync once per release; True when the schema is current."""
        release = outcome.installed.release
        if not self._peers.joined:
            outcome.waiting.append("waiting for the peer relation")
            return False
        if release is None:
            outcome.blocked.append(
                f"cannot tell the OpenStack release: {wl.VERSION_PACKAGE} is not installed"
            )
            return False
        if self._peers.synced_release() == release:
            return True
        if not leader:
            outcome.waiting.append(f"waiting for the leader to migrate the database to {release}")
            return False
        problem = migrate_schema(self._host, release)
        if problem:
            outcome.blocked.append(problem)
            return False
        self._peers.record_synced(release)
        return True


def converge_sites(host: Host, tls_on: bool) -> bool:
    """Enable and disable sites as wanted; whether any changed.

    A failing command ends the pass (the charm's error boundary makes it the status):
    Apache must not be restarted onto half-switched sites.
    """
    wanted: list[list[str]] = []
    if host.exists(_ENABLED.format(wl.PACKAGE_SITE)):
        wanted.append(["a2dissite", wl.PACKAGE_SITE])
    if host.exists(_AVAILABLE.format(wl.WSGI_SITE)) and not host.exists(
        _ENABLED.format(wl.WSGI_SITE)
    ):
        wanted.append(["a2ensite", wl.WSGI_SITE])
    tls_enabled = host.exists(_ENABLED.format(wl.TLS_SITE))
    if tls_on and not tls_enabled:
        wanted += [["a2enmod", *TLS_MODULES], ["a2ensite", wl.TLS_SITE]]
    elif not tls_on and tls_enabled:
        wanted.append(["a2dissite", wl.TLS_SITE])
    for command in wanted:
        host.run(command)
    return bool(wanted)


def update_trust_store(host: Host) -> str | None:
    """Rebuild the system trust store; a problem when that failed."""
    try:
        host.run(["update-ca-certificates"])
    except CommandError as exc:
        return f"{failure_message(exc)}: the trust store misses the new CA; retrying"
    return None


def migrate_schema(host: Host, release: str) -> str | None:
    """Bring the database schema to ``release``; a problem when that failed."""
    try:
        host.run(["masakari-manage", "--config-file", wl.MASAKARI_CONF, "db", "sync"], timeout=600)
    except CommandError as exc:
        logger.error("masakari-manage db sync failed (exit %s)", exc.returncode)
        return "masakari-manage db sync failed; see juju debug-log, retrying"
    if wl.needs_segment_backfill(release):
        try:
            proc = host.run(wl.segment_backfill_command(), timeout=600)
        except CommandError as exc:
            logger.error("notification segment backfill failed (exit %s)", exc.returncode)
            return (
                "filling the segment of older notifications failed; see juju debug-log, retrying"
            )
        logger.info("notifications given their host's segment: %s", proc.stdout.strip())
    logger.info("database migrated to %s", release)
    return None
