"""The masakari unit's relations as one object: what a pass publishes on them and reads.

Each relation keeps its own module (its wire format, its reader, its share of the
status); this one puts them in the order a pass needs. The pass publishes this unit's
side of every relation first, database, queue and keystone requests, peer addresses,
certificate requests and the hacluster resources, so that a remote application
can answer even while this unit waits for others, and then reads the answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import addresses
import masakari_workload as wl
import ops
from masakari_config import MasakariConfig
from masakari_status import Deployment, Outcome
from openstack_charm_lib import hacluster, relations, tls
from openstack_charm_lib.network import ENDPOINT_TYPES, Binding
from openstack_charm_lib.relations.amqp import Amqp, Messaging
from openstack_charm_lib.relations.identity_service import IdentityService, Keystone
from openstack_charm_lib.relations.shared_db import Database, SharedDb
from openstack_charm_lib.status import join_names
from peers import Peers

Answers = tuple[Database, Messaging, Keystone]


class HaRecord(Protocol):
    """Where the unit keeps all it sent on ``ha`` (its stored state), to delete it later."""

    ha_history: dict[str, Any]  # a dumped openstack_charm_lib.hacluster.HaHistory


@dataclass(frozen=True)
class Tls:
    """The TLS a unit can serve with, from the options or from vault."""

    material: tls.TlsMaterial | None = None  # None: plain HTTP, or vault's answer is awaited
    awaited: bool = False  # certificates are asked of vault and not all are there yet


class MasakariRelations:
    """shared-db, amqp, identity-service, certificates, ha and the peers of one unit."""

    def __init__(self, model: ops.Model, peers: Peers, required: list[str], record: HaRecord):
        self._model = model
        self._record = record
        self.required = required  # the endpoints without which nothing can run
        self.peers = peers
        self.shared_db = SharedDb(model)
        self.amqp = Amqp(model)
        self.keystone = IdentityService(model)
        self.certificates = tls.Certificates(model)
        self.ha = hacluster.Ha(model)

    def _tls(self, cfg: MasakariConfig, fqdn: str, requests: list[str], outcome: Outcome) -> Tls:
        static = tls.read_static(cfg.ssl_cert, cfg.ssl_key, cfg.ssl_ca, fqdn)
        if isinstance(static, relations.Ready):
            return Tls(static.info)
        if not self.certificates.related:
            return Tls()
        state = self.certificates.read(requests)
        if isinstance(state, relations.NotReady):
            outcome.waiting.append(state.reason)
            return Tls(awaited=True)
        return Tls(state.info)

    def publish(
        self,
        cfg: MasakariConfig,
        bindings: dict[str, Binding],
        local: dict[str, str],
        fqdn: str,
        outcome: Outcome,
    ) -> Tls:
        """Publish this unit's side of every relation; the TLS the unit can serve with.

        What went to hacluster is recorded, so that a later pass can delete it.
        """
        cert_requests = addresses.certificate_requests(fqdn, cfg, bindings, local)
        served = self._tls(cfg, fqdn, list(cert_requests), outcome)
        db_addr = bindings.get("shared-db") or bindings.get("cluster")
        self.shared_db.publish(wl.SERVICE, (db_addr.ingress if db_addr else "") or "")
        self.amqp.publish(wl.SERVICE, wl.SERVICE)
        if self.keystone.related:
            protocol = "https" if served.material else "http"
            hosts = addresses.endpoint_hosts(
                cfg, bindings, local, self.ha.related, self.ha.clustered
            )
            urls = {ep: wl.endpoint_url(protocol, hosts[ep]) for ep in ENDPOINT_TYPES}
            self.keystone.publish(wl.SERVICE, cfg.region, urls)
        self.peers.publish_addresses(local)
        self.certificates.publish(cert_requests)
        settings = hacluster.HaSettings(
            service=wl.SERVICE,
            vips=cfg.vips,
            vip_iface=cfg.vip_iface,
            vip_cidr=cfg.vip_cidr,
            dns_ha=cfg.dns_ha,
            hostnames=cfg.hostnames,
            endpoint_addresses=local,
        )
        history = self.ha.publish(settings, bindings, dict(self._record.ha_history))
        if history is not None:
            self._record.ha_history = history
        return served

    def deployment(self, paused: bool, tls_on: bool) -> Deployment:
        """What the status needs of the application: its units, the cluster, TLS, pause."""
        return Deployment(
            paused=paused,
            units=self.peers.unit_count(),
            ha_related=self.ha.related,
            clustered=self.ha.clustered,
            tls=tls_on,
        )

    def keystone_info(self) -> Keystone | None:
        """The answer on identity-service from keystone, once it holds the service credentials."""
        answer = self.keystone.read()
        return answer.info if isinstance(answer, relations.Ready) else None

    def read(self, outcome: Outcome) -> Answers | None:
        """The database, queue and keystone answers; None, with the reason, until all are."""
        missing = [name for name in self.required if not self._model.relations[name]]
        if missing:
            outcome.blocked.append(f"Missing relations: {join_names(missing)}")
            return None
        db, mq, ks = self.shared_db.read(), self.amqp.read(), self.keystone.read()
        not_ready = [s.reason for s in (db, mq, ks) if isinstance(s, relations.NotReady)]
        if not_ready:
            outcome.waiting.extend(not_ready)
            return None
        assert isinstance(db, relations.Ready) and isinstance(mq, relations.Ready)
        assert isinstance(ks, relations.Ready)
        return db.info, mq.info, ks.info
