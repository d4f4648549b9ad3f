"""OpenStack and Ubuntu release tables, and parsing of ``openstack-origin``.

The tables cover yoga (2022.1) through the newest release. An origin names either
the distro archive, an Ubuntu Cloud Archive pocket, a PPA or a ``deb`` line; it is
parsed into an :class:`Origin` or rejected with a :class:`OriginError` whose message
names the value, so the charm can block on it instead of failing a hook.
:func:`upgrade_step` is the one rule saying what a changed origin asks of the machine.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import unicodedata
from urllib.parse import SplitResult, urlsplit, urlunsplit

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
    def display(self) -> str:
        """The value as statuses and logs may show it: no credentials, no key."""
        if self.kind != "deb":
            return self.value
        words = self.deb_line.split()
        return " ".join(redact_url(w) if "://" in w else w for w in words)

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
        return _deb_origin(value)
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


class Step(enum.Enum):
    """What a configured ``openstack-origin`` asks of the installed packages."""

    CURRENT = "current"  # it is the origin applied: nothing to do
    REPOINT = "repoint"  # a new origin for the release installed: apply it, upgrade nothing
    UPGRADE = "upgrade"  # another release, or one only the packages will tell
    DOWNGRADE = "downgrade"  # an older release than installed: refused


def upgrade_step(applied: str, origin: Origin, installed: str | None) -> Step:
    """The one upgrade rule, for the reconcile pass and the upgrade actions alike.

    ``applied`` is the origin value last applied to the machine, ``installed`` the
    release of the installed packages (None when not known).
    """
    if applied == origin.value:
        return Step.CURRENT
    target = origin.release
    if target and installed and release_index(target) < release_index(installed):
        return Step.DOWNGRADE
    if target is not None and target == installed:
        return Step.REPOINT
    return Step.UPGRADE


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unreadable URL>"
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname or ''}"
    netloc += f":{parts.port}" if _has_port(parts) else ""
    return urlunsplit(parts._replace(netloc=netloc))


def _has_port(parts: SplitResult) -> bool:
    try:
        return parts.port is not None
    except ValueError:
        return False


_ARMOUR_LINE = re.compile(r"[ -~]*")


def _deb_origin(value: str) -> Origin:
    """``deb [options] <url> <suite> <component>...[|<ASCII-armoured key>]``."""
    line, _, key = value.partition("|")
    line, key = line.strip(), key.strip()
    if any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in line):
        raise OriginError("openstack-origin: the deb line must be one line (key after '|')")
    words = line.split()
    urls = [w for w in words if "://" in w]
    shown = " ".join(redact_url(w) if "://" in w else w for w in words)
    if len(words) < 4 or len(urls) != 1 or not urls[0].startswith(("http://", "https://")):
        raise OriginError(
            f"openstack-origin {shown!r}: expected 'deb <http(s) url> <suite> <component>'"
        )
    try:
        parts = urlsplit(urls[0])
        valid_url = bool(parts.hostname) and (parts.port is None or parts.port > 0)
    except ValueError:  # a port that is not a number, an unbalanced IPv6 bracket
        valid_url = False
    if not valid_url:
        raise OriginError(f"openstack-origin {shown!r}: the URL has no valid host")
    if key and (
        not all(_ARMOUR_LINE.fullmatch(k) for k in key.splitlines())
        or not key.startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
        or not key.endswith("-----END PGP PUBLIC KEY BLOCK-----")
    ):
        raise OriginError(
            "openstack-origin: the key after '|' must be one ASCII-armoured public key "
            f"(got something of {len(key)} characters)"
        )
    return Origin("deb", None, value=value, deb_line=line, key=key)


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
