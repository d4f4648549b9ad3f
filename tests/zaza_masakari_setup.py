"""The zaza configure step of this suite: wait for the charms' automatic registration.

zaza-openstack-tests' ``masakari.setup.create_segments`` creates ``seg0`` and registers
every nova hypervisor by hand. With this suite's overlay the masakari leader registers
each hypervisor itself (masakari-monitors:registration -> masakari:hosts), and masakari
answers 409 to a second registration of a host name, which zaza does not catch. This
step instead waits until every hypervisor nova lists is a masakari host in some segment
(whatever its name: zaza's test classes look hosts up by name, never a segment), so
that zaza's masakari and pacemaker-remote tests run against what the charms registered.

It talks to nova and masakari through openstacksdk, as zaza does. ``wait_for_registration``
is the entry point tests.yaml names (zaza's keystone session); :func:`registered` takes
any ``openstack.connection.Connection`` (the functional tests pass one of their stack).
"""

from __future__ import annotations

import logging
import time

TIMEOUT = 900  # seconds: the leader registers on its next hook (update-status at worst)
INTERVAL = 10


class RegistrationIncompleteError(Exception):
    """Some hypervisors are still not masakari hosts when the wait ends."""


def compute_hosts(conn) -> set[str]:
    """The compute host of every nova hypervisor: the name masakari registers it under.

    The service's host (microversion 2.53's ``service`` of a hypervisor) is nova's
    ``host``, which masakari-monitors reports and masakari checks; the hypervisor's own
    name (libvirt's host name) only stands in when nova shows no service.
    """
    hosts = set()
    for hypervisor in conn.compute.hypervisors(details=True):
        service = getattr(hypervisor, "service_details", None) or {}
        hosts.add(service.get("host") or hypervisor.name)
    return hosts


def masakari_hosts(conn) -> dict[str, str]:
    """Host name -> segment name, over every failover segment."""
    found = {}
    for segment in conn.instance_ha.segments():
        for host in conn.instance_ha.hosts(segment.uuid):
            found[host.name] = segment.name
    return found


def registered(conn, timeout: float = TIMEOUT, interval: float = INTERVAL) -> dict[str, str]:
    """Wait until every nova hypervisor is a masakari host; host name -> its segment."""
    deadline = time.monotonic() + timeout
    while True:
        wanted = compute_hosts(conn)
        found = masakari_hosts(conn)
        missing = sorted(wanted - set(found))
        if wanted and not missing:
            return {host: found[host] for host in sorted(wanted)}
        if time.monotonic() >= deadline:
            raise RegistrationIncompleteError(
                f"not registered in masakari after {timeout:.0f}s: "
                f"{', '.join(missing) or 'nova lists no hypervisor'} (see the masakari "
                "leader's status; the hypervisors' masakari-monitors must be related to "
                "masakari:hosts)"
            )
        logging.info("waiting for masakari to register %s", ", ".join(missing))
        time.sleep(interval)


def wait_for_registration() -> None:
    """Zaza configure step: every hypervisor registered by the charms, as zaza connects."""
    import zaza.openstack.utilities.openstack as openstack_utils
    from openstack import connection

    session = openstack_utils.get_overcloud_keystone_session()
    # As zaza's own masakari client: the internal endpoints of RegionOne.
    conn = connection.Connection(session=session, interface="internal", region_name="RegionOne")
    for host, segment in registered(conn).items():
        logging.info("%s is registered in segment %s", host, segment)
