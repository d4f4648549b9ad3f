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

import logging
from collections.abc import Callable
from typing import Any, ClassVar, cast

import addresses
import host_registration
import masakari_machine as machine
import masakari_status as status
import masakari_watch
import masakari_workload as wl
import ops
from masakari_api import ApiError, MasakariApi
from masakari_config import ConfigError, MasakariConfig
from masakari_packages import OriginRecord, Packages
from masakari_relations import HaRecord, MasakariRelations
from masakari_status import Outcome
from openstack_charm_lib import actions, observability, policy_overrides
from openstack_charm_lib.charm_base import ReconcilingCharm
from openstack_charm_lib.network import ENDPOINT_TYPES, read_bindings
from openstack_charm_lib.rendering import Renderer
from peers import Peers

logger = logging.getLogger(__name__)

# Actions on the unit itself; the charm's other actions act on masakari's segments.
CHARM_ACTIONS = ("pause", "resume", "restart-services", "openstack-upgrade", "package-upgrade")
BINDINGS = ("cluster", *ENDPOINT_TYPES, "shared-db")
ActionBody = Callable[[MasakariConfig], dict[str, Any]]  # an action's results, from the options


class MasakariCharm(ReconcilingCharm):
    """Reconciling charm for masakari-api and masakari-engine."""

    #: What builds the Masakari API client (a test sets one that talks to a simulated API).
    api_factory: ClassVar[host_registration.ApiFactory] = MasakariApi

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self._stored.set_default(
            stats_password="",
            applied_origin="",
            pending_restarts=[],
            rendered={},
            code_versions="",
            ca_update_pending=False,
            ha_history={},
        )
        # The stored state records the origin the packages were last installed from.
        self.packages = Packages(self.host, cast(OriginRecord, self._stored), self.progress)
        self.peers = Peers(self.model)
        self.machine = self.make_machine()
        # Sorted: packing and ops.testing both rewrite the metadata with sorted keys.
        required = sorted(name for name, meta in self.meta.requires.items() if not meta.optional)
        ha_record = cast(HaRecord, self._stored)  # what was sent to hacluster, to delete later
        self.relations = MasakariRelations(self.model, self.peers, required, ha_record)
        self.registration = host_registration.HostRegistration(
            self.model, self.peers, type(self).api_factory
        )
        on = self.on
        events = [on.install, on.upgrade_charm, on.config_changed, on.start]
        events += [on.update_status, on.leader_elected, *self.relation_events(self.meta.relations)]
        self.observe_reconcile(events)
        framework.observe(on.openstack_upgrade_action, self._on_openstack_upgrade)
        framework.observe(on.package_upgrade_action, self._on_package_upgrade)
        # Every other action is one on segments, hosts or notifications: its module (not
        # imported by hooks) holds their table and refuses a name it lacks.
        for action in self.meta.actions:
            if action not in CHARM_ACTIONS:
                event = getattr(on, action.replace("-", "_") + "_action")
                framework.observe(event, self._on_segment_action)

    def make_machine(self) -> machine.Machine:
        """What acts on the workload (a test replaces this on the charm class)."""
        # The stored state records what the machine steps need between hooks.
        record = cast(machine.MachineRecord, self._stored)
        return machine.Machine(self.host, record, Renderer(wl.TEMPLATES), self.peers)

    def pausable_services(self) -> tuple[str, ...]:
        """haproxy, apache2, masakari-engine and memcached."""
        return wl.SERVICES

    def _load_config(self) -> MasakariConfig:
        """The options, checked once per hook; raises :class:`ConfigError` naming them."""
        series = self.host.os_release().get("VERSION_CODENAME", "")
        return self.loaded_config(lambda: self.load_config(MasakariConfig, series=series))

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
        served = self.relations.publish(cfg, bindings, local, self.host.fqdn(), outcome)
        policy = cfg.use_policyd_override
        self.machine.apply_policy_overrides(self.model, policy, self.app.name, outcome)

        ready = self.relations.read(outcome)
        if ready is not None and not served.awaited:
            leader = self.unit.is_leader()
            read = machine.PassRead(
                cfg, ready, served.material, bindings, local, leader, self.paused
            )
            self.machine.apply_answers(read, outcome)
            if outcome.synced and leader and not self.paused:
                self.registration.reconcile(cfg, ready[2], outcome)
        elif not self.paused:
            self.machine.stop_engine()
        tls_on = served.material is not None
        self.machine.converge_sites(tls_on and ready is not None, outcome, self.paused)
        unit = self.relations.deployment(self.paused, tls_on=tls_on)

        def serving() -> str | None:
            return self.machine.serving_problem(bool(outcome.to_restart), unit.tls)

        decided = status.decide(cfg, outcome, unit, serving)
        return policy_overrides.prefixed(decided, outcome.policy)

    # -- observability and the actions ----------------------------------------------
    def watch(self) -> observability.Watch:
        """Haproxy's metrics on every unit; the exporter and its checks on the leader."""
        try:
            cfg: MasakariConfig | None = self._load_config()
        except ConfigError:
            cfg = None
        keystone = self.relations.keystone_info()
        credentials = host_registration.credentials(cfg, keystone) if cfg and keystone else None
        leader = self.unit.is_leader()
        return masakari_watch.watch(self.meta.name, credentials, leader, self.paused)

    def _configured_action(self, event: ops.ActionEvent, body: ActionBody) -> None:
        """``body(config)``'s results for ``event``; invalid config or a refusal fails it."""
        try:
            cfg = self._load_config()
        except ConfigError as exc:
            event.fail(f"Invalid config: {exc}")
            return
        try:
            results = body(cfg)
        except (ApiError, actions.ActionRefusedError) as exc:
            event.fail(str(exc))
            return
        event.set_results(results)

    def _on_segment_action(self, event: ops.ActionEvent) -> None:
        name = event.handle.kind.removesuffix("_action").replace("_", "-")

        def run(cfg: MasakariConfig) -> dict[str, Any]:
            keystone = self.relations.keystone_info()
            return self.registration.run_action(name, event.params, cfg, keystone)

        self._configured_action(event, run)

    def _on_openstack_upgrade(self, event: ops.ActionEvent) -> None:
        def upgrade(cfg: MasakariConfig) -> dict[str, Any]:
            summary, upgraded = self.packages.openstack_upgrade(
                cfg.origin, cfg.action_managed_upgrade
            )
            self._reconcile()
            return {
                "outcome": summary,
                **({"status": self.unit.status.message} if upgraded else {}),
            }

        self._configured_action(event, upgrade)

    def _on_package_upgrade(self, event: ops.ActionEvent) -> None:
        def upgrade(cfg: MasakariConfig) -> dict[str, Any]:
            upgraded = self.packages.package_upgrade(cfg.origin)
            self._reconcile()
            return {"upgraded": upgraded}

        self._configured_action(event, upgrade)


if __name__ == "__main__":  # pragma: nocover
    ops.main(MasakariCharm)
