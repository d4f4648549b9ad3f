#!/usr/bin/env python3
"""The masakari-monitors charm: host, instance and introspective monitors on a hypervisor.

Every event runs :meth:`MasakariMonitorsCharm._reconcile`: validate config, install the
enabled monitors, ask keystone for credentials, render masakarimonitors.conf (restarting
only the monitors whose inputs changed) and set one status. The host name the monitors
report must be nova's compute host name and the Pacemaker node name pacemaker-remote
publishes on pacemaker-node; the charm blocks when they disagree and waits, monitors
stopped, until nova-compute has written nova.conf.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import monitors_health as health
import monitors_workload as wl
import ops
from monitors_config import MONITORS, ConfigError, MonitorsConfig
from openstack_charm_lib import (
    actions,
    apt,
    cos_agent,
    liveness,
    observability,
    pacemaker_node,
    relations,
    services,
)
from openstack_charm_lib.charm_base import ReconcilingCharm
from openstack_charm_lib.config_flags import merge_flags
from openstack_charm_lib.host import CommandError
from openstack_charm_lib.network import is_hostname
from openstack_charm_lib.relations import masakari_host
from openstack_charm_lib.relations.identity_credentials import Credentials, IdentityCredentials
from openstack_charm_lib.rendering import apply_when_changed
from openstack_charm_lib.status import join_names

logger = logging.getLogger(__name__)

CREDENTIALS = "identity-credentials"
REGISTRATION = "registration"
PACEMAKER_NODE = pacemaker_node.RELATION
ALL_MONITORS = tuple(MONITORS.values())
HEALTH_SERVICE = "masakari-monitors-health"
LOG_FILES = ("/var/log/masakarimonitors/*.log",)
COS_DIR = Path(__file__).parent / "cos"  # alert rules shipped with the charm


class MasakariMonitorsCharm(ReconcilingCharm):
    """Reconciling charm for the masakari monitors."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self._stored.set_default(sources_updated=False, pending_restarts=[], rendered={})
        self.keystone = IdentityCredentials(self.model, CREDENTIALS)
        events = [self.on.install, self.on.upgrade_charm, self.on.config_changed]
        events.append(self.on.update_status)
        endpoints = (CREDENTIALS, "container", REGISTRATION, PACEMAKER_NODE)
        endpoints += (observability.COS_AGENT, observability.NRPE)
        for rel in (self.on[name] for name in endpoints):
            events += [rel.relation_joined, rel.relation_changed, rel.relation_broken]
        # The keystone unit that answered may leave; another one's answer then counts.
        events.append(self.on[CREDENTIALS].relation_departed)
        self.observe_reconcile(events)

    def _config(self) -> MonitorsConfig:
        """The options, checked once per hook; raises :class:`ConfigError` naming them."""
        return self.loaded_config(lambda: self.load_config(MonitorsConfig))

    def pausable_services(self) -> tuple[str, ...]:
        """Every monitor, enabled or not."""
        return ALL_MONITORS

    def active_services(self) -> list[str]:
        """The enabled monitors."""
        try:
            return list(self._config().monitors)
        except ConfigError:
            return list(ALL_MONITORS)

    def _converge(self) -> ops.StatusBase:
        try:
            config = self._config()
        except ConfigError as exc:
            return ops.BlockedStatus(f"Invalid config: {exc}")
        try:
            self._ensure_packages(config)
        except CommandError as exc:
            logger.error("package installation failed: %s", exc)
            return ops.BlockedStatus(f"Package installation failed ({exc}); retrying")
        disabled = [m for m in ALL_MONITORS if m not in config.monitors]
        for monitor in disabled:
            services.ensure_stopped(self.host, monitor)

        hostname = config.hostname or self.host.fqdn()
        agreed = self._agreed_name(config, hostname)
        # Only a name nova and Pacemaker confirm is worth registering: masakari would
        # never match the host monitor's notifications to any other.
        self._publish_registration(config, agreed if isinstance(agreed, str) else None)

        credentials = self._credentials(config, agreed)
        if isinstance(credentials, ops.StatusBase):
            self._stop(config.monitors)
            return credentials
        return self._run_monitors(config, credentials, hostname)

    def _credentials(
        self, config: MonitorsConfig, agreed: str | ops.StatusBase
    ) -> Credentials | ops.StatusBase:
        """The credentials keystone gave the monitors, or why they cannot run yet."""
        if not self.keystone.related:
            return ops.BlockedStatus(f"Missing relation: relate {CREDENTIALS} to keystone")
        self.keystone.publish(wl.USERNAME, wl.PROJECT)
        state = self.keystone.read()
        if isinstance(state, relations.NotReady):
            return ops.WaitingStatus(state.reason)
        if isinstance(agreed, ops.StatusBase):
            return agreed
        if not config.monitors:
            return ops.BlockedStatus("Every monitor is disabled: enable at least one")
        return state.info

    def _run_monitors(
        self, config: MonitorsConfig, credentials: Credentials, hostname: str
    ) -> ops.StatusBase:
        """Write the monitors' files, run them, and say whether they do their work."""
        group = services.run_as_group(self.host, config.monitors[0])
        applied = apply_when_changed(
            self.host,
            self._stored.rendered,
            [config, credentials, hostname, group],
            lambda: wl.build_files(config, credentials, hostname, group),
        )
        pending = {*self._stored.pending_restarts, *applied.restarts}
        if self.paused:
            self._stored.pending_restarts = sorted(pending)
            return ops.MaintenanceStatus(actions.PAUSED_MESSAGE)

        if config.host_monitor and not services.is_running(self.host, "pacemaker_remote"):
            self._stored.pending_restarts = sorted(pending)
            self._stop(config.monitors)
            return ops.BlockedStatus(
                "The host monitor needs pacemaker_remote running here: "
                "see pacemaker-remote's status"
            )
        for monitor in services.converge(self.host, config.monitors, pending):
            logger.error("could not start %s", monitor)
        self._stored.pending_restarts = sorted(pending)
        down = services.not_running(self.host, config.monitors)
        if down:
            return ops.BlockedStatus(f"Services not running: {join_names(down)}")
        wedged = health.status_problems(
            liveness.read_state(
                self.host.path(health.STATE_FILE), time.time(), health.STATE_MAX_AGE
            )
        )
        if wedged:
            return ops.BlockedStatus("; ".join(wedged))
        names = join_names(
            m.removeprefix("masakari-").removesuffix("-monitor") for m in config.monitors
        )
        return ops.ActiveStatus(f"Unit is ready (monitors: {names}; reporting as {hostname})")

    def watch(self) -> observability.Watch:
        """The monitors' health daemon, logs, alert rules and checks."""
        try:
            config: MonitorsConfig | None = self._config()
        except ConfigError:
            config = None
        monitors = config.monitors if config else ()
        sections = merge_flags(dict(config.tunables), config.flags) if config else {}
        daemon = observability.Daemon.of(
            health,
            HEALTH_SERVICE,
            "Progress of the masakari monitors' loops, as Prometheus metrics",
            health.config_text(health.monitor_windows(monitors, sections)),
        )
        checks = [observability.service_check(self.meta.name, m) for m in monitors]
        if not self.paused:  # a paused monitor makes no progress, on purpose
            checks += [
                observability.metric_check(
                    f"{monitor}-progress",
                    f"loop progress {{{monitor}}}",
                    health.LISTEN_PORT,
                    "masakari_monitor_progressing",
                    *("--label", f"monitor={monitor}", "--below", "--critical", "0"),
                )
                for monitor in monitors
            ]
        return observability.Watch(
            daemon=daemon,
            run_daemon=True,
            offer=cos_agent.Observability(
                scrape_jobs=(cos_agent.ScrapeJob("monitors_health", health.LISTEN_PORT),),
                log_files=LOG_FILES,
                metrics_rules_dir=COS_DIR / "prometheus_alert_rules",
                log_rules_dir=COS_DIR / "loki_alert_rules",
            ),
            checks=tuple(checks),
            primary=False,
        )

    def _agreed_name(self, config: MonitorsConfig, hostname: str) -> str | ops.StatusBase:
        """The one name nova, the monitors and Pacemaker use for this host, or why not."""
        nova_conf = self.host.read_text(wl.NOVA_CONF)
        if nova_conf is None:
            # Without nova.conf nova's host is unknown: a guess could be the wrong name.
            return ops.WaitingStatus(f"Waiting for nova-compute to write {wl.NOVA_CONF}")
        nova = wl.nova_host(nova_conf, self.host.hostname())
        if not is_hostname(nova):
            return ops.BlockedStatus(
                f"nova-compute's host in {wl.NOVA_CONF} ([DEFAULT] host) is not a valid host "
                "name: fix nova-compute's configuration"
            )
        node_name = None
        relation = self.model.get_relation(PACEMAKER_NODE)
        if relation is not None:
            node = pacemaker_node.read(relation)
            if isinstance(node, relations.NotReady):
                return ops.WaitingStatus(node.reason)
            node_name = node.info
        elif config.host_monitor:
            # The host monitor reports Pacemaker node names: without the relation
            # nothing says that pacemaker-remote registered this host under nova's name.
            return ops.BlockedStatus(
                f"Missing relation: relate pacemaker-remote:{PACEMAKER_NODE} to "
                f"masakari-monitors:{PACEMAKER_NODE} (the host monitor needs it)"
            )
        problem = wl.names_problem(nova, hostname, node_name)
        return ops.BlockedStatus(problem) if problem else nova

    def _publish_registration(self, config: MonitorsConfig, hostname: str | None) -> None:
        """Tell masakari how to register this hypervisor and judge its recovery; None withdraws.

        nova.conf was read for ``hostname``: a name means it exists.
        """
        hypervisor = None
        if hostname:
            nova_conf = self.host.read_text(wl.NOVA_CONF) or ""
            hypervisor = masakari_host.Hypervisor(
                hostname,
                config.segment_name,
                config.reserved_host,
                service_down_time=wl.nova_service_down_time(nova_conf),
                resume_guests_state_on_host_boot=wl.nova_resumes_guests(nova_conf),
                detection_time=wl.detection_time(config),
            )
        for relation in self.model.relations[REGISTRATION]:
            masakari_host.publish(relation, self.unit, hypervisor)

    def _stop(self, monitors: tuple[str, ...]) -> None:
        """Keep monitors stopped until their configuration is complete and consistent."""
        for monitor in monitors:
            services.ensure_stopped(self.host, monitor)

    def _ensure_packages(self, config: MonitorsConfig) -> None:
        missing = apt.missing_packages(self.host, list(config.monitors))
        if not missing:
            return
        self.unit.status = ops.MaintenanceStatus(f"Installing {join_names(missing)}")
        if not self._stored.sources_updated:
            apt.update(self.host)
            self._stored.sources_updated = True
        apt.install(self.host, missing)
        # The packages start the monitors with their default configuration.
        self._stop(tuple(missing))


if __name__ == "__main__":  # pragma: nocover
    ops.main(MasakariMonitorsCharm)
