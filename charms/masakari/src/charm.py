#!/usr/bin/env python3
"""The masakari charm: Masakari API and engine behind haproxy and an hacluster VIP.

Every event runs :meth:`MasakariCharm._reconcile`, which recomputes the desired state
from config and relation data, publishes this unit's side of each relation, writes
only the files whose content changed, restarts only the services whose inputs
changed, and sets one status. Actions: pause, resume, restart-services,
openstack-upgrade, package-upgrade, and the segment/host actions (list-segments,
create-segment, add-host, remove-host, set-host-maintenance, list-notifications,
reserve-host).

On the leader, the pass also registers the hypervisors related on ``hosts`` in
masakari (see :mod:`registration`) and runs the state exporter (:mod:`masakari_exporter`);
cos-agent and nrpe-external-master get haproxy's and the exporter's metrics, the logs,
alert rules, the dashboard and the checks (:meth:`MasakariCharm.watch`).
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING, cast

import addresses
import masakari_exporter
import masakari_machine as machine
import masakari_workload as wl
import ops
from masakari_api import ApiError, Credentials
from masakari_config import ConfigError, MasakariConfig, load_config
from masakari_packages import Installed, OriginRecord, Packages
from openstack_charm_lib import (
    actions,
    cos_agent,
    hacluster,
    hypervisors,
    observability,
    policy_overrides,
    relations,
    services,
    tls,
)
from openstack_charm_lib.charm_base import ReconcilingCharm
from openstack_charm_lib.host import CommandError
from openstack_charm_lib.network import ENDPOINT_TYPES, Binding, is_ipv6, read_bindings
from openstack_charm_lib.relations.amqp import Amqp, Messaging
from openstack_charm_lib.relations.identity_service import IdentityService, Keystone
from openstack_charm_lib.relations.shared_db import Database, SharedDb
from openstack_charm_lib.releases import Step
from openstack_charm_lib.rendering import Renderer, apply_when_changed
from openstack_charm_lib.status import first_failure, join_names
from peers import Peers

if TYPE_CHECKING:
    import registration
    from masakari_api import MasakariApi

logger = logging.getLogger(__name__)

# Actions on the unit itself; the charm's other actions act on masakari's segments.
CHARM_ACTIONS = ("pause", "resume", "restart-services", "openstack-upgrade", "package-upgrade")
BINDINGS = ("cluster", *ENDPOINT_TYPES, "shared-db")
EXPORTER = "masakari-exporter"
COS_DIR = Path(__file__).parent / "cos"  # alert rules and the dashboard shipped with the charm
LOG_FILES = (
    "/var/log/masakari/*.log",
    "/var/log/apache2/masakari_*.log",
    "/var/log/haproxy.log",
)


@dataclasses.dataclass
class Outcome:
    """What one reconcile pass found, for the status."""

    installed: Installed  # the packages, their release and the upgrade on offer
    blocked: list[str] = dataclasses.field(default_factory=list)
    waiting: list[str] = dataclasses.field(default_factory=list)
    to_restart: list[str] = dataclasses.field(default_factory=list)  # services this pass restarts
    synced: bool = False  # the database schema matches the release
    registered: str = ""  # summary of automatic registration, for the active status
    warning: str = ""  # a risk the operator should know of, for the active status
    policy: policy_overrides.Overrides | None = None  # operator's policy overrides


class MasakariCharm(ReconcilingCharm):
    """Reconciling charm for masakari-api and masakari-engine."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self._stored.set_default(
            stats_password="",
            applied_origin="",
            pending_restarts=[],
            rendered={},
            code_versions="",
            ca_update_pending=False,
            ha_history={},  # hacluster.HaHistory: what the ha relation was ever sent
        )
        self.renderer = Renderer(wl.TEMPLATES)
        # The stored state records the origin the packages were last installed from.
        self.packages = Packages(self.host, cast(OriginRecord, self._stored), self._progress)
        self.peers = Peers(self.model)
        self.shared_db = SharedDb(self.model)
        self.amqp = Amqp(self.model)
        self.keystone = IdentityService(self.model)
        self.certificates = tls.Certificates(self.model)
        self.ha = hacluster.Ha(self.model)
        on = self.on
        events = [on.install, on.upgrade_charm, on.config_changed, on.start]
        events += [on.update_status, on.leader_elected]
        for endpoint in self.meta.relations:
            rel = on[endpoint]
            events += [
                rel.relation_joined,
                rel.relation_changed,
                rel.relation_departed,
                rel.relation_broken,
            ]
        self.observe_reconcile(events)
        framework.observe(on.openstack_upgrade_action, self._on_openstack_upgrade)
        framework.observe(on.package_upgrade_action, self._on_package_upgrade)
        # Every other action is one on segments, hosts or notifications: its module (not
        # imported by hooks) holds their table and refuses a name it lacks.
        for action in self.meta.actions:
            if action not in CHARM_ACTIONS:
                event = getattr(on, action.replace("-", "_") + "_action")
                framework.observe(event, self._on_segment_action)

    def pausable_services(self) -> tuple[str, ...]:
        """haproxy, apache2, masakari-engine and memcached."""
        return wl.SERVICES

    def _progress(self, message: str) -> None:
        self.unit.status = ops.MaintenanceStatus(message)

    def _load_config(self) -> MasakariConfig:
        return self.loaded_config(
            lambda: load_config(self.config, self.host.os_release().get("VERSION_CODENAME", ""))
        )

    def _action_config(self, event: ops.ActionEvent) -> MasakariConfig | None:
        """The validated config, or None after failing ``event`` with the problems."""
        try:
            return self._load_config()
        except ConfigError as exc:
            event.fail(f"Invalid config: {exc}")
            return None

    def _converge(self) -> ops.StatusBase:
        try:
            cfg = self._load_config()
        except ConfigError as exc:
            return ops.BlockedStatus(f"Invalid config: {exc}")
        installed = self.packages.ensure(cfg.origin, cfg.action_managed_upgrade)
        if isinstance(installed, str):
            return ops.BlockedStatus(installed)
        version = wl.upstream_version(installed.versions)
        if version:
            self.unit.set_workload_version(version)
        outcome = Outcome(installed=installed)
        # Only now is the release known: an option its masakari lacks is refused, not dropped.
        unknown = cfg.release_problems(installed.release)
        if unknown:
            return ops.BlockedStatus(f"Invalid config: {'; '.join(unknown)}")
        self.unit.set_ports(wl.API_PORT)
        return self._apply(cfg, outcome)

    # -- the main pass -------------------------------------------------------------------
    def _apply(self, cfg: MasakariConfig, outcome: Outcome) -> ops.StatusBase:
        bindings = read_bindings(self.model, BINDINGS)
        local, address_problems = addresses.local_addresses(cfg, bindings)
        outcome.blocked += address_problems
        cert_requests = addresses.certificate_requests(self.host.fqdn(), cfg, bindings, local)
        tls_state = self._tls(cfg, cert_requests, outcome)
        tls_ready = tls_state if isinstance(tls_state, tls.TlsMaterial) else None
        self._publish(cfg, bindings, local, tls_ready, cert_requests)
        self._apply_policy_overrides(outcome)

        ready = self._read_relations(outcome)
        if ready is not None and tls_state is not False:
            self._apply_workload(cfg, bindings, local, tls_ready, ready, outcome)
            if outcome.synced and self.unit.is_leader() and not self.paused:
                self._register_hosts(cfg, ready[2], outcome)
        elif not self.paused:
            services.ensure_stopped(self.host, wl.ENGINE)
        self._ensure_site_hygiene(tls_ready is not None and ready is not None, outcome)
        status = self._status(cfg, outcome, tls_ready is not None)
        return policy_overrides.prefixed(status, outcome.policy)

    def _apply_policy_overrides(self, outcome: Outcome) -> None:
        enabled = self.config.get(policy_overrides.OPTION) is True
        policy = outcome.policy = policy_overrides.converge(
            self.host, self.model, enabled, wl.POLICY_OVERRIDES, "masakari", self.app.name
        )
        if policy.problem:
            outcome.blocked.append(policy.problem)
        if policy.changed:  # every mod_wsgi process of masakari-api enforces it at once
            self._stored.pending_restarts = sorted({*self._stored.pending_restarts, "apache2"})

    def _publish(
        self,
        cfg: MasakariConfig,
        bindings: dict[str, Binding],
        local: dict[str, str],
        tls_ready: tls.TlsMaterial | None,
        cert_requests: dict[str, list[str]],
    ) -> None:
        db_addr = bindings.get("shared-db") or bindings.get("cluster")
        self.shared_db.publish(wl.SERVICE, (db_addr.ingress if db_addr else "") or "")
        self.amqp.publish(wl.SERVICE, wl.SERVICE)
        if self.keystone.related:
            protocol = "https" if tls_ready else "http"
            hosts = addresses.endpoint_hosts(
                cfg, bindings, local, self.ha.related, self.ha.clustered
            )
            urls = {ep: wl.endpoint_url(protocol, hosts[ep]) for ep in ENDPOINT_TYPES}
            self.keystone.publish(wl.SERVICE, cfg.region, urls)
        self.peers.publish_addresses(local)
        self.certificates.publish(cert_requests)
        settings = hacluster.HaSettings(
            service=wl.SERVICE,
            vips=cfg.vips,
            vip_iface=cfg.vip_iface,
            vip_cidr=cfg.vip_cidr,
            dns_ha=cfg.dns_ha,
            hostnames=cfg.hostnames,
            endpoint_addresses=local,
        )
        history = self.ha.publish(settings, bindings, dict(self._stored.ha_history))
        if history is not None:
            self._stored.ha_history = history

    def _tls(
        self, cfg: MasakariConfig, cert_requests: dict[str, list[str]], outcome: Outcome
    ) -> tls.TlsMaterial | None | bool:
        """TLS material; None when TLS is not used; False while it is expected but missing."""
        static = tls.read_static(cfg.ssl_cert, cfg.ssl_key, cfg.ssl_ca, self.host.fqdn())
        if isinstance(static, relations.Ready):
            return static.info
        if not self.certificates.related:
            return None
        state = self.certificates.read(list(cert_requests))
        if isinstance(state, relations.NotReady):
            outcome.waiting.append(state.reason)
            return False
        return state.info

    def _read_relations(self, outcome: Outcome) -> tuple[Database, Messaging, Keystone] | None:
        # Sorted: packing and ops.testing both rewrite the metadata with sorted keys.
        required = sorted(name for name, meta in self.meta.requires.items() if not meta.optional)
        missing = [name for name in required if not self.model.relations[name]]
        if missing:
            outcome.blocked.append(f"Missing relations: {join_names(missing)}")
            return None
        db, mq, ks = self.shared_db.read(), self.amqp.read(), self.keystone.read()
        not_ready = [s.reason for s in (db, mq, ks) if isinstance(s, relations.NotReady)]
        if not_ready:
            outcome.waiting.extend(not_ready)
            return None
        assert isinstance(db, relations.Ready) and isinstance(mq, relations.Ready)
        assert isinstance(ks, relations.Ready)
        return db.info, mq.info, ks.info

    def _apply_workload(
        self,
        cfg: MasakariConfig,
        bindings: dict[str, Binding],
        local: dict[str, str],
        tls_ready: tls.TlsMaterial | None,
        ready: tuple[Database, Messaging, Keystone],
        outcome: Outcome,
    ) -> None:
        bad_peers = self.peers.address_problems()
        if bad_peers:
            outcome.waiting.extend(_summarise("peers", bad_peers))
            return
        if not self._stored.stats_password:
            self._stored.stats_password = secrets.token_urlsafe(24)
        database, messaging, keystone = ready
        inputs = wl.WorkloadInputs(
            config=cfg,
            database=database,
            messaging=messaging,
            keystone=keystone,
            tls=tls_ready,
            backends=self.peers.backends(bindings, local),
            cpus=self.host.cpu_count(),
            stats_password=str(self._stored.stats_password),
            ipv6=is_ipv6(next(iter(local.values()), "")),
            release=outcome.installed.release,
        )
        applied = apply_when_changed(
            self.host,
            self._stored.rendered,
            [inputs, self.renderer.digest()],
            lambda: wl.build_files(inputs, self.renderer),
        )
        # Restarts that could not happen yet (paused, schema not migrated, a failed
        # command below) are kept until they can: the files will not change again.
        pending = {*self._stored.pending_restarts, *applied.restarts}
        self._stored.pending_restarts = sorted(pending)
        if not self._trust_store_current(wl.CHARM_CA in applied.changed, outcome):
            return
        # New package versions bring new code, which running processes load only on restart.
        versions = outcome.installed.versions
        code_versions = ",".join(f"{p}={versions.get(p)}" for p in wl.CODE_PACKAGES)
        if code_versions != self._stored.code_versions:
            pending.update(wl.CODE_SERVICES)
        outcome.to_restart = [s for s in wl.SERVICES if s in pending]
        synced = outcome.synced = self._database_synced(outcome)
        self._run_services(synced, pending, outcome)
        self._stored.pending_restarts = sorted(pending)
        self._stored.code_versions = code_versions

    def _trust_store_current(self, ca_changed: bool, outcome: Outcome) -> bool:
        """Whether the system trust store holds the CA the charm wrote (updated if not)."""
        if ca_changed:
            self._stored.ca_update_pending = True
        if not self._stored.ca_update_pending:
            return True
        problem = machine.update_trust_store(self.host)
        if problem:
            outcome.blocked.append(problem)
            return False
        self._stored.ca_update_pending = False
        return True

    def _run_services(self, synced: bool, pending: set[str], outcome: Outcome) -> None:
        """Start what should run and restart ``pending``; the engine only on a synced schema."""
        if not synced:
            services.mask(self.host, wl.ENGINE)
        elif not self.paused:
            services.unmask(self.host, wl.ENGINE)
        if self.paused:
            return
        wanted = [s for s in wl.SERVICES if synced or s != wl.ENGINE]
        for service in services.converge(self.host, wanted, pending):
            logger.error("could not start %s", service)
            outcome.blocked.append(f"Failed to start {service}; see its journal")

    def _database_synced(self, outcome: Outcome) -> bool:
        """Run the leader's db sync once per release; True when the schema is current."""
        release = outcome.installed.release
        if not self.peers.joined:
            outcome.waiting.append("waiting for the peer relation")
            return False
        if release is None:
            outcome.blocked.append(
                f"cannot tell the OpenStack release: {wl.VERSION_PACKAGE} is not installed"
            )
            return False
        if self.peers.synced_release() == release:
            return True
        if not self.unit.is_leader():
            outcome.waiting.append(f"waiting for the leader to migrate the database to {release}")
            return False
        problem = machine.migrate_schema(self.host, release)
        if problem:
            outcome.blocked.append(problem)
            return False
        self.peers.record_synced(release)
        return True

    def _ensure_site_hygiene(self, tls_on: bool, outcome: Outcome) -> None:
        """Our WSGI site enabled, the package's disabled, TLS frontend as configured."""
        changed = machine.converge_sites(self.host, tls_on)
        if changed and not self.paused and "apache2" not in outcome.to_restart:
            if services.is_running(self.host, "apache2"):
                services.restart(self.host, "apache2")
                outcome.to_restart.append("apache2")

    # -- observability -----------------------------------------------------------------
    def watch(self) -> observability.Watch:
        """Haproxy's metrics on every unit; the exporter and its checks on the leader."""
        try:
            cfg: MasakariConfig | None = self._load_config()
        except ConfigError:
            cfg = None
        keystone = self.keystone.read()
        exporter_config = ""
        if cfg is not None and isinstance(keystone, relations.Ready):
            credentials = self._credentials(cfg, keystone.info)
            exporter_config = masakari_exporter.config_text(
                masakari_exporter.ExporterConfig(credentials)
            )
        # One unit asks the API: three would triple its load for the same figures.
        collects = self.unit.is_leader() and bool(exporter_config) and not self.paused
        daemon = observability.Daemon.of(
            masakari_exporter,
            EXPORTER,
            "Masakari's segments, hosts and notifications, as Prometheus metrics",
            exporter_config,
        )
        jobs = [cos_agent.ScrapeJob("haproxy", wl.HAPROXY_PROMETHEUS_PORT)]
        if collects:
            jobs.append(cos_agent.ScrapeJob("masakari_state", masakari_exporter.DEFAULT_PORT))
        return observability.Watch(
            daemon=daemon,
            run_daemon=collects,
            offer=cos_agent.Observability(
                scrape_jobs=tuple(jobs),
                log_files=LOG_FILES,
                metrics_rules_dir=COS_DIR / "prometheus_alert_rules",
                log_rules_dir=COS_DIR / "loki_alert_rules",
                dashboards_dir=COS_DIR / "grafana_dashboards",
            ),
            checks=self._checks(collects),
            primary=True,
        )

    def _checks(self, collects: bool) -> tuple[observability.nrpe.Check, ...]:
        checks = [observability.service_check(self.meta.name, s) for s in wl.SERVICES]
        if self.paused:  # the API is down on purpose
            return tuple(checks)
        checks.append(
            observability.metric_check(
                "masakari-api",
                "masakari-api servers answering through haproxy",
                wl.HAPROXY_PROMETHEUS_PORT,
                "haproxy_backend_active_servers",
                *("--below", "--critical", "0"),
            )
        )
        if not collects:
            return tuple(checks)
        port = masakari_exporter.DEFAULT_PORT
        checks += [
            observability.metric_check(
                "masakari-state",
                "masakari state exporter reads the API",
                port,
                "masakari_api_up",
                *("--below", "--critical", "0"),
            ),
            observability.metric_check(
                "masakari-hosts-maintenance",
                "hosts left on maintenance",
                port,
                "masakari_host_on_maintenance",
                *("--name-label", "host", "--warning", "1"),
            ),
            observability.metric_check(
                "masakari-notifications-error",
                "notifications in error",
                port,
                "masakari_notifications_unfinished",
                *("--label", "status=error", "--critical", "1"),
            ),
        ]
        return tuple(checks)

    # -- automatic registration --------------------------------------------------------
    def _credentials(self, cfg: MasakariConfig, keystone: Keystone) -> Credentials:
        """The charm's keystone service user, for the API client and the exporter."""
        return Credentials(
            keystone_url=keystone.url("auth"),
            username=keystone.username,
            password=keystone.password,
            user_domain=keystone.domain,
            project=keystone.project,
            project_domain=keystone.domain,
            region=cfg.region,
            interface="internal" if cfg.use_internal_endpoints else "public",
        )

    def _masakari_api(self, cfg: MasakariConfig, keystone: Keystone) -> MasakariApi:
        """A client of the Masakari API as the charm's keystone service user."""
        # Looked up at each call, not bound at import: tests swap in a recording client.
        from masakari_api import MasakariApi

        return MasakariApi(self._credentials(cfg, keystone), page_size=cfg.api_page_size)

    def _desired_hosts(self) -> hypervisors.Desired:
        return hypervisors.read(self.model.relations["hosts"])

    def _managed(self) -> registration.Managed:
        import registration

        return registration.Managed.loads(self.peers.registration_record())

    def _register_hosts(self, cfg: MasakariConfig, keystone: Keystone, outcome: Outcome) -> None:
        """Bring masakari's segments and hosts to what the related hypervisors ask."""
        import recovery_timing

        desired = self._desired_hosts()
        # Recovery, not registration: judged for hosts registered by hand too.
        too_short = recovery_timing.delay_problem(cfg.evacuation_delay, desired.hosts)
        if too_short:
            outcome.blocked.append(too_short)
        outcome.warning = recovery_timing.resume_warning(desired.hosts)
        if not cfg.auto_register_hosts or not self.peers.joined:
            return
        managed = self._managed()
        problems = [f"hosts relation: {p}" for p in desired.problems]
        if desired.hosts or managed.hosts or managed.segments:
            problems += self._reconcile_registration(cfg, keystone, desired, managed, outcome)
        outcome.blocked.extend(_summarise("host registration", problems))

    def _reconcile_registration(
        self,
        cfg: MasakariConfig,
        keystone: Keystone,
        desired: hypervisors.Desired,
        managed: registration.Managed,
        outcome: Outcome,
    ) -> list[str]:
        """One pass against the API; returns what needs the operator."""
        import registration

        settings = registration.Settings(cfg.recovery_method, cfg.service_type)
        api = self._masakari_api(cfg, keystone)
        try:
            report = registration.reconcile(api, desired.hosts, managed, settings)
        except ApiError as exc:
            outcome.waiting.append(f"host registration: {exc}; retrying on the next hook")
            return []
        if report.managed != managed:
            self.peers.record_registration(report.managed.dumps())
        if report.done:
            logger.info("host registration: %s", "; ".join(report.done))
        logger.debug("host registration calls: %s", dict(api.calls))
        outcome.waiting.extend(_summarise("host registration", report.retry, " (retrying)"))
        if report.hosts:
            outcome.registered = f"; hosts registered: {report.hosts}, segments: {report.segments}"
        if report.drift:
            # Operators' changes the charm keeps: not a problem, but never silent.
            more = f" (+{len(report.drift) - 1} more)" if len(report.drift) > 1 else ""
            outcome.registered += f"; {report.drift[0]}{more}"
            logger.info("host registration kept: %s", "; ".join(report.drift))
        return report.blocked

    def _on_segment_action(self, event: ops.ActionEvent) -> None:
        import segment_actions

        cfg = self._action_config(event)
        if cfg is None:
            return
        keystone = self.keystone.read()
        if not isinstance(keystone, relations.Ready):
            event.fail("Needs the identity-service relation with keystone's credentials")
            return
        api = self._masakari_api(cfg, keystone.info)
        deployment = segment_actions.Deployment(
            managed=self._managed(),
            related_hosts=self._desired_hosts().hosts,
            auto_register=cfg.auto_register_hosts,
            recovery_method=cfg.recovery_method,
            service_type=cfg.service_type,
        )
        try:
            name = event.handle.kind.removesuffix("_action").replace("_", "-")
            results = segment_actions.run(name, api, event.params, deployment)
        except (ApiError, actions.ActionRefusedError) as exc:
            event.fail(str(exc))
            return
        event.set_results(results)

    # -- status -----------------------------------------------------------------------
    def _status(self, cfg: MasakariConfig, outcome: Outcome, tls_on: bool) -> ops.StatusBase:
        n_units = self.peers.unit_count()
        has_ha = self.ha.related

        def blocked() -> ops.StatusBase | None:
            return ops.BlockedStatus("; ".join(outcome.blocked)) if outcome.blocked else None

        def paused() -> ops.StatusBase | None:
            return ops.MaintenanceStatus(actions.PAUSED_MESSAGE) if self.paused else None

        def waiting() -> ops.StatusBase | None:
            return ops.WaitingStatus("; ".join(outcome.waiting)) if outcome.waiting else None

        def clustered() -> ops.StatusBase | None:
            if has_ha and cfg.wants_ha and not self.ha.clustered:
                return ops.WaitingStatus("ha: waiting for hacluster to form the cluster")
            return None

        status = first_failure(
            [
                blocked,
                paused,
                lambda: _ha_problem(cfg, n_units, has_ha),
                waiting,
                clustered,
                lambda: self._workload_problem(outcome, tls_on),
            ]
        )
        if status is not None:
            return status
        upgrade = outcome.installed.upgrade_available
        if upgrade:
            return ops.ActiveStatus(
                f"Unit is ready (run openstack-upgrade for {upgrade}){outcome.warning}"
            )
        return ops.ActiveStatus(f"Unit is ready{outcome.registered}{outcome.warning}")

    def _workload_problem(self, outcome: Outcome, tls_on: bool) -> ops.StatusBase | None:
        """A service that is not running, or a port nothing listens on."""
        down = services.not_running(self.host, wl.SERVICES)
        if down:
            return ops.BlockedStatus(f"Services not running: {join_names(down)}")
        listening = self._listening(outcome, tls_on)
        closed = [p for p in wl.listening_ports(tls_on) if p not in listening]
        if closed:
            return ops.BlockedStatus(f"Ports not listening: {join_names(map(str, closed))}")
        return None

    def _listening(self, outcome: Outcome, tls_on: bool) -> set[int]:
        ports = self.host.listening_tcp_ports()
        # Services restarted in this hook may need a moment to bind their ports.
        attempts = 10 if outcome.to_restart else 0
        while attempts and not set(wl.listening_ports(tls_on)) <= ports:
            time.sleep(1)
            attempts -= 1
            ports = self.host.listening_tcp_ports()
        return ports

    # -- actions ------------------------------------------------------------------------
    def _on_openstack_upgrade(self, event: ops.ActionEvent) -> None:
        cfg = self._action_config(event)
        if cfg is None:
            return
        if not cfg.action_managed_upgrade:
            event.fail(
                "action-managed-upgrade is false: upgrades run when openstack-origin changes"
            )
            return
        step, release = self.packages.step(cfg.origin)
        if step in (Step.CURRENT, Step.REPOINT):
            event.set_results({"outcome": f"no upgrade available: {release} is installed"})
            self._reconcile()
            return
        if step is Step.DOWNGRADE:
            event.fail(f"openstack-origin {cfg.origin.display} is older than {release}")
            return
        try:
            summary = self.packages.upgrade(cfg.origin)
        except CommandError as exc:
            event.fail(f"Upgrade failed: {exc}")
            return
        self._reconcile()
        event.set_results({"outcome": summary, "status": self.unit.status.message})

    def _on_package_upgrade(self, event: ops.ActionEvent) -> None:
        cfg = self._action_config(event)
        if cfg is None:
            return
        if self.packages.origin_pending(cfg.origin):
            event.fail("A release upgrade is pending: run openstack-upgrade first")
            return
        try:
            changed = self.packages.upgrade_within_release()
        except CommandError as exc:
            event.fail(f"Package upgrade failed: {exc}")
            return
        self._reconcile()
        event.set_results({"upgraded": "; ".join(changed) or "everything was up to date"})


def _ha_problem(cfg: MasakariConfig, n_units: int, has_ha: bool) -> ops.StatusBase | None:
    """What is wrong with the HA set-up: the units, the ha relation and vip/dns-ha."""
    if n_units > 1 and not (has_ha and cfg.wants_ha):
        return ops.BlockedStatus(
            f"{n_units} units without HA: relate to hacluster and set vip (or dns-ha)"
        )
    if has_ha and not cfg.wants_ha:
        return ops.BlockedStatus("ha relation needs vip or dns-ha to be set")
    if cfg.wants_ha and not has_ha:
        return ops.BlockedStatus("vip/dns-ha is set: relate masakari to hacluster")
    return None


def _summarise(topic: str, problems: list[str], suffix: str = "") -> list[str]:
    """At most one status entry: the first problem and how many more there are."""
    if not problems:
        return []
    more = f" (+{len(problems) - 1} more, see juju debug-log)" if len(problems) > 1 else ""
    for problem in problems:
        logger.warning("%s: %s", topic, problem)
    return [f"{topic}: {problems[0]}{more}{suffix}"]


if __name__ == "__main__":  # pragma: nocover
    ops.main(MasakariCharm)
