"""Each relation's endpoint object: publish writes only its own bag, read never raises."""

from __future__ import annotations

import json

import ops
from openstack_charm_lib import hacluster, tls
from openstack_charm_lib.relations import NotReady, Ready
from openstack_charm_lib.relations.amqp import Amqp, rabbitmq_answer
from openstack_charm_lib.relations.identity_credentials import (
    IdentityCredentials,
    credentials_answer,
)
from openstack_charm_lib.relations.identity_service import IdentityService, keystone_answer
from openstack_charm_lib.relations.shared_db import SharedDb, mysql_answer
from openstack_charm_testing.pki import pki
from ops import testing

META = {
    "name": "principal",
    "requires": {
        name: {"interface": name, "limit": 1}
        for name in ("shared-db", "amqp", "identity-service", "identity-credentials")
        + ("certificates", "ha")
    },
}
URLS = {"public": "http://p:1", "internal": "http://i:1", "admin": "http://a:1"}


class Principal(ops.CharmBase):
    """Publishes on every endpoint and keeps what each reader said."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        framework.observe(self.on.update_status, self._on_update)
        self.read: dict[str, Ready | NotReady] = {}
        self.history: dict | None = None

    def _on_update(self, _event: ops.EventBase) -> None:
        db, mq = SharedDb(self.model), Amqp(self.model)
        ks, creds = IdentityService(self.model), IdentityCredentials(self.model)
        db.publish("svc", "10.0.0.5")
        mq.publish("svc", "svc")
        ks.publish("svc", "RegionOne", URLS)
        creds.publish("svc", "services")
        endpoints = {"shared-db": db, "amqp": mq, "identity-service": ks}
        endpoints["identity-credentials"] = creds
        certificates = tls.Certificates(self.model)
        certificates.publish({"host.maas": ["10.0.0.5"]})
        self.read = {name: ep.read() for name, ep in endpoints.items()}
        self.read["certificates"] = certificates.read(["host.maas"])
        ha = hacluster.Ha(self.model)
        settings = hacluster.HaSettings(service="svc", vips=("10.0.0.100",))
        self.history = ha.publish(settings, {}, {})


def run(*relations: testing.Relation) -> tuple[Principal, testing.State]:
    ctx = testing.Context(Principal, meta=META)
    with ctx(ctx.on.update_status(), testing.State(relations=set(relations))) as mgr:
        out = mgr.run()
        return mgr.charm, out


def test_without_relations_nothing_is_published_and_each_reader_says_not_related():
    charm, out = run()
    assert not out.relations
    assert charm.read == {name: NotReady(f"{name}: not related") for name in charm.read}
    assert charm.history is None


def test_each_endpoint_publishes_its_request_in_its_own_bag():
    rels = {name: testing.Relation(name) for name in META["requires"]}
    charm, out = run(*rels.values())
    bags = {r.endpoint: r.local_unit_data for r in out.relations}
    assert bags["shared-db"]["database"] == "svc"
    assert bags["shared-db"]["hostname"] == "10.0.0.5"
    assert bags["amqp"]["vhost"] == "svc"
    assert bags["identity-service"]["admin_url"] == "http://a:1"
    assert bags["identity-credentials"]["project"] == "services"
    assert json.loads(bags["certificates"]["cert_requests"]) == {
        "host.maas": {"sans": ["10.0.0.5"]}
    }
    assert "res_svc_haproxy" in json.loads(bags["ha"]["json_resources"])
    assert charm.history is not None and "res_svc_haproxy" in charm.history["published"]
    assert all(isinstance(r, NotReady) and "waiting" in r.reason for r in charm.read.values())


def test_a_reader_names_the_field_another_application_got_wrong():
    db = testing.Relation(
        "shared-db",
        remote_units_data={
            0: {"db_host": "10.0.0.9\nx", "password": "pw", "allowed_units": "principal/0"}
        },
    )
    charm, _ = run(db)
    reason = charm.read["shared-db"]
    assert isinstance(reason, NotReady) and "db_host" in reason.reason


def test_ha_is_clustered_once_an_hacluster_unit_says_so():
    ha = testing.Relation("ha", remote_units_data={0: {"clustered": "yes"}})
    ctx = testing.Context(Principal, meta=META)
    with ctx(ctx.on.update_status(), testing.State(relations={ha})) as mgr:
        assert hacluster.Ha(mgr.charm.model).clustered
    with ctx(ctx.on.update_status(), testing.State(relations={testing.Relation("ha")})) as mgr:
        assert not hacluster.Ha(mgr.charm.model).clustered


def test_each_answer_builder_writes_what_its_reader_accepts():
    answers = {
        "shared-db": mysql_answer("pw/1", "principal/0", host="10.0.0.9", port=3307),
        "amqp": rabbitmq_answer("10.0.0.21", "mq-pw"),
        "identity-service": keystone_answer(
            "https://[fd00::10]:5000",
            "ks-pw",
            project_id="c0ffee",
            auth="http://10.0.0.11:35357",
            internal="http://10.1.0.10:5000",
        ),
        "identity-credentials": credentials_answer(
            "http://10.0.0.10:5000", "mon-pw", project_id="c0ffee", auth="http://10.0.0.11:35357"
        ),
    }
    rels = [testing.Relation(name, remote_units_data={0: data}) for name, data in answers.items()]
    charm, _ = run(*rels)
    db, mq = charm.read["shared-db"], charm.read["amqp"]
    ks, creds = charm.read["identity-service"], charm.read["identity-credentials"]
    assert isinstance(db, Ready) and isinstance(mq, Ready)
    assert isinstance(ks, Ready) and isinstance(creds, Ready)
    assert (db.info.host, db.info.port, db.info.password) == ("10.0.0.9", 3307, "pw/1")
    assert mq.info.transport_url("svc", "svc").startswith("rabbit://svc:mq-pw@10.0.0.21:")
    assert ks.info.url("service") == "https://[fd00::10]:5000"
    assert ks.info.url("auth") == "http://10.0.0.11:35357"
    assert ks.info.url("internal") == "http://10.1.0.10:5000"
    assert (ks.info.username, ks.info.password, ks.info.project) == (
        "masakari",
        "ks-pw",
        "services",
    )
    assert creds.info.auth_url == "http://10.0.0.11:35357/v3"
    assert creds.info.get("credentials_password") == "mon-pw"
    assert creds.info.get("region") == "RegionOne"


def test_the_vault_answer_builder_writes_what_the_certificates_reader_accepts():
    material = pki()
    issued = {"host.maas": {"cert": material["cert"], "key": material["key"]}}
    answer = tls.vault_answer("principal/0", issued, material["ca"], chain=material["ca"])
    assert set(answer) == {"ca", "chain", "principal_0.processed_requests"}
    charm, _ = run(testing.Relation("certificates", remote_units_data={0: answer}))
    read = charm.read["certificates"]
    assert isinstance(read, Ready)
    assert read.info.certificates["host.maas"].cert.startswith(material["cert"].strip())
    assert read.info.ca == material["ca"]
    assert "chain" not in tls.vault_answer("principal/0", issued, material["ca"])
