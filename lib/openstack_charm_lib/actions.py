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
    """Stop and disable the unit's services."""
    stopped = services.pause(host, unit_services)
    return {"stopped": ", ".join(stopped) or "nothing was running"}


def resume(
    host: Host, unit_services: Sequence[str], reconcile: Callable[[], None]
) -> dict[str, str]:
    """Let ``reconcile`` start what should run; report what it started."""
    before = set(services.not_running(host, unit_services))
    reconcile()
    started = [s for s in unit_services if s in before and services.is_running(host, s)]
    return {"started": ", ".join(started) or "nothing"}


def restart(host: Host, unit_services: Sequence[str], paused: bool) -> dict[str, str]:
    """Restart the running services; refused while the unit is paused."""
    if paused:
        raise ActionRefusedError("The unit is paused; run the resume action instead")
    restarted = []
    for service in unit_services:
        if services.is_running(host, service):
            services.restart(host, service)
            restarted.append(service)
    return {"restarted": ", ".join(restarted) or "nothing was running"}
