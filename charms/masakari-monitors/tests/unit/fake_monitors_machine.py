"""A fake of :class:`monitors_machine.MonitorsMachine`, for the charm's behaviour tests.

The charm decides; the machine acts. This fake keeps what the real one would leave on
the hypervisor (the monitors installed and running) in memory, with the nova.conf and
the answers a test sets, and records each step the charm asked for and what each
``apply`` was given, so that a test says what the charm decided without reading files
or commands. What the steps do on a machine is tested on the real MonitorsMachine
(``test_machine.py``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from monitors_config import MonitorsConfig
from monitors_machine import ALL_MONITORS
from openstack_charm_lib.host import CommandError
from openstack_charm_lib.relations.identity_credentials import Credentials


@dataclasses.dataclass(frozen=True)
class Applied:
    """What one ``apply`` was given."""

    config: MonitorsConfig
    credentials: Credentials
    hostname: str
    paused: bool


class FakeMonitorsMachine:
    """The monitors on a hypervisor as the charm sees them, with the answers a test sets."""

    def __init__(self, nova_conf: str | None):
        self.installed: set[str] = set()
        self.running: set[str] = set()
        self.nova: str | None = nova_conf  # what nova-compute wrote (None: not yet)
        self.install_error: CommandError | None = None  # what install() raises
        self.serve_problem: str | None = None  # what apply() says is wrong (None: they run)
        self.applied: list[Applied] = []
        self.calls: list[str] = []  # the steps asked for, in order

    def install(self, config: MonitorsConfig) -> None:
        self.calls.append("install")
        if self.install_error is not None:
            raise self.install_error
        new = set(config.monitors) - self.installed
        self.installed |= new
        # Stopped until configured; the disabled ones are kept stopped.
        self.running -= new | {m for m in ALL_MONITORS if m not in config.monitors}

    def stop(self, monitors: Iterable[str]) -> None:
        self.calls.append("stop")
        self.running -= set(monitors)

    def nova_conf(self) -> str | None:
        return self.nova

    def apply(
        self, config: MonitorsConfig, credentials: Credentials, hostname: str, paused: bool
    ) -> str | None:
        self.calls.append("apply")
        self.applied.append(Applied(config, credentials, hostname, paused))
        if paused:
            return None
        if self.serve_problem is None:
            self.running |= set(config.monitors)
        return self.serve_problem
