"""The masakari units' peer relation, ``cluster``: what the units tell each other.

Each unit publishes its address on each endpoint type (``<endpoint>-address``), from
which every unit's haproxy lists every unit as a server. The application bag, written by
the leader, holds the release the database schema was migrated to
(``db-synced-release``) and the record of what automatic registration manages
(``registered-hosts``). A peer's addresses are input from another unit: one that is not
an IP address is a problem to report, never a haproxy server line.
"""

from __future__ import annotations

import masakari_workload as wl
import ops
from openstack_charm_lib import fields
from openstack_charm_lib.network import ENDPOINT_TYPES, Binding, interface_for, is_ip, is_ipv6

RELATION = "cluster"
DB_SYNC_KEY = "db-synced-release"
REGISTERED_KEY = "registered-hosts"
ADDRESS_KEYS = ("private-address", "ingress-address", *(f"{ep}-address" for ep in ENDPOINT_TYPES))


class Peers:
    """The ``cluster`` relation of this unit (absent before Juju creates it)."""

    def __init__(self, model: ops.Model):
        self._relation = model.get_relation(RELATION)
        self._unit = model.unit
        self._app = model.app

    @property
    def joined(self) -> bool:
        """Whether the relation exists (Juju creates it at install)."""
        return self._relation is not None

    def unit_count(self) -> int:
        """The units of the application, this one included."""
        return 1 + (len(self._relation.units) if self._relation else 0)

    def _peer_bags(self) -> list[tuple[str, ops.RelationDataContent]]:
        """Each other unit's name and bag, by name."""
        if self._relation is None:
            return []
        units = sorted(self._relation.units, key=lambda u: u.name)
        return [(u.name, self._relation.data[u]) for u in units]

    # -- addresses ------------------------------------------------------------------
    def publish_addresses(self, local: dict[str, str]) -> None:
        """Publish the unit's address on each endpoint type it has one on."""
        if self._relation is not None:
            self._relation.data[self._unit].update(
                {f"{ep}-address": addr for ep, addr in local.items()}
            )

    def address_problems(self) -> list[str]:
        """Peer addresses that are not IP addresses: they would be haproxy back ends."""
        return [
            fields.problem(RELATION, name, key, "an IP address")
            for name, data in self._peer_bags()
            for key in ADDRESS_KEYS
            if data.get(key) and not is_ip(data[key])
        ]

    def backends(
        self, bindings: dict[str, Binding], local: dict[str, str]
    ) -> tuple[wl.Backend, ...]:
        """Haproxy's back ends: one per distinct local address, every unit a server."""
        cluster = bindings.get(RELATION)
        own_private = cluster.ingress if cluster and cluster.ingress else local.get("internal", "")
        networks = [
            ("private", own_private),
            *((ep, local[ep]) for ep in ENDPOINT_TYPES if ep in local),
        ]
        me = self._unit.name.replace("/", "-")
        peers = self._peer_bags()
        backends = []
        seen: set[str] = set()
        for network, address in networks:
            if not address or address in seen:
                continue
            seen.add(address)
            servers = [(me, address), *_servers_on(network, peers)]
            iface = interface_for(address, bindings)
            cidr = iface.cidr if iface else f"{address}/{128 if is_ipv6(address) else 32}"
            backends.append(wl.Backend(address, cidr, tuple(servers)))
        return tuple(backends)

    # -- the leader's records ---------------------------------------------------------
    def synced_release(self) -> str | None:
        """The release the leader migrated the database schema to, if any."""
        return self._relation.data[self._app].get(DB_SYNC_KEY) if self._relation else None

    def record_synced(self, release: str) -> None:
        """The leader's word that the schema is that of ``release``."""
        assert self._relation is not None
        self._relation.data[self._app][DB_SYNC_KEY] = release

    def registration_record(self) -> str | None:
        """What automatic registration manages, as the leader last wrote it."""
        return self._relation.data[self._app].get(REGISTERED_KEY) if self._relation else None

    def record_registration(self, text: str) -> None:
        """The leader's record of what automatic registration now manages."""
        assert self._relation is not None
        self._relation.data[self._app][REGISTERED_KEY] = text


def _servers_on(
    network: str, peers: list[tuple[str, ops.RelationDataContent]]
) -> list[tuple[str, str]]:
    """The other units' (server name, address) on ``network`` ("private" or an endpoint)."""
    key = "private-address" if network == "private" else f"{network}-address"
    servers = []
    for name, data in peers:
        address = data.get(key) or (data.get("ingress-address") if network == "private" else None)
        if address:
            servers.append((name.replace("/", "-"), address))
    return servers
