"""A fake of :class:`pacemaker_remote.RemoteNode`, for the charm's behaviour tests.

The charm decides; the node acts. This fake keeps what a real node would leave on the
machine (packages installed, the key, whether pacemaker_remoted runs and how often it
was restarted) in memory, and records each step the charm asked for, so that a test
says what the charm decided without spelling commands. What the steps do on a machine
is tested on :class:`pacemaker_remote.RemoteNode` itself (``test_remote_node.py``).
"""

from __future__ import annotations

import pacemaker_remote as pr
from openstack_charm_lib.host import CommandError


class FakeRemoteNode:
    """pacemaker_remoted as the charm sees it, with the answers a test sets."""

    def __init__(self, fqdn: str):
        self.installed = False
        self.key: bytes | None = None
        self.running = False
        self.restarts = 0
        self.resolvable: set[str] = {fqdn}  # names the machine resolves (MAAS's DNS)
        self.install_error: CommandError | None = None  # what install() raises
        self.serve_problem: str | None = None  # what run() says is wrong (None: it serves)
        self.calls: list[str] = []  # the steps asked for, in order

    def install(self) -> None:
        self.calls.append("install")
        if self.install_error is not None:
            raise self.install_error
        if not self.installed:
            self.installed = True
            self.running = False  # left stopped until hacluster's key is written

    def remove_corosync_leftovers(self) -> None:
        self.calls.append("remove_corosync_leftovers")

    def forget_cluster(self) -> None:
        self.calls.append("forget_cluster")
        self.running = False
        self.key = None

    def stop(self) -> None:
        self.calls.append("stop")
        self.running = False

    def write_key(self, key: bytes) -> bool:
        self.calls.append("write_key")
        changed, self.key = key != self.key, key
        return changed

    def run(self, key_changed: bool) -> str | None:
        self.calls.append("run")
        if key_changed:
            self.restarts += 1
        self.running = self.serve_problem is None
        return self.serve_problem

    def stonith_problem(self, remote_hostname: str, stonith_hostname: str | None) -> str | None:
        return pr.stonith_problem(remote_hostname, stonith_hostname, self.resolvable.__contains__)
