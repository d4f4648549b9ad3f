"""Property-based tests: arbitrary config and relation data never raise out of a hook."""

from __future__ import annotations

import tempfile

import charm
import ops
from conftest import PACKAGE_VERSIONS, SERVICE_PORTS, full_state, networks, stored
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openstack_charm_testing import FakeHost
from ops import testing

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
CONFIG = st.fixed_dictionaries(
    {},
    optional={
        "openstack-origin": st.one_of(
            TEXT, st.sampled_from(["distro", "caracal", "cloud:noble-epoxy", "dalmatian/proposed"])
        ),
        "vip": st.one_of(TEXT, st.sampled_from(["10.5.0.100", "2001:db8::1 10.5.0.100"])),
        "vip_cidr": st.integers(-5, 300),
        "vip_iface": TEXT,
        "dns-ha": st.booleans(),
        "os-public-hostname": TEXT,
        "os-internal-network": TEXT,
        "worker-multiplier": st.floats(allow_nan=True, allow_infinity=True),
        "config-flags": TEXT,
        "coordination-backend-url": TEXT,
        "region": TEXT,
        "evacuation-delay": st.integers(-10, 10**6),
        "haproxy-client-timeout": st.integers(-10, 10**6),
        "ssl_cert": TEXT,
        "ssl_key": TEXT,
        "ssl_ca": TEXT,
        "debug": st.booleans(),
        "use-internal-endpoints": st.booleans(),
    },
)
BAG = st.dictionaries(
    st.sampled_from(
        [
            "db_host",
            "db_port",
            "password",
            "allowed_units",
            "ssl_ca",
            "hostname",
            "ssl_port",
            "service_host",
            "service_port",
            "service_protocol",
            "auth_host",
            "auth_port",
            "auth_protocol",
            "service_tenant",
            "service_username",
            "service_password",
            "service_tenant_id",
            "clustered",
            "ca",
            "chain",
            "masakari_0.processed_requests",
            "private-address",
            "cluster-series-upgrading",
        ]
    ),
    TEXT,
    max_size=12,
)


def make_host():
    host = FakeHost(tempfile.mkdtemp(), available=PACKAGE_VERSIONS, service_ports=SERVICE_PORTS)
    host.installed.update(PACKAGE_VERSIONS)
    return host


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(config=CONFIG)
def test_any_config_gives_a_status_not_a_hook_error(monkeypatch, config):
    host = make_host()
    monkeypatch.setattr(charm.MasakariCharm, "_make_host", lambda self: host)
    ctx = testing.Context(charm.MasakariCharm)
    out = ctx.run(ctx.on.config_changed(), full_state(config=config))
    assert isinstance(out.unit_status, ops.StatusBase)
    assert out.unit_status.name in ("active", "blocked", "waiting", "maintenance")
    if out.unit_status.name == "blocked" and out.unit_status.message.startswith("Invalid config"):
        assert host.commands == []


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(db=BAG, mq=BAG, ks=BAG, certs=BAG, ha=BAG, peer=BAG)
def test_malformed_relation_data_never_raises(monkeypatch, db, mq, ks, certs, ha, peer):
    host = make_host()
    monkeypatch.setattr(charm.MasakariCharm, "_make_host", lambda self: host)
    ctx = testing.Context(charm.MasakariCharm)
    relations = [
        testing.Relation("shared-db", remote_units_data={0: db}),
        testing.Relation("amqp", remote_units_data={0: mq}),
        testing.Relation("identity-service", remote_units_data={0: ks}),
        testing.Relation("certificates", remote_units_data={0: certs}),
        testing.SubordinateRelation("ha", remote_unit_data=ha),
        testing.PeerRelation("cluster", peers_data={1: peer}),
    ]
    state = testing.State(
        leader=True,
        config={"vip": "10.5.0.100"},
        relations=relations,
        networks=networks(),
        stored_states=[stored()],
    )
    out = ctx.run(ctx.on.config_changed(), state)
    assert out.unit_status.name in ("active", "blocked", "waiting", "maintenance")
