"""What the integration tests wait for: predicates on ``juju status`` (a jubilant.Status).

Each names the status that ends one wait of tests/integration, on the suite of
bundles/masakari-minimal.yaml: ``ubuntu`` stand-in hypervisors with neither nova nor
libvirt. They live apart from the tests so that tests/unit can check them against
recorded statuses, without a controller.
"""

from __future__ import annotations

from collections.abc import Callable

import jubilant

MASAKARI = "masakari"
MONITORS = "masakari-monitors"
COMPUTE = "compute"  # the stand-in hypervisors, principals of the monitors
NOVA_CONF_WAIT = "Waiting for nova-compute to write /etc/nova/nova.conf"
PAUSED = "Paused. Use 'resume' action to resume normal service."

Predicate = Callable[[jubilant.Status], bool]


def leader(status: jubilant.Status, app: str) -> str | None:
    """The leader unit of ``app``, None while Juju names none."""
    units = status.get_units(app)
    return next((name for name, unit in units.items() if unit.leader), None)


def monitors_units(status: jubilant.Status) -> dict[str, jubilant.statustypes.UnitStatus]:
    """Every masakari-monitors unit, by name."""
    return status.get_units(MONITORS)


def monitors_wait_for_nova_conf(status: jubilant.Status) -> bool:
    """Every stand-in hypervisor has its monitors unit and each waits for nova.conf.

    The monitors learn nova's name of the host from nova.conf and never guess it; on a
    stand-in nobody writes that file, so this is where a fresh deployment settles.
    """
    hypervisors = status.get_units(COMPUTE)
    monitors = monitors_units(status)
    return (
        bool(hypervisors)
        and len(monitors) == len(hypervisors)
        and all(
            (unit.workload_status.current, unit.workload_status.message)
            == ("waiting", NOVA_CONF_WAIT)
            for unit in monitors.values()
        )
    )


def leader_retries_host_registration(status: jubilant.Status) -> bool:
    """The masakari leader waits on adding hosts to their segment, to be retried.

    Masakari refuses a host that nova does not know, which every stand-in is; the charm
    has created the segment by then (it adds hosts only to a segment it found).
    """
    name = leader(status, MASAKARI)
    if name is None:
        return False
    workload = status.get_units(MASAKARI)[name].workload_status
    # Only a failed add of a host starts so: a segment the charm could not create or an
    # API that did not answer is reported otherwise.
    return workload.current == "waiting" and workload.message.startswith(
        "host registration: adding "
    )


def paused(app: str, unit: str) -> Predicate:
    """A predicate: ``unit`` of ``app`` shows the pause action's maintenance status."""

    def ready(status: jubilant.Status) -> bool:
        found = status.get_units(app).get(unit)
        return found is not None and (
            found.workload_status.current,
            found.workload_status.message,
        ) == ("maintenance", PAUSED)

    return ready


def upgrade_offered(app: str, release: str) -> Predicate:
    """A predicate: every unit of ``app`` is active and offers openstack-upgrade to ``release``.

    With action-managed-upgrade the charm upgrades nothing by itself: a unit that saw the
    new openstack-origin says so in its active status.
    """
    wanted = f"(run openstack-upgrade for {release})"

    def ready(status: jubilant.Status) -> bool:
        units = status.get_units(app)
        return bool(units) and all(
            u.workload_status.current == "active" and wanted in u.workload_status.message
            for u in units.values()
        )

    return ready
