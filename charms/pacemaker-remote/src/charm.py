#!/usr/bin/env python3
"""The pacemaker-remote charm: a compute host as a remote node of the masakari cluster.

Every event runs :meth:`PacemakerRemoteCharm._reconcile`: install the packages, publish
this node to hacluster (and its node name to masakari-monitors on pacemaker-node), write
the authkey hacluster sent (restarting pacemaker_remote only when it changed) and set one
status. Without the relation the service is stopped and the key removed.

Related to hacluster, a health daemon (:mod:`remote_node_health`) asks the cluster how it
sees this node; a node the cluster does not see online blocks the status, and cos-agent
and nrpe-external-master (:meth:`PacemakerRemoteCharm.watch`) get its metrics, the
Pacemaker log and checks.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import ops
import pacemaker_remote as pr
import remote_node_health as health
from openstack_charm_lib import (
    actions,
    apt,
    cos_agent,
    observability,
    pacemaker_node,
    services,
)
from openstack_charm_lib.charm_base import ReconcilingCharm
from openstack_charm_lib.host import CommandError
from openstack_charm_lib.network import is_ip
from remote_config import RemoteConfig

logger = logging.getLogger(__name__)

RELATION = "pacemaker-remote"
HEALTH_SERVICE = "pacemaker-remote-health"
LOG_FILES = ("/var/log/pacemaker/pacemaker.log",)
COS_DIR = Path(__file__).parent / "cos"  # alert rules shipped with the charm


class PacemakerRemoteCharm(ReconcilingCharm):
    """Reconciling charm for pacemaker_remoted on a hypervisor."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self._stored.set_default(sources_updated=False)
        rel = self.on[RELATION]
        self.observe_reconcile(
            [
                self.on.install,
                self.on.upgrade_charm,
                self.on.config_changed,
                self.on.update_status,
                rel.relation_joined,
                rel.relation_changed,
                rel.relation_departed,
                rel.relation_broken,
                self.on["juju-info"].relation_joined,
                self.on[pacemaker_node.RELATION].relation_joined,
                self.on[pacemaker_node.RELATION].relation_changed,
                *(
                    event
                    for name in (observability.COS_AGENT, observability.NRPE)
                    for event in (
                        self.on[name].relation_joined,
                        self.on[name].relation_changed,
                        self.on[name].relation_broken,
                    )
                ),
            ]
        )

    def pausable_services(self) -> list[str]:
        """pacemaker_remote, the only service."""
        return [pr.SERVICE]

    def _converge(self) -> ops.StatusBase:
        relation = self.model.get_relation(RELATION)
        if relation is None:
            # Whatever else is wrong (an invalid option, say), a departed cluster's key goes.
            self._forget_cluster()
        config = self._config()
        # masakari-monitors checks this name against nova's host: offer only a name this
        # charm gives (or, once it has an address, will give) hacluster, never a bad one.
        self._publish_node_name(
            None if isinstance(config, ops.StatusBase) else config.remote_hostname
        )
        if isinstance(config, ops.StatusBase):
            return config
        remote_hostname, stonith_hostname = config.remote_hostname, config.stonith_name
        try:
            self._ensure_packages()
        except CommandError as exc:
            logger.error("package installation failed: %s", exc)
            return ops.BlockedStatus(f"Package installation failed ({exc}); retrying")
        self._remove_corosync_leftovers()
        self.unit.set_ports(pr.PORT)

        if relation is None:
            return ops.BlockedStatus(
                "Missing relation: relate pacemaker-remote to hacluster "
                "(pacemaker-remote endpoint)"
            )
        stonith_problem = self._stonith_problem(remote_hostname, stonith_hostname)
        remote_ip = self._remote_ip(relation)
        if not is_ip(remote_ip):
            # hacluster creates the node's resource once, with this address as server=,
            # and never updates it: publish nothing until there is a real address.
            return ops.WaitingStatus(
                f"{RELATION} relation: no IP address on this unit's {RELATION} binding yet"
            )
        info = pr.NodeInfo(
            remote_hostname=remote_hostname,
            remote_ip=remote_ip,
            stonith_hostname=None
            if stonith_problem or stonith_hostname is None
            else stonith_hostname,
            enable_resources=config.enable_resources,
        )
        relation.data[self.unit].update(info.relation_data())
        if stonith_problem:
            return ops.BlockedStatus(stonith_problem)

        key_state = self._key(relation)
        if isinstance(key_state, ops.StatusBase):
            services.ensure_stopped(self.host, pr.SERVICE)
            return key_state
        changed = self.host.write_file(
            pr.AUTHKEY, key_state, owner="root", group="haclient", mode=0o440
        ).content_changed
        if self.paused:
            return ops.MaintenanceStatus(actions.PAUSED_MESSAGE)
        return self._run_node(changed, remote_hostname, bool(info.stonith_hostname))

    def _run_node(self, key_changed: bool, remote_hostname: str, stonith: bool) -> ops.StatusBase:
        """Run pacemaker_remoted (restarted on a new key) and say how the cluster sees it."""
        try:
            if key_changed:
                self.host.run(["systemctl", "enable", pr.SERVICE])
                services.restart(self.host, pr.SERVICE)
            else:
                services.ensure_running(self.host, pr.SERVICE)
        except CommandError:
            logger.error("could not start %s", pr.SERVICE)
        if not services.is_running(self.host, pr.SERVICE):
            return ops.BlockedStatus(
                f"{pr.SERVICE} is not running; see 'journalctl -u {pr.SERVICE}'"
            )
        if pr.PORT not in self.host.listening_tcp_ports():
            return ops.BlockedStatus(f"{pr.SERVICE} runs but does not listen on {pr.PORT}")
        problem = health.status_problem(
            health.read_state(self.host.path(health.STATE_FILE), time.time())
        )
        if problem:
            return ops.BlockedStatus(problem)
        fencing = "on" if stonith else "off"
        return ops.ActiveStatus(f"Pacemaker remote node {remote_hostname} (stonith {fencing})")

    def watch(self) -> observability.Watch:
        """The node's health daemon (while related to hacluster), log, alert rules and checks."""
        config = self._config()
        node = None if isinstance(config, ops.StatusBase) else config.remote_hostname
        related = self.model.get_relation(RELATION) is not None
        daemon = observability.Daemon.of(
            health,
            HEALTH_SERVICE,
            "This Pacemaker remote node as the cluster sees it, as Prometheus metrics",
            health.config_text(node or ""),
        )
        checks = [observability.service_check(self.meta.name, pr.SERVICE)]
        if related and not self.paused:  # a paused node is offline on purpose
            checks.append(
                observability.metric_check(
                    "pacemaker-remote-node",
                    "remote node online {pacemaker_remote}",
                    health.LISTEN_PORT,
                    "pacemaker_remote_node_online",
                    *("--name-label", "node", "--below", "--critical", "0"),
                )
            )
        return observability.Watch(
            daemon=daemon,
            run_daemon=related and node is not None,
            offer=cos_agent.Observability(
                scrape_jobs=(cos_agent.ScrapeJob("remote_node_health", health.LISTEN_PORT),),
                log_files=LOG_FILES,
                metrics_rules_dir=COS_DIR / "prometheus_alert_rules",
            ),
            checks=tuple(checks),
            primary=False,
        )

    def _config(self) -> RemoteConfig | ops.BlockedStatus:
        """The validated options, or the status naming the one that is not valid."""
        try:
            return self.load_config(RemoteConfig, fqdn=self.host.fqdn())
        except ValueError as exc:
            return ops.BlockedStatus(str(exc))

    def _publish_node_name(self, node_name: str | None) -> None:
        for relation in self.model.relations[pacemaker_node.RELATION]:
            pacemaker_node.publish(relation, self.unit, node_name)

    def _stonith_problem(self, remote_hostname: str, stonith_hostname: str | None) -> str | None:
        if stonith_hostname is None:
            return None
        if "." not in stonith_hostname or not self.host.resolves(stonith_hostname):
            return (
                f"enable-stonith: {stonith_hostname!r} is not a name MAAS resolves; "
                "set stonith-hostname to the machine's MAAS FQDN"
            )
        fenced = pr.fenced_names(stonith_hostname)
        if remote_hostname not in fenced:
            # Pacemaker fences the node by its node name (remote-hostname); hacluster's
            # st-maas lists only the stonith-hostnames and their short forms, so it
            # would never fence this node.
            return (
                f"enable-stonith: hacluster's st-maas fences {' or '.join(map(repr, fenced))}, "
                f"not this node ({remote_hostname!r}): make remote-hostname one of them or "
                "set stonith-hostname to the MAAS FQDN of which remote-hostname is the name "
                "or short name"
            )
        return None

    def _remote_ip(self, relation: ops.Relation) -> str:
        binding = self.model.get_binding(relation)
        network = binding.network if binding is not None else None
        address = network.ingress_address if network is not None else None
        return str(address) if address else ""

    def _key(self, relation: ops.Relation) -> bytes | ops.StatusBase:
        """The authkey all hacluster units agree on, or the status explaining why not."""
        sent = {}
        for unit in sorted(relation.units, key=lambda u: u.name):
            value = relation.data[unit].get("pacemaker-key")
            if value:
                sent[unit.name] = value.strip()
        if not sent:
            return ops.WaitingStatus("Waiting for the pacemaker authkey from hacluster")
        if len(set(sent.values())) > 1:
            return ops.BlockedStatus(
                f"hacluster units send different pacemaker-key values ({', '.join(sent)}); "
                "set hacluster's pacemaker_key option so that they agree"
            )
        try:
            return pr.decode_key(next(iter(sent.values())))
        except pr.AuthKeyError as exc:
            # Name the relation, the units and the field; never the value.
            return ops.BlockedStatus(f"{RELATION} relation, {', '.join(sent)}: {exc}")

    # -- machine state -----------------------------------------------------------------------
    def _ensure_packages(self) -> None:
        missing = apt.missing_packages(self.host, pr.PACKAGES)
        if not missing:
            return
        self.unit.status = ops.MaintenanceStatus("Installing packages")
        if not self._stored.sources_updated:
            apt.update(self.host)
            self._stored.sources_updated = True
        apt.install(self.host, missing)
        # The package starts the service with whatever key it finds; wait for hacluster's.
        services.ensure_stopped(self.host, pr.SERVICE)

    def _remove_corosync_leftovers(self) -> None:
        if services.is_running(self.host, "corosync"):
            return  # someone runs corosync on purpose; leave it alone
        for path in pr.COROSYNC_LEFTOVERS:
            if self.host.remove_file(path):
                logger.info("removed %s so that this host cannot form a corosync cluster", path)

    def _forget_cluster(self) -> None:
        services.ensure_stopped(self.host, pr.SERVICE)
        if self.host.remove_file(pr.AUTHKEY):
            logger.info("removed the pacemaker authkey of the departed cluster")


if __name__ == "__main__":  # pragma: nocover
    ops.main(PacemakerRemoteCharm)
