"""What one reconcile pass of the masakari charm found, and the one status it leads to.

The pass collects problems into an :class:`Outcome` as it goes; :func:`decide` turns
them into the unit's status in a fixed order: what needs the operator, a paused unit,
an HA set-up that cannot work, what the unit waits for, a cluster not yet formed, a
service down or a port closed, and only then active (with the upgrade on offer, the
registration summary and any recovery-timing warning).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence

import ops
from masakari_config import MasakariConfig
from masakari_packages import Installed
from openstack_charm_lib import actions, policy_overrides
from openstack_charm_lib.status import first_failure

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class Outcome:
    """What one reconcile pass found, for the status."""

    installed: Installed  # the packages, their release and the upgrade on offer
    blocked: list[str] = dataclasses.field(default_factory=list)
    waiting: list[str] = dataclasses.field(default_factory=list)
    to_restart: list[str] = dataclasses.field(default_factory=list)  # services this pass restarts
    synced: bool = False  # the database schema matches the release
    registered: str = ""  # summary of automatic registration, for the active status
    warning: str = ""  # a risk the operator should know of, for the active status
    policy: policy_overrides.Overrides | None = None  # operator's policy overrides


@dataclasses.dataclass(frozen=True)
class Deployment:
    """What the status needs to know of the unit besides the pass's findings."""

    paused: bool
    units: int  # masakari units in the application
    ha_related: bool
    clustered: bool  # hacluster said the cluster formed
    tls: bool  # the API is served over TLS


def summarise(topic: str, problems: Sequence[str], suffix: str = "") -> list[str]:
    """At most one status entry: the first problem and how many more there are (all logged)."""
    if not problems:
        return []
    more = f" (+{len(problems) - 1} more, see juju debug-log)" if len(problems) > 1 else ""
    for problem in problems:
        logger.warning("%s: %s", topic, problem)
    return [f"{topic}: {problems[0]}{more}{suffix}"]


def decide(
    cfg: MasakariConfig, outcome: Outcome, unit: Deployment, serving: Callable[[], str | None]
) -> ops.StatusBase:
    """The unit's status: the first thing wrong, else active.

    ``serving()`` says why the services do not serve (asked only when nothing before it
    is wrong: it may wait for a restarted service's ports).
    """

    def blocked() -> ops.StatusBase | None:
        return ops.BlockedStatus("; ".join(outcome.blocked)) if outcome.blocked else None

    def paused() -> ops.StatusBase | None:
        return ops.MaintenanceStatus(actions.PAUSED_MESSAGE) if unit.paused else None

    def waiting() -> ops.StatusBase | None:
        return ops.WaitingStatus("; ".join(outcome.waiting)) if outcome.waiting else None

    def clustered() -> ops.StatusBase | None:
        if unit.ha_related and cfg.wants_ha and not unit.clustered:
            return ops.WaitingStatus("ha: waiting for hacluster to form the cluster")
        return None

    status = first_failure(
        [
            blocked,
            paused,
            lambda: ha_problem(cfg, unit.units, unit.ha_related),
            waiting,
            clustered,
            lambda: _blocked(serving()),
        ]
    )
    if status is not None:
        return status
    upgrade = outcome.installed.upgrade_available
    if upgrade:
        return ops.ActiveStatus(
            f"Unit is ready (run openstack-upgrade for {upgrade}){outcome.warning}"
        )
    return ops.ActiveStatus(f"Unit is ready{outcome.registered}{outcome.warning}")


def ha_problem(cfg: MasakariConfig, n_units: int, has_ha: bool) -> ops.StatusBase | None:
    """What is wrong with the HA set-up: the units, the ha relation and vip/dns-ha."""
    if n_units > 1 and not (has_ha and cfg.wants_ha):
        return ops.BlockedStatus(
            f"{n_units} units without HA: relate to hacluster and set vip (or dns-ha)"
        )
    if has_ha and not cfg.wants_ha:
        return ops.BlockedStatus("ha relation needs vip or dns-ha to be set")
    if cfg.wants_ha and not has_ha:
        return ops.BlockedStatus("vip/dns-ha is set: relate masakari to hacluster")
    return None


def _blocked(problem: str | None) -> ops.StatusBase | None:
    return None if problem is None else ops.BlockedStatus(problem)
