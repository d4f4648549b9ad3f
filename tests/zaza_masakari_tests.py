"""zaza test classes of this suite: zaza-openstack-tests' own, pointed at this bundle.

zaza's ``PacemakerRemoteTest`` reads the cluster on the units of an application named
``api`` (the pacemaker-remote charm's own test bundle); in this suite's bundle the
cluster that holds the remote nodes runs on the masakari units (masakari-hacluster). The
class here runs zaza's test unchanged with that one name mapped.
"""

from __future__ import annotations

import contextlib
import functools
from unittest import mock

import zaza.openstack.charm_tests.pacemaker_remote.tests as pacemaker_remote_tests
import zaza.openstack.configure.hacluster as hacluster

CLUSTER_APPLICATION = "masakari"  # the principal of masakari-hacluster in the overlay


def _on_cluster(function, application: str):
    @functools.wraps(function)
    def wrapper(service_name, *args, **kwargs):
        name = application if service_name == "api" else service_name
        return function(name, *args, **kwargs)

    return wrapper


@contextlib.contextmanager
def _cluster_named(application: str):
    with contextlib.ExitStack() as stack:
        for name in ("check_all_nodes_online", "remove_node", "get_nodes_status"):
            original = getattr(hacluster, name)
            stack.enter_context(
                mock.patch.object(hacluster, name, _on_cluster(original, application))
            )
        yield


class PacemakerRemoteTest(pacemaker_remote_tests.PacemakerRemoteTest):
    """zaza's pacemaker-remote test on the masakari units' cluster."""

    def test_check_nodes_online(self):
        """Every node online, also after the last remote node is removed (zaza's test)."""
        with _cluster_named(CLUSTER_APPLICATION):
            super().test_check_nodes_online()
