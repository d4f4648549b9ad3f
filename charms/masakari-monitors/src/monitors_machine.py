"""What the masakari-monitors charm does on its hypervisor once config and relations are read.

:class:`MonitorsMachine` installs the enabled monitors (stopped until their configuration
is complete: the packages start them with their defaults), keeps disabled ones stopped,
writes the monitors' files, and starts or restarts the enabled monitors, keeping the
restarts that cannot happen yet (paused, pacemaker_remote down) until they can. It says,
as text for the status, why the monitors do not run or make no progress.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Protocol

import monitors_health as health
import monitors_workload as wl
from monitors_config import MONITORS, MonitorsConfig
from openstack_charm_lib import apt, liveness, services
from openstack_charm_lib.host import Host
from openstack_charm_lib.relations.identity_credentials import Credentials
from openstack_charm_lib.rendering import apply_when_changed
from openstack_charm_lib.status import join_names

logger = logging.getLogger(__name__)

ALL_MONITORS = tuple(MONITORS.values())


class MonitorsRecord(Protocol):
    """What the unit remembers between hooks (the charm's stored state)."""

    sources_updated: bool  # the apt index was refreshed once
    pending_restarts: list[str]  # monitors whose inputs changed but that have not restarted
    rendered: dict  # digests of the files as last written


class MonitorsMachine:
    """The masakari monitors on ``host``."""

    def __init__(self, host: Host, record: MonitorsRecord, progress: Callable[[str], None]):
        self.host = host
        self.record = record
        self.progress = progress  # shows a long operation in the unit's status

    def install(self, config: MonitorsConfig) -> None:
        """Install the enabled monitors, stop the disabled; raises CommandError on apt's."""
        installed = apt.installed_versions(self.host, list(ALL_MONITORS))
        missing = [m for m in config.monitors if m not in installed]
        if missing:
            self.progress(f"Installing {join_names(missing)}")
            if not self.record.sources_updated:
                apt.update(self.host)
                self.record.sources_updated = True
            apt.install(self.host, missing)
            # The packages start the monitors with their default configuration.
            self.stop(missing)
        # A monitor whose package is absent has no unit to stop (each package ships its own).
        self.stop(m for m in ALL_MONITORS if m not in config.monitors and m in installed)

    def stop(self, monitors: Iterable[str]) -> None:
        """Keep ``monitors`` stopped until their configuration is complete and consistent."""
        services.ensure_all_stopped(self.host, list(monitors))

    def nova_conf(self) -> str | None:
        """nova-compute's nova.conf; None until nova-compute wrote it."""
        return self.host.read_text(wl.NOVA_CONF)

    def apply(
        self, config: MonitorsConfig, credentials: Credentials, hostname: str, paused: bool
    ) -> str | None:
        """Write the files and run the monitors; why they do not do their work, or None."""
        group = services.run_as_group(self.host, config.monitors[0])
        applied = apply_when_changed(
            self.host,
            self.record.rendered,
            [config, credentials, hostname, group],
            lambda: wl.build_files(config, credentials, hostname, group),
        )
        pending = {*self.record.pending_restarts, *applied.restarts}
        self.record.pending_restarts = sorted(pending)
        if paused:
            return None
        if config.host_monitor and not services.is_running(self.host, "pacemaker_remote"):
            self.stop(config.monitors)
            return (
                "The host monitor needs pacemaker_remote running here: "
                "see pacemaker-remote's status"
            )
        for monitor in services.converge(self.host, config.monitors, pending):
            logger.error("could not start %s", monitor)
        self.record.pending_restarts = sorted(pending)
        down = services.not_running(self.host, config.monitors)
        if down:
            return f"Services not running: {join_names(down)}"
        wedged = health.status_problems(
            liveness.read_state(
                self.host.path(health.STATE_FILE), time.time(), health.STATE_MAX_AGE
            )
        )
        return "; ".join(wedged) if wedged else None
