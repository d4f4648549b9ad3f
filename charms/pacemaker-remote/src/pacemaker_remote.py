"""What runs on a pacemaker-remote unit: the packages, the authkey and pacemaker_remoted.

:class:`RemoteNode` acts on the machine for the charm's pass: it installs the packages
(leaving the service stopped until hacluster's key is written), removes what would let
the host form a corosync cluster of its own, writes the key, and runs the service,
saying what is wrong when it does not run or listen. Problems are text for the status.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from openstack_charm_lib import apt, services
from openstack_charm_lib.host import CommandError, Host
from remote_relation import fenced_names

logger = logging.getLogger(__name__)

PACKAGES = ["pacemaker-remote", "resource-agents"]
SERVICE = "pacemaker_remote"
PORT = 3121
AUTHKEY = "/etc/pacemaker/authkey"
# Left by a corosync package (the old charm installed one): with it, this host could
# start corosync and form a cluster of its own instead of being a remote node.
COROSYNC_LEFTOVERS = ("/etc/corosync/corosync.conf",)


class SourcesRecord(Protocol):
    """Whether the apt index was refreshed once (the charm's stored state)."""

    sources_updated: bool


class RemoteNode:
    """pacemaker_remoted on ``host``."""

    def __init__(self, host: Host, record: SourcesRecord, progress: Callable[[str], None]):
        self.host = host
        self.record = record
        self.progress = progress  # shows a long operation in the unit's status

    def install(self) -> None:
        """Install what is missing; raises CommandError when apt fails."""
        missing = apt.missing_packages(self.host, PACKAGES)
        if not missing:
            return
        self.progress("Installing packages")
        if not self.record.sources_updated:
            apt.update(self.host)
            self.record.sources_updated = True
        apt.install(self.host, missing)
        # The package starts the service with whatever key it finds; wait for hacluster's.
        services.ensure_stopped(self.host, SERVICE)

    def remove_corosync_leftovers(self) -> None:
        """Remove the files that would let this host start a corosync cluster of its own."""
        if not any(self.host.exists(path) for path in COROSYNC_LEFTOVERS):
            return
        if services.is_running(self.host, "corosync"):
            return  # someone runs corosync on purpose; leave it alone
        for path in COROSYNC_LEFTOVERS:
            if self.host.remove_file(path):
                logger.info("removed %s so that this host cannot form a corosync cluster", path)

    def forget_cluster(self) -> None:
        """Stop the service and remove the key of a cluster this node left."""
        self.stop()
        if self.host.remove_file(AUTHKEY):
            logger.info("removed the pacemaker authkey of the departed cluster")

    def stop(self) -> None:
        """Stop pacemaker_remoted."""
        services.ensure_stopped(self.host, SERVICE)

    def write_key(self, key: bytes) -> bool:
        """Write the cluster's authkey (root:haclient 0440); whether it changed."""
        written = self.host.write_file(AUTHKEY, key, owner="root", group="haclient", mode=0o440)
        return written.content_changed

    def run(self, key_changed: bool) -> str | None:
        """Run pacemaker_remoted, restarted on a new key; why it does not serve, or None."""
        # Known running only when it was and nothing was asked of it: else systemd says.
        running = False
        try:
            if key_changed:
                self.host.run(["systemctl", "enable", SERVICE])
                services.restart(self.host, SERVICE)
            else:
                running = not services.ensure_running(self.host, SERVICE)
        except CommandError:  # the checks below say what is wrong
            logger.error("could not start %s", SERVICE)
        if not running and not services.is_running(self.host, SERVICE):
            return f"{SERVICE} is not running; see 'journalctl -u {SERVICE}'"
        if PORT not in self.host.listening_tcp_ports():
            return f"{SERVICE} runs but does not listen on {PORT}"
        return None

    def stonith_problem(self, remote_hostname: str, stonith_hostname: str | None) -> str | None:
        """Why hacluster could not fence this node by ``stonith_hostname``, or None."""
        return stonith_problem(remote_hostname, stonith_hostname, self.host.resolves)


def stonith_problem(
    remote_hostname: str, stonith_hostname: str | None, resolves: Callable[[str], bool]
) -> str | None:
    """Why hacluster could not fence node ``remote_hostname`` by ``stonith_hostname``.

    None when it could (or no stonith name is asked for); ``resolves`` says whether the
    machine resolves a name, as MAAS's DNS would for hacluster.
    """
    if stonith_hostname is None:
        return None
    if "." not in stonith_hostname or not resolves(stonith_hostname):
        return (
            f"enable-stonith: {stonith_hostname!r} is not a name MAAS resolves; "
            "set stonith-hostname to the machine's MAAS FQDN"
        )
    fenced = fenced_names(stonith_hostname)
    if remote_hostname not in fenced:
        # Pacemaker fences the node by its node name (remote-hostname); hacluster's
        # st-maas lists only the stonith-hostnames and their short forms, so it would
        # never fence this node.
        return (
            f"enable-stonith: hacluster's st-maas fences {' or '.join(map(repr, fenced))}, "
            f"not this node ({remote_hostname!r}): make remote-hostname one of them or "
            "set stonith-hostname to the MAAS FQDN of which remote-hostname is the name "
            "or short name"
        )
    return None
