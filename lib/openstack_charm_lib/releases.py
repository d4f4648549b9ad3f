"""OpenStack and Ubuntu release tables, and parsing of ``openstack-origin``.

The tables cover yoga (2022.1) through the newest release. An origin names either
the distro archive, an Ubuntu Cloud Archive pocket, a PPA or a ``deb`` line; it is
parsed into an :class:`Origin` or rejected with a :class:`OriginError` whose message
names the value, so the charm can block on it instead of failing a hook.
"""

from __future__ import annotations

import dataclasses
import re

# Ordered oldest to newest; a release's index is its age.
OPENSTACK_RELEASES: tuple[str, ...] = (
    "yoga",  # 2022.1
    "zed",  # 2022.2
    "antelope",  # 2023.1
    "bobcat",  # 2023.2
    "caracal",  # 2024.1
    "dalmatian",  # 2024.2
    "epoxy",  # 2025.1
    "flamingo",  # 2025.2
    "gazpacho",  # 2026.1
    "hibiscus",  # 2026.2
)

# The release each Ubuntu series ships in its own archive ("distro").
SERIES_DISTRO_RELEASE: dict[str, str] = {
    "jammy": "yoga",  # 22.04
    "noble": "caracal",  # 24.04
    "resolute": "gazpacho",  # 26.04
}

# Cloud Archive pockets offered on each series. Each LTS gets the releases up to the
# next LTS's distro release: noble stops at gazpacho. resolute's hibiscus pocket follows
# that practice; it was not verified from here (a missing pocket makes the charm block
# with the apt error, naming openstack-origin).
CLOUD_ARCHIVE_POCKETS: dict[str, tuple[str, ...]] = {
    "jammy": ("zed", "antelope", "bobcat", "caracal"),
    "noble": ("dalmatian", "epoxy", "flamingo", "gazpacho"),
    "resolute": ("hibiscus",),
}

# Ubuntu series by version number, for messages and the support table.
SERIES_VERSIONS: dict[str, str] = {"jammy": "22.04", "noble": "24.04", "resolute": "26.04"}


def releases_on(series: str) -> tuple[str, ...]:
    """Every OpenStack release ``series`` can install, oldest first."""
    return (SERIES_DISTRO_RELEASE[series], *CLOUD_ARCHIVE_POCKETS[series])


def release_index(release: str) -> int:
    """Age of ``release``; raises KeyError for unknown names."""
    try:
        return OPENSTACK_RELEASES.index(release)
    except ValueError:
        raise KeyError(release) from None


def release_from_major_version(major: int, first_yoga_major: int) -> str | None:
    """Release of a project whose yoga release had major version ``first_yoga_major``.

    OpenStack projects bump their major version once per release, so the offset from
    yoga identifies the release (masakari 13 = yoga, 17 = caracal).
    """
    offset = major - first_yoga_major
    if 0 <= offset < len(OPENSTACK_RELEASES):
        return OPENSTACK_RELEASES[offset]
    return None


class OriginError(ValueError):
    """``openstack-origin`` cannot be used; the message says why."""


@dataclasses.dataclass(frozen=True)
class Origin:
    """A parsed ``openstack-origin`` value.

    ``kind`` is ``distro``, ``cloud``, ``ppa`` or ``deb``. ``release`` is the
    OpenStack release it installs, when that is known from the value alone (always for
    distro and cloud; never for ppa/deb, whose release is read from the packages).
    """

    kind: str
    release: str | None
    proposed: bool = False
    value: str = ""
    deb_line: str = ""
    key: str = ""

    @property
    def cloud_archive_name(self) -> str:
        """Argument for ``add-apt-repository`` (``cloud-archive:caracal[-proposed]``)."""
        return f"cloud-archive:{self.release}" + ("-proposed" if self.proposed else "")


_CLOUD = re.compile(r"^cloud:(?P<series>[a-z]+)-(?P<release>[a-z]+)(?:/(?P<pocket>[a-z]+))?$")
_BARE = re.compile(r"^(?P<release>[a-z]+)(?:/(?P<pocket>[a-z]+))?$")


def parse_origin(value: str, series: str) -> Origin:
    """Parse ``openstack-origin`` for a machine running Ubuntu ``series``.

    Accepted: ``distro``, ``distro-proposed``, ``<release>``, ``<release>/proposed``,
    ``cloud:<series>-<release>``, ``cloud:<series>-<release>/{updates,proposed}``,
    ``ppa:<owner>/<name>`` and ``deb <url> <suite> <components>|<key>``.
    """
    value = value.strip()
    if series not in SERIES_DISTRO_RELEASE:
        supported = ", ".join(f"{n} ({v})" for n, v in SERIES_VERSIONS.items())
        raise OriginError(f"Ubuntu series {series!r} is not supported (supported: {supported})")
    distro_release = SERIES_DISTRO_RELEASE[series]
    if value in ("", "distro"):
        return Origin("distro", distro_release, value="distro")
    if value == "distro-proposed":
        return Origin("distro", distro_release, proposed=True, value=value)
    if value.startswith("ppa:"):
        if not re.fullmatch(r"ppa:[\w.+-]+/[\w.+-]+", value):
            raise OriginError(f"openstack-origin {value!r}: expected ppa:<owner>/<archive>")
        return Origin("ppa", None, value=value)
    if value.startswith("deb "):
        line, _, key = value.partition("|")
        if len(line.split()) < 4:
            raise OriginError(
                f"openstack-origin {line.strip()!r}: expected 'deb <url> <suite> <component>'"
            )
        return Origin("deb", None, value=value, deb_line=line.strip(), key=key.strip())
    match = _CLOUD.match(value)
    if match:
        if match["series"] != series:
            raise OriginError(
                f"openstack-origin {value!r} is for {match['series']}, this machine runs {series}"
            )
        return _release_origin(value, series, match["release"], match["pocket"])
    match = _BARE.match(value)
    if match and match["release"] in OPENSTACK_RELEASES:
        return _release_origin(value, series, match["release"], match["pocket"])
    raise OriginError(f"openstack-origin {value!r} is not a known source")


def _release_origin(value: str, series: str, release: str, pocket: str | None) -> Origin:
    if release not in OPENSTACK_RELEASES:
        raise OriginError(f"openstack-origin {value!r}: unknown OpenStack release {release!r}")
    if pocket not in (None, "updates", "proposed"):
        raise OriginError(f"openstack-origin {value!r}: unknown pocket {pocket!r}")
    proposed = pocket == "proposed"
    if release == SERIES_DISTRO_RELEASE[series]:
        return Origin("distro", release, proposed=proposed, value=value)
    if release not in CLOUD_ARCHIVE_POCKETS[series]:
        offered = ", ".join(releases_on(series))
        raise OriginError(
            f"openstack-origin {value!r}: {release} is not available on {series} "
            f"(available: {offered})"
        )
    return Origin("cloud", release, proposed=proposed, value=value)
