#!/usr/bin/env python3
"""The pacemaker-remote charm: a compute host as a remote node of the masakari cluster.

Every event runs :meth:`PacemakerRemoteCharm._reconcile`: install the packages, publish
this node to hacluster (and its node name to masakari-monitors on pacemaker-node), write
the authkey hacluster sent (restarting pacemaker_remote only when it changed) and set one
status. Without the relation the service is stopped and the key removed.

Related to hacluster, a health daemon (:mod:`remote_node_health`) asks the cluster how it
sees this node; a node the cluster does not see online blocks the status, and cos-agent
and nrpe-external-master (:mod:`remote_watch`) get its metrics, the
Pacemaker log and checks.
"""

from __future__ import annotations

import logging
import time
from typing import cast

import ops
import pacemaker_remote as pr
import remote_node_health as health
import remote_watch
from openstack_charm_lib import actions, observability, pacemaker_node
from openstack_charm_lib.charm_base import ReconcilingCharm
from openstack_charm_lib.host import CommandError
from openstack_charm_lib.network import is_ip
from remote_config import RemoteConfig
from remote_relation import RELATION, HaclusterRemote, NodeInfo

logger = logging.getLogger(__name__)


class PacemakerRemoteCharm(ReconcilingCharm):
    """Reconciling charm for pacemaker_remoted on a hypervisor."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self._stored.set_default(sources_updated=False)
        self.node = self.make_node()
        self.hacluster = HaclusterRemote(self.model)
        cos = (observability.COS_AGENT, observability.NRPE)
        self.observe_reconcile(
            [
                self.on.install,
                self.on.upgrade_charm,
                self.on.config_changed,
                self.on.update_status,
                *self.relation_events([RELATION]),
                self.on["juju-info"].relation_joined,
                self.on[pacemaker_node.RELATION].relation_joined,
                self.on[pacemaker_node.RELATION].relation_changed,
                *self.relation_events(
                    cos, ("relation_joined", "relation_changed", "relation_broken")
                ),
            ]
        )

    def make_node(self) -> pr.RemoteNode:
        """What acts on pacemaker_remoted (a test replaces this on the charm class)."""
        # The stored state records whether the apt index was refreshed once.
        return pr.RemoteNode(self.host, cast(pr.SourcesRecord, self._stored), self.progress)

    def pausable_services(self) -> list[str]:
        """pacemaker_remote, the only service."""
        return [pr.SERVICE]

    def _converge(self) -> ops.StatusBase:
        if not self.hacluster.related:
            # Whatever else is wrong (an invalid option, say), a departed cluster's key goes.
            self.node.forget_cluster()
        config = self._config()
        # masakari-monitors checks this name against nova's host: offer only a name this
        # charm gives (or, once it has an address, will give) hacluster, never a bad one.
        self._publish_node_name(
            None if isinstance(config, ops.StatusBase) else config.remote_hostname
        )
        if isinstance(config, ops.StatusBase):
            return config
        try:
            self.node.install()
        except CommandError as exc:
            logger.error("package installation failed: %s", exc)
            return ops.BlockedStatus(f"Package installation failed ({exc}); retrying")
        self.node.remove_corosync_leftovers()
        self.unit.set_ports(pr.PORT)
        if not self.hacluster.related:
            return ops.BlockedStatus(
                f"Missing relation: relate pacemaker-remote to hacluster ({RELATION} endpoint)"
            )
        return self._join(config)

    def _join(self, config: RemoteConfig) -> ops.StatusBase:
        """Publish this node to hacluster, write its key and run the service."""
        remote_hostname, stonith_hostname = config.remote_hostname, config.stonith_name
        stonith_problem = self.node.stonith_problem(remote_hostname, stonith_hostname)
        remote_ip = self.hacluster.address()
        if not is_ip(remote_ip):
            # hacluster creates the node's resource once, with this address as server=,
            # and never updates it: publish nothing until there is a real address.
            return ops.WaitingStatus(
                f"{RELATION} relation: no IP address on this unit's {RELATION} binding yet"
            )
        fenced_by = None if stonith_problem else stonith_hostname
        self.hacluster.publish(
            NodeInfo(remote_hostname, remote_ip, fenced_by, config.enable_resources)
        )
        if stonith_problem:
            return ops.BlockedStatus(stonith_problem)
        key = self.hacluster.read_key()
        if isinstance(key, ops.StatusBase):
            self.node.stop()
            return key
        changed = self.node.write_key(key)
        if self.paused:
            return ops.MaintenanceStatus(actions.PAUSED_MESSAGE)
        problem = self.node.run(changed) or health.status_problem(
            health.read_state(self.host.path(health.STATE_FILE), time.time())
        )
        if problem:
            return ops.BlockedStatus(problem)
        fencing = "on" if fenced_by else "off"
        return ops.ActiveStatus(f"Pacemaker remote node {remote_hostname} (stonith {fencing})")

    def watch(self) -> observability.Watch:
        """The node's health daemon (while related to hacluster), log, alert rules and checks."""
        config = self._config()
        node = None if isinstance(config, ops.StatusBase) else config.remote_hostname
        return remote_watch.watch(self.meta.name, node, self.hacluster.related, self.paused)

    def _config(self) -> RemoteConfig | ops.BlockedStatus:
        """The validated options, or the status naming the one that is not valid."""
        try:
            return self.load_config(RemoteConfig, fqdn=self.host.fqdn())
        except ValueError as exc:
            return ops.BlockedStatus(str(exc))

    def _publish_node_name(self, node_name: str | None) -> None:
        for relation in self.model.relations[pacemaker_node.RELATION]:
            pacemaker_node.publish(relation, self.unit, node_name)


if __name__ == "__main__":  # pragma: nocover
    ops.main(PacemakerRemoteCharm)
