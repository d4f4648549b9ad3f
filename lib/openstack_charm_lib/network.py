"""Addresses of a unit on its bindings, and the address each endpoint advertises.

Juju's ``network-get`` data is first captured as plain :class:`Binding` values, so the
decisions (which address serves the public endpoint, which network a VIP lives in)
are pure functions that tests exercise without a model.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping

import ops

ENDPOINT_TYPES = ("public", "internal", "admin")


@dataclasses.dataclass(frozen=True)
class Interface:
    """One address of a binding: interface name, address and its network (CIDR)."""

    name: str
    address: str
    cidr: str


@dataclasses.dataclass(frozen=True)
class Binding:
    """What ``network-get`` says about one endpoint binding."""

    name: str
    ingress: str | None
    interfaces: tuple[Interface, ...] = ()


def read_bindings(model: ops.Model, names: Iterable[str]) -> dict[str, Binding]:
    """Capture the named bindings from the model; unknown or unreachable ones are skipped."""
    result: dict[str, Binding] = {}
    for name in names:
        try:
            binding = model.get_binding(name)
            network = binding.network if binding is not None else None
        except (ops.ModelError, KeyError):
            network = None
        if network is None:
            continue
        interfaces = tuple(
            Interface(iface.name, str(iface.address), str(iface.subnet))
            for iface in network.interfaces
            if iface.address is not None and iface.subnet is not None
        )
        ingress = str(network.ingress_address) if network.ingress_address else None
        result[name] = Binding(name, ingress, interfaces)
    return result


_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$"
)


def is_hostname(value: str) -> bool:
    """Whether ``value`` is a DNS host name (short or fully qualified)."""
    return bool(_HOSTNAME.fullmatch(value))


def is_ip(value: str) -> bool:
    """Whether ``value`` is an IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def is_ipv6(value: str) -> bool:
    """Whether ``value`` is an IPv6 address."""
    try:
        return ipaddress.ip_address(value).version == 6
    except ValueError:
        return False


def _network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return None


def _address(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(address)
    except ValueError:
        return None


def interface_for(address: str, bindings: Mapping[str, Binding]) -> Interface | None:
    """The local interface whose network contains ``address`` (e.g. a VIP), if any.

    An ``address`` that is not an IP address (a peer's bad data, a host name) is in no
    local network; so is an interface whose network Juju reported unreadably.
    """
    ip = _address(address)
    return _first_interface(bindings, lambda iface: _inside(ip, _network(iface.cidr)))


def address_in_network(cidr: str, bindings: Mapping[str, Binding]) -> str | None:
    """A local address inside ``cidr`` (the ``os-*-network`` options), if any."""
    network = _network(cidr)
    iface = _first_interface(bindings, lambda iface: _inside(_address(iface.address), network))
    return None if iface is None else iface.address


def _first_interface(
    bindings: Mapping[str, Binding], wanted: Callable[[Interface], bool]
) -> Interface | None:
    for binding in bindings.values():
        for iface in binding.interfaces:
            if wanted(iface):
                return iface
    return None


def _inside(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None,
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None,
) -> bool:
    """Whether ``ip`` is in ``network`` (neither missing, of one IP version)."""
    if ip is None or network is None or ip.version != network.version:
        return False
    return ip in network


def format_host(address: str) -> str:
    """``address`` as it goes in a URL (IPv6 in brackets)."""
    return f"[{address}]" if is_ipv6(address) else address
