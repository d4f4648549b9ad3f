"""The principal's side of the ``ha`` relation with the hacluster charm.

Builds the CRM resource document hacluster reads (JSON under ``json_<key>`` keys),
with the object names the reactive OpenStack charms used, so that existing
deployments upgrade in place: ``res_<svc>_<sha1(vip)[:7]>_vip``, ``grp_<svc>_vips``,
``res_<svc>_haproxy`` (``lsb:haproxy``) cloned as ``cl_res_<svc>_haproxy``, and
``res_<svc>_<ep>_hostname`` (``ocf:maas:dns``) grouped in ``grp_<svc>_hostnames``.

Changes converge under the way hacluster works: it creates groups and constraints only
when their name is absent from ``crm configure show`` (a substring search), never edits
them, and deletes what ``delete_resources`` names whenever that name appears anywhere.
Hence:

- The VIP group ``grp_<svc>_vips`` only ever holds the VIP set the unit first published
  (or the single VIP an earlier charm published): once the set changes, it is retired for
  good, because deleting it makes crmsh re-point its ``loc-grp_<svc>_vips-<node>``
  rules to a member, and those ids would hide a group of that name from hacluster's
  existence check forever after. Two or more VIPs are then bound by a colocation whose
  name is derived from its members (``col_<svc>_<sha1(members)[:7]>_vips``): a name
  always means the same members, so "create if absent" is right, and deleting a
  constraint leaves nothing behind that could hide it when that set comes back.
- Delete markers last: every name the unit ever published and no longer wants stays in
  ``delete_resources`` (a :class:`HaHistory` kept in the charm's stored state), so a
  bag revision hacluster never processed does not lose a deletion. A marker is never a
  substring of a wanted name (hacluster would stop and delete the wanted object on
  every pass).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

import ops

from .network import Binding, interface_for, is_ipv6
from .relations import Endpoint

_VIP_META = 'meta migration-threshold="INFINITY" failure-timeout="5s"'
_VIP_OP = 'op monitor timeout="20s" interval="10s" depth="0"'
_HAPROXY_PARAMS = (
    'meta migration-threshold="INFINITY" failure-timeout="5s" op monitor interval="5s"'
)
DNS_ENDPOINT_KEYS = {"public": "public", "internal": "int", "admin": "admin"}
COROSYNC_MCASTPORT = "4440"


@dataclasses.dataclass(frozen=True)
class HaSettings:
    """The charm configuration the ``ha`` payload depends on."""

    service: str
    vips: tuple[str, ...] = ()
    vip_iface: str = "eth0"
    vip_cidr: int = 24
    dns_ha: bool = False
    hostnames: Mapping[str, str] = dataclasses.field(default_factory=dict)
    # Address of this unit on each endpoint type, for DNS-HA records.
    endpoint_addresses: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class HaHistory:
    """What this unit published on the ``ha`` relation over its life (stored state).

    ``published``: every object name it ever defined (markers are those not wanted now).
    ``groups``: the groups of its last payload (a changed group is deleted once).
    ``legacy_vips``: the members of ``grp_<svc>_vips`` while that group is still in use;
    empty once retired (or never used).
    """

    published: frozenset[str] = frozenset()
    groups: Mapping[str, str] = dataclasses.field(default_factory=dict)
    legacy_vips: str = ""
    seeded: bool = False

    def dump(self) -> dict[str, Any]:
        """Plain data for the charm's stored state."""
        return {
            "published": sorted(self.published),
            "groups": dict(self.groups),
            "legacy_vips": self.legacy_vips,
        }

    @classmethod
    def load(
        cls, service: str, stored: Mapping[str, Any], previous: Mapping[str, str]
    ) -> HaHistory:
        """From stored state; on first use, from the bag an earlier charm published.

        Seeding from the bag keeps an upgraded deployment's pending deletions, and its
        VIP group when that holds a single VIP (:func:`_kept_legacy_group`).
        """
        if stored:
            return cls(
                published=frozenset(str(n) for n in stored.get("published", ())),
                groups={str(k): str(v) for k, v in dict(stored.get("groups", {})).items()},
                legacy_vips=str(stored.get("legacy_vips", "")),
                seeded=True,
            )
        resources = _decode(previous.get("json_resources"))
        groups = _decode(previous.get("json_groups"))
        deletes = _decode_list(previous.get("json_delete_resources"))
        names = {*resources, *groups, *deletes}
        return cls(
            published=frozenset(n for n in names if isinstance(n, str)),
            groups={k: v for k, v in groups.items() if isinstance(v, str)},
            legacy_vips=_kept_legacy_group(groups.get(legacy_vip_group_name(service))),
            seeded=bool(previous.get("json_resources")),
        )


def _kept_legacy_group(members: Any) -> str:
    """The members of an earlier charm's VIP group, if the group can stay.

    A group of one VIP stays (nothing to colocate, no restart on upgrade). A group of
    several is replaced by a colocation at once: under earlier charms a VIP change could
    leave that group deleted for good (its re-pointed rules hiding it from hacluster),
    with the VIPs apart; the colocation brings them together again.
    """
    if isinstance(members, str) and len(members.split()) == 1:
        return members
    return ""


def vip_resource_name(service: str, vip: str) -> str:
    """Name of the primitive holding ``vip``."""
    return f"res_{service}_{_digest(vip)}_vip"


def vip_colocation_name(service: str, members: Iterable[str]) -> str:
    """Name of the colocation binding a set of VIP primitives (derived from the set)."""
    return f"col_{service}_{_digest(' '.join(sorted(members)))}_vips"


