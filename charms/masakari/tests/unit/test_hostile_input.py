"""Relation data and options written to break the files: statuses name them, files hold.

Each case feeds one hostile field the way another application (or an operator) would
send it, and checks what matters to an operator: the status names the relation, unit
and field; the files on disk stay as the last good pass left them; and the real
oslo.config parser reads back exactly what the charm meant.
"""

from __future__ import annotations

import dataclasses

import masakari_workload as wl
import ops
import pytest
from conftest import (
    AMQP_UNITS,
    CA_PEM,
    CERT_PEM,
    DB_DATA,
    KEY_PEM,
    KEYSTONE_DATA,
    amqp_relation,
    db_relation,
    full_state,
    ha_relation,
    keystone_relation,
    peer_relation,
    synced,
)
from openstack_charm_lib import tls
from openstack_charm_testing.pki import pki
from ops import testing

INJECTION = "pw\ndebug = true\n[injected]\nkey = 1"


def with_relation(state: testing.State, new: testing.RelationBase) -> testing.State:
    others = [r for r in state.relations if r.endpoint != new.endpoint]
    return dataclasses.replace(state, relations=[*others, new])


def good_pass(ctx, host) -> testing.State:
    out = ctx.run(ctx.on.config_changed(), full_state(app_data=synced()))
    assert out.unit_status == ops.ActiveStatus("Unit is ready")
    return out


def snapshot(host) -> dict[str, str]:
    return {p: host.read_text(p) for p in (wl.MASAKARI_CONF, wl.HAPROXY_CFG)}


@pytest.mark.parametrize(
    ("relation", "field", "value", "expected"),
    [
        ("identity-service", "service_password", INJECTION, "single-line text"),
        ("identity-service", "service_password", "pw\rdebug = true", "single-line text"),
        ("identity-service", "service_username", "masakari\u2028x = 1", "single-line text"),
        ("identity-service", "service_host", "10.5.0.10/v3\nx", "a host name or IP address"),
        ("identity-service", "auth_host", "not a host", "a host name or IP address"),
        ("identity-service", "auth_protocol", "http\n", "http or https"),
        ("identity-service", "service_port", "²", "a port number"),
        ("identity-service", "service_domain", "d\x85x", "single-line text"),
        ("shared-db", "db_host", "10.5.0.30\n[database]", "a host name or IP address"),
        ("shared-db", "password", "db\npw", "single-line text"),
        ("shared-db", "db_port", "٣٣٠٦", "a port number"),
        ("amqp", "hostname", "10.5.0.21 x", "a host name or IP address"),
        ("amqp", "password", "mq\x0bpw", "single-line text"),
        ("amqp", "ssl_port", "99999", "a port number"),
    ],
)
def test_a_hostile_field_waits_naming_it_and_leaves_the_files(
    ctx, installed, relation, field, value, expected
):
    out = good_pass(ctx, installed)
    before = snapshot(installed)
    bad = {
        "identity-service": lambda: keystone_relation({**KEYSTONE_DATA, field: value}),
        "shared-db": lambda: db_relation({**DB_DATA, field: value}),
        "amqp": lambda: amqp_relation({0: {**AMQP_UNITS[0], field: value}}),
    }[relation]()
    out = ctx.run(ctx.on.relation_changed(bad), with_relation(out, bad))
    assert out.unit_status.name == "waiting"
    unit = f"{bad.remote_app_name}/0"
    assert out.unit_status.message == f"{relation}: {unit} sent an invalid {field} ({expected})"
    assert value not in out.unit_status.message
    assert snapshot(installed) == before


