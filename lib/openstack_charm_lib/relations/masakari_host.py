"""The masakari-host relation: each hypervisor tells masakari how to register it.

Both charms import this module: masakari-monitors publishes with :func:`publish`, the
masakari leader reads with :func:`read`. The protocol is versioned: each bag carries
``protocol-version`` (:data:`PROTOCOL_VERSION`; absent means 1, as from units older than
the key). A reader skips a unit that speaks a version it does not know, with a problem
saying which charm to upgrade, rather than guess at keys whose meaning may have changed.
A change that an older reader would misread takes a new version; a new optional key
that older readers may ignore does not.

A masakari-monitors unit (one per nova-compute unit) publishes, in its unit data bag,
the host name its monitors report (which is also nova's compute host and the Pacemaker
node name), the failover segment the host belongs to and whether it is a reserved host.
The masakari leader reads every unit's bag into the desired registration state.
Keys: ``hostname``, ``segment``, ``reserved`` ("true"/"false"); raw strings. Each is
checked whole (no trailing line break slips past a pattern's ``$``) before it reaches
masakari; a bad one is a problem naming the unit and the field, shown cut short.

Optional keys, for masakari to judge whether a recovery can succeed (absent: unknown,
as from units older than these keys; a bad one is a problem and reads as unknown, the
host is still registered):

- ``service-down-time``: nova-compute's ``[DEFAULT] service_down_time``, whole seconds.
- ``resume-guests-state-on-host-boot``: nova-compute's setting of that name, "true"/"false".
- ``detection-time``: seconds the host monitor takes to report a failed host
  (monitoring interval x samples); only sent while the host monitor is enabled.
"""

from __future__ import annotations

import dataclasses
import re

import ops

from .. import fields
from ..network import is_hostname

# Masakari stores segment names in a String(255) column, and the API accepts 1-255
# printable characters without leading or trailing blanks.
_SEGMENT_NAME = re.compile(r"^\S(?:[^\x00-\x1f\x7f]{0,253}\S)?$")
PROTOCOL_VERSION = 1
VERSION_KEY = "protocol-version"
KEYS = ("hostname", "segment", "reserved")
OPTIONAL_KEYS = ("service-down-time", "resume-guests-state-on-host-boot", "detection-time")
# Generous bound: a day. Larger numbers are a typo, not a setting.
MAX_SECONDS = 86400


@dataclasses.dataclass(frozen=True)
class Hypervisor:
    """One hypervisor as its monitors unit wants it registered."""

    name: str
    segment: str
    reserved: bool
    # Recovery facts, None when unknown. Not part of equality: they are not registration
    # settings, and two units claiming one host must agree only on those.
    service_down_time: int | None = dataclasses.field(default=None, compare=False)
    resume_guests_state_on_host_boot: bool | None = dataclasses.field(default=None, compare=False)
    detection_time: int | None = dataclasses.field(default=None, compare=False)


def valid_segment_name(name: str) -> bool:
    """Whether masakari accepts ``name`` as a segment name."""
    return isinstance(name, str) and name.isprintable() and bool(_SEGMENT_NAME.fullmatch(name))


def valid_hostname(name: str) -> bool:
    """Whether ``name`` is a host name, whole (no blank or line break around it)."""
    return (
        isinstance(name, str)
        and name.isprintable()
        and name == name.strip()
        and (is_hostname(name))
    )


def _shown(value: str) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def publish(relation: ops.Relation, unit: ops.Unit, hypervisor: Hypervisor | None) -> None:
    """Publish ``hypervisor`` in ``unit``'s bag; None withdraws it."""
    bag = relation.data[unit]
    if hypervisor is None:
        for key in (VERSION_KEY, *KEYS, *OPTIONAL_KEYS):
            bag.pop(key, None)
        return
    resume = hypervisor.resume_guests_state_on_host_boot
    wanted = {
        VERSION_KEY: str(PROTOCOL_VERSION),
        "hostname": hypervisor.name,
        "segment": hypervisor.segment,
        "reserved": "true" if hypervisor.reserved else "false",
        "service-down-time": _decimal(hypervisor.service_down_time),
        "resume-guests-state-on-host-boot": None if resume is None else str(resume).lower(),
        "detection-time": _decimal(hypervisor.detection_time),
    }
    for key, value in wanted.items():
        if value is None:
            bag.pop(key, None)
        elif bag.get(key) != value:
            bag[key] = value


