"""Where a masakari unit is reached: its addresses, the endpoint hosts, the certificate names.

Pure functions of the validated config and the unit's network bindings. The unit's
address on each endpoint type (public, internal, admin) comes from ``os-<type>-network``
when set, else from the endpoint's binding, else from the ``cluster`` binding; keystone
is told the configured host name, else the VIP in that address's network, else the
address itself (and the address alone while hacluster has not formed the cluster, since
the VIP or DNS record may not answer yet). Certificates cover the unit's FQDN with every
address and VIP, and each configured host name with its address and VIP.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from masakari_config import MasakariConfig
from openstack_charm_lib.network import (
    ENDPOINT_TYPES,
    Binding,
    address_in_network,
    format_host,
    interface_for,
)


def local_addresses(
    cfg: MasakariConfig, bindings: Mapping[str, Binding]
) -> tuple[dict[str, str], list[str]]:
    """The unit's address on each endpoint type, and the networks it has no address in."""
    cluster = bindings.get("cluster")
    fallback = cluster.ingress if cluster and cluster.ingress else None
    result: dict[str, str] = {}
    problems: list[str] = []
    for endpoint in ENDPOINT_TYPES:
        if endpoint in cfg.networks:
            found = address_in_network(cfg.networks[endpoint], bindings)
            if found is None:
                problems.append(
                    f"os-{endpoint}-network {cfg.networks[endpoint]}: "
                    "this unit has no address in it"
                )
                found = fallback
        else:
            binding = bindings.get(endpoint)
            found = binding.ingress if binding and binding.ingress else fallback
        if found:
            result[endpoint] = found
    return result, problems


def endpoint_hosts(
    cfg: MasakariConfig,
    bindings: Mapping[str, Binding],
    local: Mapping[str, str],
    ha_related: bool,
    clustered: bool,
) -> dict[str, str]:
    """The host of each endpoint URL keystone is given, bracketed when IPv6."""
    ha_active = ha_related and cfg.wants_ha
    clustered = ha_active and clustered
    hosts = {}
    for endpoint in ENDPOINT_TYPES:
        address = local.get(endpoint, "")
        if ha_active and not clustered:
            host = address
        elif endpoint in cfg.hostnames:
            host = cfg.hostnames[endpoint]
        elif clustered and cfg.vips:
            host = vip_for(address, cfg.vips, bindings)
        else:
            host = address
        hosts[endpoint] = format_host(host) if host else host
    return hosts


def certificate_requests(
    fqdn: str, cfg: MasakariConfig, bindings: Mapping[str, Binding], local: Mapping[str, str]
) -> dict[str, list[str]]:
    """The SANs of each certificate to ask vault for, by common name."""
    addresses = {b.ingress for b in bindings.values() if b.ingress} | set(local.values())
    requests = {fqdn: sorted(addresses | set(cfg.vips))}
    for endpoint, hostname in cfg.hostnames.items():
        sans = [local[endpoint]] if endpoint in local else []
        if cfg.vips and endpoint in local:
            sans.append(vip_for(local[endpoint], cfg.vips, bindings))
        requests[hostname] = sans
    return requests


def vip_for(address: str, vips: tuple[str, ...], bindings: Mapping[str, Binding]) -> str:
    """The VIP in the same network as ``address``, else the first VIP."""
    iface = interface_for(address, bindings) if address else None
    if iface is not None:
        network = ipaddress.ip_network(iface.cidr, strict=False)
        for vip in vips:
            ip = ipaddress.ip_address(vip)
            if ip.version == network.version and ip in network:
                return vip
    return vips[0]