def test_bad_certificates_from_vault_wait_and_write_no_pem(ctx, installed):
    other = pki()["other_key"]
    cases = {
        "garbage": {"cert": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"},
        "stranger key": {"cert": CERT_PEM, "key": other},
        "a CA as key": {"cert": CERT_PEM, "key": CA_PEM},
    }
    for name, entry in cases.items():
        entry = {"key": KEY_PEM, **entry}
        answer = tls.vault_answer("masakari/0", {"juju-m-0.maas": entry}, CA_PEM)
        certs = testing.Relation(
            "certificates", remote_app_name="vault", remote_units_data={0: answer}
        )
        out = ctx.run(ctx.on.relation_changed(certs), full_state(extra=[certs], app_data=synced()))
        assert out.unit_status.name == "waiting", name
        assert "certificates: vault/0 sent an invalid certificate or key" in (
            out.unit_status.message
        ), name
        assert not installed.exists(wl.CHARM_CA), name
        assert not installed.exists(wl.SSL_DIR), name


def test_a_garbage_ca_from_vault_waits(ctx, installed):
    issued = {"juju-m-0.maas": {"cert": CERT_PEM, "key": KEY_PEM}}
    answer = tls.vault_answer("masakari/0", issued, "-----BEGIN CERTIFICATE-----")
    certs = testing.Relation(
        "certificates", remote_app_name="vault", remote_units_data={0: answer}
    )
    out = ctx.run(ctx.on.relation_changed(certs), full_state(extra=[certs], app_data=synced()))
    assert out.unit_status.message.startswith("certificates: vault/0 sent an invalid ca")
    assert not installed.exists(wl.CHARM_CA)


def test_a_peer_address_cannot_add_an_haproxy_server(ctx, installed):
    state = full_state(config={"vip": "10.5.0.100"}, extra=[ha_relation()], app_data=synced())
    out = ctx.run(ctx.on.config_changed(), state)
    assert out.unit_status == ops.ActiveStatus("Unit is ready")
    before = snapshot(installed)
    hostile = {"private-address": "10.5.0.51:15858 check\n    server other 192.0.2.1"}
    peers = peer_relation({1: hostile}, synced())
    out = ctx.run(ctx.on.relation_changed(peers), with_relation(out, peers))
    assert out.unit_status.name == "waiting"
    assert "cluster: masakari/1 sent an invalid private-address (an IP address)" in (
        out.unit_status.message
    )
    assert snapshot(installed) == before
    assert "192.0.2.1" not in installed.read_text(wl.HAPROXY_CFG)


def test_a_dollar_in_keystone_password_reads_back_unchanged(ctx, installed, tmp_path):
    cfg = pytest.importorskip("oslo_config.cfg")
    password = "pa$word${x}$$"
    ks = keystone_relation({**KEYSTONE_DATA, "service_password": password})
    state = with_relation(full_state(app_data=synced()), ks)
    out = ctx.run(ctx.on.config_changed(), state)
    assert out.unit_status == ops.ActiveStatus("Unit is ready")
    conf = cfg.ConfigOpts()
    conf.register_opt(cfg.StrOpt("password"), group="keystone_authtoken")
    conf.register_opt(cfg.StrOpt("os_privileged_user_password"))
    path = tmp_path / "masakari.conf"
    path.write_text(installed.read_text(wl.MASAKARI_CONF))
    conf(args=[], default_config_files=[str(path)])
    assert conf.keystone_authtoken.password == password
    assert conf.os_privileged_user_password == password


def test_a_failed_trust_store_update_keeps_the_restarts_for_the_next_hook(ctx, installed):
    issued = {"juju-m-0.maas": {"cert": CERT_PEM, "key": KEY_PEM}}
    answer = tls.vault_answer("masakari/0", issued, CA_PEM)
    certs = testing.Relation(
        "certificates", remote_app_name="vault", remote_units_data={0: answer}
    )
    installed.failing["update-ca-certificates"] = 1
    state = full_state(extra=[certs], app_data=synced())
    out = ctx.run(ctx.on.relation_changed(certs), state)
    assert out.unit_status.name == "blocked"
    assert "update-ca-certificates failed (exit 1)" in out.unit_status.message
    assert "apache2" not in installed.restarted()
    del installed.failing["update-ca-certificates"]
    installed.commands.clear()
    out = ctx.run(ctx.on.update_status(), out)
    assert installed.ran("update-ca-certificates")
    assert "apache2" in installed.restarted()
    assert out.unit_status == ops.ActiveStatus("Unit is ready")


def test_a_command_failing_anywhere_in_the_pass_is_a_status(ctx, installed):
    installed.failing["a2ensite"] = 2
    out = ctx.run(ctx.on.config_changed(), full_state(app_data=synced()))
    assert out.unit_status == ops.BlockedStatus(
        "a2ensite failed (exit 2); see juju debug-log; retrying on the next hook"
    )