def legacy_vip_group_name(service: str) -> str:
    """The VIP group's name in earlier charms (and for a unit's first VIP set)."""
    return f"grp_{service}_vips"


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:7]


def build_payload(
    settings: HaSettings, bindings: Mapping[str, Binding], history: HaHistory
) -> tuple[dict[str, str], HaHistory]:
    """The unit data bag to publish on the ``ha`` relation, and the history to store.

    ``history`` is what this unit published before (:meth:`HaHistory.load`).
    """
    svc = settings.service
    resources: dict[str, str] = {}
    params: dict[str, str] = {}
    groups: dict[str, str] = {}
    colocations: dict[str, str] = {}
    legacy_names = {f"res_{svc}_{settings.vip_iface}_vip"}

    vip_names = []
    for vip in settings.vips:
        name = vip_resource_name(svc, vip)
        vip_names.append(name)
        iface = interface_for(vip, bindings)
        if iface is not None:
            legacy_names.add(f"res_{svc}_{iface.name}_vip")
        key = "ipv6addr" if is_ipv6(vip) else "ip"
        resources[name] = "ocf:heartbeat:IPv6addr" if is_ipv6(vip) else "ocf:heartbeat:IPaddr2"
        fallback = (
            "" if iface else f' cidr_netmask="{settings.vip_cidr}" nic="{settings.vip_iface}"'
        )
        params[name] = f'params {key}="{vip}"{fallback} {_VIP_META} {_VIP_OP}'
    members = " ".join(sorted(vip_names))
    legacy_group = legacy_vip_group_name(svc)
    # A unit's first VIP set keeps the legacy group (as earlier charms published it).
    legacy_vips = history.legacy_vips if history.seeded else members
    if members and members == legacy_vips:
        groups[legacy_group] = members
    else:
        legacy_vips = ""  # retired for good: see the module docstring
        if len(vip_names) > 1:
            colocations[vip_colocation_name(svc, vip_names)] = f"inf: {members}"
    legacy_names.add(legacy_group)

    haproxy = f"res_{svc}_haproxy"
    resources[haproxy] = "lsb:haproxy"
    params[haproxy] = _HAPROXY_PARAMS
    clones = {f"cl_res_{svc}_haproxy": haproxy}

    if settings.dns_ha:
        dns_members = []
        for endpoint, key in DNS_ENDPOINT_KEYS.items():
            fqdn = settings.hostnames.get(endpoint)
            address = settings.endpoint_addresses.get(endpoint)
            if not fqdn or not address:
                continue
            name = f"res_{svc}_{key}_hostname"
            dns_members.append(name)
            resources[name] = "ocf:maas:dns"
            params[name] = f'params fqdn="{fqdn}" ip_address="{address}"'
        if dns_members:
            groups[f"grp_{svc}_hostnames"] = " ".join(dns_members)

    wanted = {*resources, *groups, *clones, *colocations}
    markers = (set(history.published) | legacy_names) - wanted
    delete = {m for m in markers if not _hides_wanted(m, wanted)}
    # A group redefined under the same name is deleted once, in the same message.
    delete.update(g for g, m in history.groups.items() if g in groups and groups[g] != m)

    payload = {
        "resources": resources,
        "resource_params": params,
        "groups": groups,
        "clones": clones,
        "init_services": ["haproxy"],
        # Constraints before groups before primitives (sorted: col_ < grp_ < res_).
        "delete_resources": sorted(delete),
        "ms": {},
        "orders": {},
        "colocations": colocations,
        "locations": {},
    }
    data = {f"json_{k}": json.dumps(v, sort_keys=True) for k, v in payload.items()}
    data["corosync_bindiface"] = settings.vip_iface
    data["corosync_mcastport"] = COROSYNC_MCASTPORT
    new_history = HaHistory(
        published=frozenset(history.published | wanted),
        groups=groups,
        legacy_vips=legacy_vips,
        seeded=True,
    )
    return data, new_history


def _hides_wanted(marker: str, wanted: Iterable[str]) -> bool:
    """Whether hacluster's substring test for ``marker`` would hit a wanted object."""
    return any(marker in name for name in wanted)


def _decode(value: str | None) -> dict[str, Any]:
    decoded = _loads(value)
    return decoded if isinstance(decoded, dict) else {}


def _decode_list(value: str | None) -> list[Any]:
    decoded = _loads(value)
    return decoded if isinstance(decoded, list) else []


def _loads(value: str | None) -> Any:
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def is_clustered(remote_unit_data: Mapping[str, str]) -> bool:
    """Whether one hacluster unit's data says the cluster formed (``yes``/``true``)."""
    return remote_unit_data.get("clustered", "").strip().lower() in ("yes", "true")


class Ha(Endpoint):
    """The unit's side of ``ha`` (interface ``hacluster``)."""

    def __init__(self, model: ops.Model, name: str = "ha"):
        super().__init__(model, name)

    @property
    def clustered(self) -> bool:
        """Whether an hacluster unit says the cluster formed."""
        rel = self.relation
        return rel is not None and any(is_clustered(rel.data[u]) for u in rel.units)

    def publish(
        self, settings: HaSettings, bindings: Mapping[str, Binding], stored: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Publish the payload for ``settings``; the history to store (None: not related).

        ``stored`` is what the last call returned (empty on first use).
        """
        rel = self.relation
        if rel is None:
            return None
        bag = rel.data[self.model.unit]
        history = HaHistory.load(settings.service, stored, dict(bag))
        data, history = build_payload(settings, bindings, history)
        bag.update(data)
        return history.dump()
