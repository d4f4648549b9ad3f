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
from typing import cast

import monitors_watch
import monitors_workload as wl
import ops
from monitors_config import ConfigError, MonitorsConfig
from monitors_machine import ALL_MONITORS, MonitorsMachine, MonitorsRecord
from openstack_charm_lib import actions, observability, pacemaker_node, relations
from openstack_charm_lib.charm_base import ReconcilingCharm
from openstack_charm_lib.host import CommandError
from openstack_charm_lib.network import is_hostname
from openstack_charm_lib.relations import masakari_host
from openstack_charm_lib.relations.identity_credentials import Credentials, IdentityCredentials
from openstack_charm_lib.status import join_names

logger = logging.getLogger(__name__)

CREDENTIALS = "identity-credentials"
REGISTRATION = "registration"
PACEMAKER_NODE = pacemaker_node.RELATION


class MasakariMonitorsCharm(ReconcilingCharm):
    """Reconciling charm for the masakari monitors."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self._stored.set_default(sources_updated=False, pending_restarts=[], rendered={})
        self.machine = self.make_machine()
        self.keystone = IdentityCredentials(self.model, CREDENTIALS)
        events = [self.on.install, self.on.upgrade_charm, self.on.config_changed]
        events.append(self.on.update_status)
        endpoints = (CREDENTIALS, "container", REGISTRATION, PACEMAKER_NODE)
        endpoints += (observability.COS_AGENT, observability.NRPE)
        events += self.relation_events(
            endpoints, ("relation_joined", "relation_changed", "relation_broken")
        )
        # The keystone unit that answered may leave; another one's answer then counts.
        events.append(self.on[CREDENTIALS].relation_departed)
        self.observe_reconcile(events)

    def make_machine(self) -> MonitorsMachine:
        """What acts on the monitors (a test replaces this on the charm class)."""
        # The stored state records what the machine steps need between hooks.
        return MonitorsMachine(self.host, cast(MonitorsRecord, self._stored), self.progress)

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
            self.machine.install(config)
        except CommandError as exc:
            logger.error("package installation failed: %s", exc)
            return ops.BlockedStatus(f"Package installation failed ({exc}); retrying")

        hostname = config.hostname or self.host.fqdn()
        nova_conf = self.machine.nova_conf()
        agreed = self._agreed_name(config, hostname, nova_conf)
        # Only a name nova and Pacemaker confirm is worth registering: masakari would
        # never match the host monitor's notifications to any other.
        hypervisor = None
        if isinstance(agreed, str) and nova_conf is not None:
            hypervisor = wl.hypervisor(config, agreed, nova_conf)
        for relation in self.model.relations[REGISTRATION]:
            masakari_host.publish(relation, self.unit, hypervisor)

        credentials = self._credentials(config, agreed)
        if isinstance(credentials, ops.StatusBase):
            self.machine.stop(config.monitors)
            return credentials
        problem = self.machine.apply(config, credentials, hostname, self.paused)
        if self.paused:
            return ops.MaintenanceStatus(actions.PAUSED_MESSAGE)
        if problem:
            return ops.BlockedStatus(problem)
        names = join_names(
            m.removeprefix("masakari-").removesuffix("-monitor") for m in config.monitors
        )
        return ops.ActiveStatus(f"Unit is ready (monitors: {names}; reporting as {hostname})")

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

    def watch(self) -> observability.Watch:
        """The monitors' health daemon, logs, alert rules and checks."""
        try:
            config: MonitorsConfig | None = self._config()
        except ConfigError:
            config = None
        return monitors_watch.watch(self.meta.name, config, self.paused)

    def _agreed_name(
        self, config: MonitorsConfig, hostname: str, nova_conf: str | None
    ) -> str | ops.StatusBase:
        """The one name nova, the monitors and Pacemaker use for this host, or why not."""
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


if __name__ == "__main__":  # pragma: nocover
    ops.main(MasakariMonitorsCharm)