def _decimal(number: int | None) -> str | None:
    return None if number is None else str(number)


def _optional(bag: ops.RelationDataContent, unit: str, problems: list[str]) -> dict:
    """The optional keys of ``bag`` as Hypervisor fields; a bad one is a problem, unknown."""
    found: dict[str, object] = {}
    for key in ("service-down-time", "detection-time"):
        raw = bag.get(key)
        if raw is None:
            continue
        number = fields.whole_number(raw, 1, MAX_SECONDS)
        if number is None:
            problems.append(f"{unit} sent {key}={_shown(raw)} (whole seconds, 1-{MAX_SECONDS})")
        found[key.replace("-", "_")] = number
    raw = bag.get("resume-guests-state-on-host-boot")
    if raw is not None:
        if raw not in ("true", "false"):
            problems.append(
                f"{unit} sent resume-guests-state-on-host-boot={_shown(raw)} (true or false)"
            )
        found["resume_guests_state_on_host_boot"] = {"true": True, "false": False}.get(raw)
    return found


def _version_problem(raw: str | None, unit: str) -> str | None:
    """Why ``unit``'s bag cannot be read at protocol version ``raw``; None when it can."""
    if raw is None:
        return None  # a unit from before the version key: version 1
    version = fields.whole_number(raw, 1, 10**6)
    if version is None:
        return f"{unit} sent {VERSION_KEY}={_shown(raw)} (a whole number)"
    if version > PROTOCOL_VERSION:
        return (
            f"{unit} speaks masakari-host protocol {version}, this masakari charm reads up "
            f"to {PROTOCOL_VERSION}: upgrade the masakari charm (juju refresh masakari)"
        )
    return None


@dataclasses.dataclass(frozen=True)
class Desired:
    """The hypervisors the related units want registered, and the bags that were wrong."""

    hosts: dict[str, Hypervisor]  # by host name
    problems: list[str]


def read(relations: list[ops.Relation]) -> Desired:
    """Every remote unit's hypervisor, over all ``relations``; units still silent are skipped."""
    hosts: dict[str, Hypervisor] = {}
    owners: dict[str, str] = {}
    problems: list[str] = []
    units = sorted(
        ((rel, unit) for rel in relations for unit in rel.units), key=lambda p: p[1].name
    )
    for rel, unit in units:
        bag = rel.data[unit]
        name = bag.get("hostname", "")
        if not name:
            continue
        version = _version_problem(bag.get(VERSION_KEY), unit.name)
        if version:
            problems.append(version)
            continue
        segment = bag.get("segment", "")
        reserved = bag.get("reserved", "false")
        if not valid_hostname(name):
            problems.append(f"{unit.name} sent an invalid hostname {_shown(name)}")
            continue
        if not valid_segment_name(segment):
            problems.append(f"{unit.name} sent an invalid segment name {_shown(segment)}")
            continue
        if reserved not in ("true", "false"):
            problems.append(f"{unit.name} sent reserved={_shown(reserved)} (true or false)")
            continue
        wanted = Hypervisor(
            name, segment, reserved == "true", **_optional(bag, unit.name, problems)
        )
        if name in hosts and hosts[name] != wanted:
            problems.append(
                f"{owners[name]} and {unit.name} both claim host {name} with different "
                "segment/reserved settings"
            )
            continue
        # The first claim's recovery facts stand, as its owner does.
        hosts.setdefault(name, wanted)
        owners.setdefault(name, unit.name)
    return Desired(hosts, problems)
