#!/usr/bin/env python3
"""The baseline of the hook-cost benchmark: an ops charm that only sets its status.

It is packed into a tree with the measured charm's own metadata, config, actions and
venv, so the two differ only in what the charm code does per hook.
"""

import ops


class MinimalCharm(ops.CharmBase):
    """Observes the measured events and sets an active status."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        framework.observe(self.on.update_status, self._on_event)
        framework.observe(self.on.config_changed, self._on_event)
        for relation in self.meta.relations:
            framework.observe(self.on[relation].relation_changed, self._on_event)

    def _on_event(self, _event: ops.EventBase) -> None:
        self.unit.status = ops.ActiveStatus("Unit is ready")


if __name__ == "__main__":
    ops.main(MinimalCharm)
