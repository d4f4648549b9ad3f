"""The masakari packages on the unit: install, the install source, and release upgrades.

One rule (:func:`openstack_charm_lib.releases.upgrade_step`) decides, for the hook pass
and for the openstack-upgrade action alike, whether ``openstack-origin`` asks for an
upgrade, a downgrade (refused) or only a new source for the same release. The engine is
masked before any package operation that could start it: a new engine must not run
before the leader migrated the schema, and the packages' maintainer scripts start it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Protocol

import masakari_workload as wl
from openstack_charm_lib import apt, services
from openstack_charm_lib.actions import ActionRefusedError
from openstack_charm_lib.host import CommandError, Host
from openstack_charm_lib.releases import Origin, Step, upgrade_step

logger = logging.getLogger(__name__)


class OriginRecord(Protocol):
    """Where the charm keeps the ``openstack-origin`` it last applied (its stored state)."""

    applied_origin: str


@dataclasses.dataclass(frozen=True)
class Installed:
    """The packages after the pass: versions by package, the release, what is on offer."""

    versions: dict[str, str]
    release: str | None
    upgrade_available: str | None = None  # the release openstack-upgrade would move to


class Packages:
    """The masakari packages of one unit and the source they come from."""

    def __init__(self, host: Host, record: OriginRecord, progress: Callable[[str], None]):
        self.host = host
        self.record = record
        self.progress = progress  # shows a long operation in the unit's status

    def installed(self) -> tuple[dict[str, str], str | None]:
        """Installed versions by package, and the OpenStack release they make."""
        versions = apt.installed_versions(self.host, [*wl.PACKAGES, wl.VERSION_PACKAGE])
        return versions, wl.release_of(versions)

    def step(self, origin: Origin) -> tuple[Step, str | None]:
        """What ``origin`` asks of the installed release, and that release."""
        _, release = self.installed()
        return upgrade_step(str(self.record.applied_origin), origin, release), release

    def ensure(self, origin: Origin, action_managed: bool) -> Installed | str:
        """Install or upgrade as ``origin`` asks; a problem for the status when it cannot."""
        versions, release = self.installed()
        missing = [p for p in wl.PACKAGES if p not in versions]
        available = None
        try:
            if missing:
                self.progress("Installing packages")
                # Masked first, so that the package cannot start it on an empty schema.
                services.mask(self.host, wl.ENGINE)
                self.apply_origin(origin)
                apt.install(self.host, missing)
                versions, release = self.installed()
            else:
                step = upgrade_step(str(self.record.applied_origin), origin, release)
                if step is Step.DOWNGRADE:
                    return (
                        f"openstack-origin {origin.display} is older than the installed "
                        f"{release}: downgrades are not supported"
                    )
                if step is Step.UPGRADE and action_managed:
                    available = origin.release or origin.display
                elif step is Step.UPGRADE:
                    self.upgrade(origin)
                    versions, release = self.installed()
                elif step is Step.REPOINT:
                    self.apply_origin(origin)
        except CommandError as exc:
            logger.error("package operation failed: %s", exc)
            return f"Package operation failed ({exc}); retrying on the next hook"
        return Installed(versions, release, available)

    def apply_origin(self, origin: Origin) -> None:
        """Make ``origin`` the apt source, refreshing the index when it changed."""
        if apt.configure_origin(self.host, origin) or not self.record.applied_origin:
            apt.update(self.host)
        self.record.applied_origin = origin.value

    def upgrade(self, origin: Origin) -> str:
        """Move to the release of ``origin``; returns a summary."""
        _, before = self.installed()
        self.progress(f"Upgrading to {origin.release or origin.display}")
        services.mask(self.host, wl.ENGINE)
        self.apply_origin(origin)
        apt.upgrade(self.host, wl.PACKAGES)
        _, after = self.installed()
        logger.info("upgraded masakari from %s to %s", before, after)
        return f"upgraded from {before} to {after}"

    def origin_pending(self, origin: Origin) -> bool:
        """Whether ``origin`` is not yet the source the packages come from."""
        return str(self.record.applied_origin) != origin.value

    def openstack_upgrade(self, origin: Origin, action_managed: bool) -> tuple[str, bool]:
        """The openstack-upgrade action: what it did, and whether the release moved.

        Raises :class:`ActionRefusedError` when it may not run or apt fails.
        """
        if not action_managed:
            raise ActionRefusedError(
                "action-managed-upgrade is false: upgrades run when openstack-origin changes"
            )
        step, release = self.step(origin)
        if step in (Step.CURRENT, Step.REPOINT):
            return f"no upgrade available: {release} is installed", False
        if step is Step.DOWNGRADE:
            raise ActionRefusedError(f"openstack-origin {origin.display} is older than {release}")
        try:
            return self.upgrade(origin), True
        except CommandError as exc:
            raise ActionRefusedError(f"Upgrade failed: {exc}") from exc

    def package_upgrade(self, origin: Origin) -> str:
        """The package-upgrade action: newer packages of the installed release; what changed.

        Raises :class:`ActionRefusedError` while a release upgrade is pending or apt fails.
        """
        if self.origin_pending(origin):
            raise ActionRefusedError("A release upgrade is pending: run openstack-upgrade first")
        try:
            apt.update(self.host)
            changed = apt.upgrade_packages(self.host, wl.PACKAGES)
        except CommandError as exc:
            raise ActionRefusedError(f"Package upgrade failed: {exc}") from exc
        return "; ".join(changed) or "everything was up to date"
