"""The skeleton every charm of the suite shares: events reconcile, actions act on services.

A charm subclasses :class:`ReconcilingCharm`, lists the events that should reconcile
(:meth:`observe_reconcile`), implements :meth:`_converge` (one pass that returns the
unit's status) and names its services. pause, resume and restart-services are wired here.
A charm that can be watched returns a :class:`~.observability.Watch` from
:meth:`watch`; every pass (and pause) then applies it after the workload's own pass,
and what it finds wrong blocks an otherwise active unit.

Each hook has one error boundary: a command that still fails after the pass's own
handling, or a value the renderer refuses, becomes a blocked status naming it (and the
next hook retries), never a traceback. Output of the failed command goes to the log
only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

import ops

from . import actions, observability
from .host import CommandError, Host
from .rendering import UnsafeValueError

logger = logging.getLogger(__name__)
_Config = TypeVar("_Config")
# The events of a relation that change what the pass reads from it.
RELATION_CHANGES = ("relation_joined", "relation_changed", "relation_departed", "relation_broken")


def failure_message(exc: CommandError | UnsafeValueError) -> str:
    """What a status or an action failure says of ``exc`` (its output goes to the log)."""
    if isinstance(exc, UnsafeValueError):
        logger.error("refused to render: %s", exc)
        return f"refused to write a configuration file: {exc}"
    logger.error("%s exited %s: %s", exc.argv[0], exc.returncode, exc.output)
    return f"{exc.argv[0]} failed (exit {exc.returncode}); see juju debug-log"


class ReconcilingCharm(ops.CharmBase):
    """Base class: one reconcile pass per event, and the service actions."""

    _stored = ops.StoredState()

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self._stored.set_default(paused=False)
        self.host = self.make_host()
        framework.observe(self.on.pause_action, self._on_pause)
        framework.observe(self.on.resume_action, self._on_resume)
        framework.observe(self.on.restart_services_action, self._on_restart_services)
        framework.observe(self.on.remove, self._on_remove)

    def loaded_config(self, load: Callable[[], _Config]) -> _Config:
        """What ``load()`` returns (or raises), computed once per hook.

        The options cannot change within a hook, and the pass and :meth:`watch` both
        need them: validating them twice would only cost time.
        """
        if not hasattr(self, "_loaded_config"):
            try:
                self._loaded_config: object = load()
            except Exception as exc:  # kept, and raised to every caller alike
                self._loaded_config = exc
        if isinstance(self._loaded_config, Exception):
            raise self._loaded_config
        return self._loaded_config  # type: ignore[return-value]

    def make_host(self) -> Host:
        """The machine the charm acts on (a test replaces this on the charm class)."""
        return Host()

    def relation_events(
        self, endpoints: Iterable[str], kinds: Sequence[str] = RELATION_CHANGES
    ) -> list[ops.BoundEvent]:
        """The ``kinds`` of event (all of :data:`RELATION_CHANGES`) of each endpoint."""
        return [getattr(self.on[name], kind) for name in endpoints for kind in kinds]

    def progress(self, message: str) -> None:
        """Show a long step of the pass (an install, an upgrade) in the unit's status."""
        self.unit.status = ops.MaintenanceStatus(message)

    def observe_reconcile(self, events: Iterable[ops.BoundEvent]) -> None:
        """Run a reconcile pass on each of ``events``."""
        for event in events:
            self.framework.observe(event, self._on_event)

    def _on_event(self, _event: ops.EventBase) -> None:
        self._reconcile()

    def _reconcile(self) -> None:
        try:
            status = self._converge()
        except (CommandError, UnsafeValueError) as exc:
            status = ops.BlockedStatus(f"{failure_message(exc)}; retrying on the next hook")
        self.unit.status = self._observe(status)

    def watch(self) -> observability.Watch | None:
        """What this unit offers to monitoring (None: nothing)."""
        return None

    def _on_remove(self, _event: ops.RemoveEvent) -> None:
        watch = self.watch()
        if watch is None:
            return
        try:
            observability.forget(self, self.host, watch)
        except CommandError as exc:  # the unit goes anyway: say what was left behind
            failure_message(exc)

    def _observe(self, status: ops.StatusBase) -> ops.StatusBase:
        """Apply :meth:`watch`; ``status``, or what blocks it when it would be active."""
        try:
            watch = self.watch()
            found = (
                []
                if watch is None
                else observability.apply(self, self.host, watch, paused=self.paused)
            )
        except (CommandError, UnsafeValueError) as exc:
            found = [f"{failure_message(exc)}; retrying on the next hook"]
        if found and isinstance(status, ops.ActiveStatus):
            return ops.BlockedStatus("; ".join(found))
        return status

    def run_action(self, event: ops.ActionEvent, body: Callable[[], None]) -> None:
        """Run an action's ``body``; a failed command fails the action with a clear message."""
        try:
            body()
        except (CommandError, UnsafeValueError) as exc:
            event.fail(failure_message(exc))

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
        def pause() -> None:
            self._stored.paused = True
            event.set_results(actions.pause(self.host, self.pausable_services()))
            # The service checks say OK from now on: the services are stopped on purpose.
            self.unit.status = self._observe(ops.MaintenanceStatus(actions.PAUSED_MESSAGE))

        self.run_action(event, pause)

    def _on_resume(self, event: ops.ActionEvent) -> None:
        def resume() -> None:
            self._stored.paused = False
            results = actions.resume(self.host, self.pausable_services(), self._reconcile)
            event.set_results({**results, "status": self.unit.status.message})

        self.run_action(event, resume)

    def _on_restart_services(self, event: ops.ActionEvent) -> None:
        def restart() -> None:
            try:
                results = actions.restart(self.host, self.active_services(), self.paused)
            except actions.ActionRefusedError as exc:
                event.fail(str(exc))
                return
            event.set_results(results)

        self.run_action(event, restart)
