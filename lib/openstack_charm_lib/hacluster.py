"""The principal's side of the ``ha`` relation with the hacluster charm.

Builds the CRM resource document hacluster reads (JSON under ``json_<key>`` keys),
with the object names the reactive OpenStack charms used, so that existing
deployments upgrade in place: ``res_<svc>_<sha1(vip)[:7]>_vip``, ``grp_<svc>_vips``,
``res_<svc>_haproxy`` (``lsb:haproxy``) cloned as ``cl_res_<svc>_haproxy``, and
``res_<svc>_<ep>_hostname`` (``ocf:maas:dns``) grouped in ``grp_<svc>_hostnames``.

hacluster creates groups once and never edits them, so the VIP group is complete in
the first message, and a changed group is listed in ``delete_resources`` so that it is
recreated.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping

from .network import Binding, interface_for, is_ipv6

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


def vip_resource_name(service: str, vip: str) -> str:
    """Name of the primitive holding ``vip``."""
    return f"res_{service}_{hashlib.sha1(vip.encode()).hexdigest()[:7]}_vip"


def build_payload(
    settings: HaSettings, bindings: Mapping[str, Binding], previous: Mapping[str, str]
) -> dict[str, str]:
    """The unit data bag to publish on the ``ha`` relation.

    ``previous`` is what this unit published before; resources (and the VIP group) that
    it defined and that are now gone or changed are listed for deletion.
    """
    svc = settings.service
    resources: dict[str, str] = {}
    params: dict[str, str] = {}
    groups: dict[str, str] = {}
    delete: set[str] = {f"res_{svc}_{settings.vip_iface}_vip"}

    vip_names = []
    for vip in settings.vips:
        name = vip_resource_name(svc, vip)
        vip_names.append(name)
        iface = interface_for(vip, bindings)
        if iface is not None:
            delete.add(f"res_{svc}_{iface.name}_vip")
        key = "ipv6addr" if is_ipv6(vip) else "ip"
        resources[name] = "ocf:heartbeat:IPv6addr" if is_ipv6(vip) else "ocf:heartbeat:IPaddr2"
        fallback = (
            "" if iface else f' cidr_netmask="{settings.vip_cidr}" nic="{settings.vip_iface}"'
        )
        params[name] = f'params {key}="{vip}"{fallback} {_VIP_META} {_VIP_OP}'
    if vip_names:
        groups[f"grp_{svc}_vips"] = " ".join(sorted(vip_names))

    haproxy = f"res_{svc}_haproxy"
    resources[haproxy] = "lsb:haproxy"
    params[haproxy] = _HAPROXY_PARAMS
    clones = {f"cl_res_{svc}_haproxy": haproxy}

    if settings.dns_ha:
        members = []
        for endpoint, key in DNS_ENDPOINT_KEYS.items():
            fqdn = settings.hostnames.get(endpoint)
            address = settings.endpoint_addresses.get(endpoint)
            if not fqdn or not address:
                continue
            name = f"res_{svc}_{key}_hostname"
            members.append(name)
            resources[name] = "ocf:maas:dns"
            params[name] = f'params fqdn="{fqdn}" ip_address="{address}"'
        if members:
            groups[f"grp_{svc}_hostnames"] = " ".join(members)

    old_resources = _decode(previous.get("json_resources"))
    delete.update(name for name in old_resources if name not in resources)
    old_groups = _decode(previous.get("json_groups"))
    delete.update(g for g, members in old_groups.items() if groups.get(g) != members)
    delete.difference_update(resources)  # never delete what is being defined

    payload = {
        "resources": resources,
        "resource_params": params,
        "groups": groups,
        "clones": clones,
        "init_services": ["haproxy"],
        "delete_resources": sorted(delete),
        "ms": {},
        "orders": {},
        "colocations": {},
        "locations": {},
    }
    data = {f"json_{k}": json.dumps(v, sort_keys=True) for k, v in payload.items()}
    data["corosync_bindiface"] = settings.vip_iface
    data["corosync_mcastport"] = COROSYNC_MCASTPORT
    return data


def _decode(value: str | None) -> dict[str, str]:
    if not value:
        return {}
    try:
        decoded = json.loads(value)
    except ValueError:
        return {}
    return decoded if isinstance(decoded, dict) else {}


def is_clustered(remote_unit_data: Mapping[str, str]) -> bool:
    """Whether one hacluster unit's data says the cluster formed (``yes``/``true``)."""
    return remote_unit_data.get("clustered", "").strip().lower() in ("yes", "true")
