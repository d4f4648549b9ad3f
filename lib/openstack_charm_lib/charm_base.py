"""The skeleton every charm of the suite shares: events reconcile, actions act on services.

A charm subclasses :class:`ReconcilingCharm`, lists the events that should reconcile
(:meth:`observe_reconcile`), implements :meth:`_converge` (one pass that returns the
unit's status) and names its services. pause, resume and restart-services are wired here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import ops

from . import actions
from .host import Host


class ReconcilingCharm(ops.CharmBase):
    """Base class: one reconcile pass per event, and the service actions."""

    _stored = ops.StoredState()

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self._stored.set_default(paused=False)
        self.host = self._make_host()
        framework.observe(self.on.pause_action, self._on_pause)
        framework.observe(self.on.resume_action, self._on_resume)
        framework.observe(self.on.restart_services_action, self._on_restart_services)

    def _make_host(self) -> Host:
        """The machine (unit tests substitute a FakeHost)."""
        return Host()

    def observe_reconcile(self, events: Iterable[ops.BoundEvent]) -> None:
        """Run a reconcile pass on each of ``events``."""
        for event in events:
            self.framework.observe(event, self._on_event)

    def _on_event(self, _event: ops.EventBase) -> None:
        self._reconcile()

    def _reconcile(self) -> None:
        self.unit.status = self._converge()

    def _converge(self) -> ops.StatusBase:
        """Bring the machine to the desired state; return the unit's status."""
        raise NotImplementedError

    @property
    def paused(self) -> bool:
        """Whether an operator paused the unit."""
        return bool(self._stored.paused)

    def pausable_services(self) -> Sequence[str]:
        """Services pause stops (every service the charm may run)."""
        raise NotImplementedError

    def active_services(self) -> Sequence[str]:
        """Services resume and restart-services act on (those that should run)."""
        return self.pausable_services()

    def _on_pause(self, event: ops.ActionEvent) -> None:
        self._stored.paused = True
        event.set_results(actions.pause(self.host, self.pausable_services()))
        self.unit.status = ops.MaintenanceStatus(actions.PAUSED_MESSAGE)

    def _on_resume(self, event: ops.ActionEvent) -> None:
        self._stored.paused = False
        results = actions.resume(self.host, self.active_services(), self._reconcile)
        event.set_results({**results, "status": self.unit.status.message})

    def _on_restart_services(self, event: ops.ActionEvent) -> None:
        try:
            event.set_results(actions.restart(self.host, self.active_services(), self.paused))
        except actions.ActionRefusedError as exc:
            event.fail(str(exc))
