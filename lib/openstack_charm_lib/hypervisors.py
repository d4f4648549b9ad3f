"""The masakari-host relation: each hypervisor tells masakari how to register it.

A masakari-monitors unit (one per nova-compute unit) publishes, in its unit data bag,
the host name its monitors report (which is also nova's compute host and the Pacemaker
node name), the failover segment the host belongs to and whether it is a reserved host.
The masakari leader reads every unit's bag into the desired registration state.
Keys: ``hostname``, ``segment``, ``reserved`` ("true"/"false"); raw strings. Each is
checked whole (no trailing line break slips past a pattern's ``$``) before it reaches
masakari; a bad one is a problem naming the unit and the field, shown cut short.
"""

from __future__ import annotations

import dataclasses
import re

import ops

from .network import is_hostname

# Masakari stores segment names in a String(255) column, and the API accepts 1-255
# printable characters without leading or trailing blanks.
_SEGMENT_NAME = re.compile(r"^\S(?:[^\x00-\x1f\x7f]{0,253}\S)?$")
KEYS = ("hostname", "segment", "reserved")


@dataclasses.dataclass(frozen=True)
class Hypervisor:
    """One hypervisor as its monitors unit wants it registered."""

    name: str
    segment: str
    reserved: bool


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
        for key in KEYS:
            bag.pop(key, None)
        return
    wanted = {
        "hostname": hypervisor.name,
        "segment": hypervisor.segment,
        "reserved": "true" if hypervisor.reserved else "false",
    }
    for key, value in wanted.items():
        if bag.get(key) != value:
            bag[key] = value


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
        wanted = Hypervisor(name, segment, reserved == "true")
        if name in hosts and hosts[name] != wanted:
            problems.append(
                f"{owners[name]} and {unit.name} both claim host {name} with different "
                "segment/reserved settings"
            )
            continue
        hosts[name] = wanted
        owners.setdefault(name, unit.name)
    return Desired(hosts, problems)
