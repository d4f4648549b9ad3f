"""The service actions every charm of the suite offers: pause, resume, restart-services.

A charm keeps its ``paused`` flag in its stored state and calls these helpers; each
returns the action results (what it did), or raises :class:`ActionRefusedError` with the
message for ``event.fail``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from . import services
from .host import Host

PAUSED_MESSAGE = "Paused. Use 'resume' action to resume normal service."


class ActionRefusedError(Exception):
    """The action cannot run now; the message says why."""


def pause(host: Host, unit_services: Sequence[str]) -> dict[str, str]:
    """Stop, disable and mask every one of the unit's services."""
    stopped = services.pause(host, unit_services)
    return {"stopped": ", ".join(stopped) or "nothing was running"}


def resume(
    host: Host, unit_services: Sequence[str], reconcile: Callable[[], None]
) -> dict[str, str]:
    """Unmask the unit's services; ``reconcile`` enables and starts what should run.

    What should run is decided by that pass, from the configuration of that moment (a
    monitor disabled while paused stays stopped); the results name what it started.
    """
    before = set(services.not_running(host, unit_services))
    services.resume(host, unit_services)
    reconcile()
    started = [s for s in unit_services if s in before and services.is_running(host, s)]
    return {"started": ", ".join(started) or "nothing"}


def restart(host: Host, unit_services: Sequence[str], paused: bool) -> dict[str, str]:
    """Restart the running services; refused while the unit is paused.

    A stopped service stays stopped: the charm holds it so for a reason its status
    gives (incomplete relations, a schema to migrate), which a restart must not bypass.
    """
    if paused:
        raise ActionRefusedError("The unit is paused; run the resume action instead")
    active = services.active_states(host, unit_services)
    restarted = [s for s in unit_services if active[s]]
    for service in restarted:
        services.restart(host, service)
    results = {"restarted": ", ".join(restarted) or "nothing was running"}
    stopped = [s for s in unit_services if not active[s]]
    if stopped:
        results["not-running"] = ", ".join(stopped)
    return results
