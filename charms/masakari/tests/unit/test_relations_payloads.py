"""What the charm publishes on each relation, compared as the other side decodes it."""

from __future__ import annotations

import dataclasses
import json
import re

import masakari_workload as wl
import ops
from conftest import (
    CA_PEM,
    CERT_PEM,
    KEY_PEM,
    certificates_relation,
    full_state,
    ha_relation,
    network,
    synced,
)
from openstack_charm_lib import hacluster
from ops import testing

VIP = "10.5.0.100"
VIP_RES = "res_masakari_3d69a28_vip"


def rel(out, endpoint):
    return next(r for r in out.relations if r.endpoint == endpoint)


def decoded(data):
    return {k: json.loads(v) for k, v in data.items() if k.startswith("json_")}


def test_ha_payload_matches_the_old_charm_for_one_vip(ctx, installed):
    state = full_state(
        config={"vip": VIP}, extra=[ha_relation(clustered=False)], app_data=synced()
    )
    out = ctx.run(ctx.on.relation_joined(rel(state, "ha")), state)
    data = rel(out, "ha").local_unit_data
    assert decoded(data) == {
        "json_resources": {
            VIP_RES: "ocf:heartbeat:IPaddr2",
            "res_masakari_haproxy": "lsb:haproxy",
        },
        "json_resource_params": {
            VIP_RES: 'params ip="10.5.0.100" meta migration-threshold="INFINITY" '
            'failure-timeout="5s" op monitor timeout="20s" interval="10s" depth="0"',
            "res_masakari_haproxy": 'meta migration-threshold="INFINITY" failure-timeout="5s" '
            'op monitor interval="5s"',
        },
        "json_groups": {"grp_masakari_vips": VIP_RES},
        "json_clones": {"cl_res_masakari_haproxy": "res_masakari_haproxy"},
        "json_init_services": ["haproxy"],
        "json_delete_resources": ["res_masakari_eth0_vip"],
        "json_ms": {},
        "json_orders": {},
        "json_colocations": {},
        "json_locations": {},
    }
    assert data["corosync_bindiface"] == "eth0"
    assert data["corosync_mcastport"] == "4440"
    # The reactive charm named vip=10.5.100.1 res_masakari_242d562_vip.
    assert hacluster.vip_resource_name("masakari", "10.5.100.1") == "res_masakari_242d562_vip"


def test_ha_group_is_complete_in_the_first_message(ctx, installed):
    vips = "10.5.0.100 10.6.0.100"
    state = full_state(
        config={"vip": vips}, extra=[ha_relation(clustered=False)], app_data=synced()
    )
    out = ctx.run(ctx.on.relation_joined(rel(state, "ha")), state)
    groups = decoded(rel(out, "ha").local_unit_data)["json_groups"]
    assert len(groups["grp_masakari_vips"].split()) == 2
    params = decoded(rel(out, "ha").local_unit_data)["json_resource_params"]
    # 10.6.0.100 is outside every binding's network: it falls back to vip_iface/vip_cidr.
    outside = next(v for k, v in params.items() if "10.6.0.100" in v)
    assert 'cidr_netmask="24" nic="eth0"' in outside


def test_ha_ipv6_vip_uses_ipv6addr(ctx, installed):
    state = full_state(config={"vip": "2001:db8::10"}, extra=[ha_relation()], app_data=synced())
    out = ctx.run(ctx.on.config_changed(), state)
    data = decoded(rel(out, "ha").local_unit_data)
    name = next(k for k in data["json_resources"] if k.endswith("_vip"))
    assert data["json_resources"][name] == "ocf:heartbeat:IPv6addr"
    assert data["json_resource_params"][name].startswith('params ipv6addr="2001:db8::10"')


def test_changing_the_vip_deletes_the_old_resource_and_recreates_the_group(ctx, installed):
    state = full_state(config={"vip": VIP}, extra=[ha_relation()], app_data=synced())
    out = ctx.run(ctx.on.config_changed(), state)
    previous = rel(out, "ha").local_unit_data
    state2 = full_state(
        config={"vip": "10.5.0.101"}, extra=[ha_relation(local=dict(previous))], app_data=synced()
    )
    out2 = ctx.run(ctx.on.config_changed(), state2)
    data = decoded(rel(out2, "ha").local_unit_data)
    assert VIP_RES in data["json_delete_resources"]
    assert "grp_masakari_vips" in data["json_delete_resources"]
    assert VIP_RES not in data["json_resources"]


def test_dns_ha_publishes_maas_dns_records(ctx, installed):
    config = {"dns-ha": True, "os-public-hostname": "masakari.example.com"}
    out = ctx.run(
        ctx.on.config_changed(),
        full_state(config=config, extra=[ha_relation()], app_data=synced()),
    )
    data = decoded(rel(out, "ha").local_unit_data)
    assert data["json_resources"]["res_masakari_public_hostname"] == "ocf:maas:dns"
    assert data["json_resource_params"]["res_masakari_public_hostname"] == (
        'params fqdn="masakari.example.com" ip_address="10.5.0.50"'
    )
    assert data["json_groups"] == {"grp_masakari_hostnames": "res_masakari_public_hostname"}
    urls = rel(out, "identity-service").local_unit_data
    assert urls["public_url"] == "http://masakari.example.com:15868/v1/%(tenant_id)s"
    assert urls["internal_url"] == "http://10.5.0.50:15868/v1/%(tenant_id)s"


def test_keystone_request_uses_unit_address_until_clustered(ctx, installed):
    state = full_state(
        config={"vip": VIP}, extra=[ha_relation(clustered=False)], app_data=synced()
    )
    out = ctx.run(ctx.on.config_changed(), state)
    data = rel(out, "identity-service").local_unit_data
    assert data["service"] == "masakari"
    assert data["region"] == "RegionOne"
    assert data["public_url"] == "http://10.5.0.50:15868/v1/%(tenant_id)s"
    state = full_state(config={"vip": VIP}, extra=[ha_relation(clustered=True)], app_data=synced())
    out = ctx.run(ctx.on.config_changed(), state)
    data = rel(out, "identity-service").local_unit_data
    for kind in ("public", "internal", "admin"):
        assert data[f"{kind}_url"] == f"http://{VIP}:15868/v1/%(tenant_id)s"


def test_hostname_override_without_ha_is_used_directly(ctx, installed):
    config = {"os-admin-hostname": "masakari-admin.example.com", "region": "RegionTwo"}
    out = ctx.run(ctx.on.config_changed(), full_state(config=config, app_data=synced()))
    data = rel(out, "identity-service").local_unit_data
    assert data["admin_url"] == "http://masakari-admin.example.com:15868/v1/%(tenant_id)s"
    assert data["region"] == "RegionTwo"


def public_on_its_own_network():
    """Bindings where only the public one is on a separate network (192.168.1.0/24)."""
    same = [
        network(n, "10.5.0.50", "10.5.0.0/24")
        for n in ("cluster", "internal", "admin", "shared-db")
    ]
    return [*same, network("public", "192.168.1.50", "192.168.1.0/24", iface="eth1")]


def test_os_network_selects_the_address_in_that_network(ctx, installed):
    nets = public_on_its_own_network()
    state = full_state(config={"os-internal-network": "192.168.1.0/24"}, app_data=synced())
    state = dataclasses.replace(state, networks=nets)
    out = ctx.run(ctx.on.config_changed(), state)
    data = rel(out, "identity-service").local_unit_data
    assert data["internal_url"] == "http://192.168.1.50:15868/v1/%(tenant_id)s"
    assert data["public_url"] == "http://192.168.1.50:15868/v1/%(tenant_id)s"


def test_os_network_without_a_local_address_blocks(ctx, installed):
    out = ctx.run(
        ctx.on.config_changed(),
        full_state(config={"os-admin-network": "172.16.0.0/16"}, app_data=synced()),
    )
    assert out.unit_status == ops.BlockedStatus(
        "os-admin-network 172.16.0.0/16: this unit has no address in it"
    )


def test_shared_db_and_amqp_requests(ctx, installed):
    out = ctx.run(ctx.on.config_changed(), full_state(app_data=synced()))
    db = rel(out, "shared-db").local_unit_data
    assert {k: db[k] for k in ("database", "username", "hostname")} == {
        "database": "masakari",
        "username": "masakari",
        "hostname": "10.5.0.50",
    }
    amqp = rel(out, "amqp").local_unit_data
    assert (amqp["username"], amqp["vhost"]) == ("masakari", "masakari")


def test_certificates_request_and_https_endpoints(ctx, installed):
    config = {"os-public-hostname": "masakari.example.com", "vip": VIP}
    certs = certificates_relation(["juju-m-0.maas", "masakari.example.com"], chain=CA_PEM)
    state = full_state(config=config, extra=[certs, ha_relation()], app_data=synced())
    out = ctx.run(ctx.on.relation_changed(certs), state)
    request = rel(out, "certificates").local_unit_data
    assert request["unit_name"] == "masakari_0"
    assert json.loads(request["cert_requests"]) == {
        "juju-m-0.maas": {"sans": ["10.5.0.100", "10.5.0.50"]},
        "masakari.example.com": {"sans": ["10.5.0.100", "10.5.0.50"]},
    }
    urls = rel(out, "identity-service").local_unit_data
    assert urls["public_url"] == "https://masakari.example.com:15868/v1/%(tenant_id)s"
    assert urls["internal_url"] == f"https://{VIP}:15868/v1/%(tenant_id)s"
    cert_path, key_path = wl.certificate_paths("masakari.example.com")
    assert installed.read_text(cert_path) == CERT_PEM + CA_PEM
    assert installed.owner_of(key_path) == ("root", "root", 0o600)
    assert installed.read_text(wl.CHARM_CA) == CA_PEM
    assert installed.ran("update-ca-certificates")
    assert installed.exists("/etc/apache2/sites-enabled/charm-masakari-https.conf")
    site = installed.read_text("/etc/apache2/sites-available/charm-masakari-api.conf")
    assert "Listen 127.0.0.1:15848" in site
    frontend = installed.read_text("/etc/apache2/sites-available/charm-masakari-https.conf")
    assert "ServerName masakari.example.com" in frontend
    assert f"SSLCertificateKeyFile {key_path}" in frontend
    assert "check-ssl verify none" in installed.read_text(wl.HAPROXY_CFG)
    assert out.unit_status == ops.ActiveStatus("Unit is ready")


def test_certificates_pending_waits_and_advertises_http(ctx, installed):
    certs = certificates_relation(["other.maas"])
    out = ctx.run(ctx.on.config_changed(), full_state(extra=[certs], app_data=synced()))
    assert out.unit_status == ops.WaitingStatus(
        "certificates: waiting for a certificate for juju-m-0.maas"
    )
    assert rel(out, "identity-service").local_unit_data["public_url"].startswith("http://")


def test_unreadable_vault_answer_waits(ctx, installed):
    certs = testing.Relation(
        "certificates",
        remote_units_data={0: {"ca": CA_PEM, "masakari_0.processed_requests": "{not json"}},
    )
    out = ctx.run(ctx.on.config_changed(), full_state(extra=[certs], app_data=synced()))
    assert out.unit_status == ops.WaitingStatus(
        "certificates: remote/0 sent unreadable processed_requests (not a JSON object)"
    )


def test_static_ssl_options_take_precedence(ctx, installed):
    from conftest import b64

    config = {"ssl_cert": b64(CERT_PEM), "ssl_key": b64(KEY_PEM), "ssl_ca": b64(CA_PEM)}
    out = ctx.run(ctx.on.config_changed(), full_state(config=config, app_data=synced()))
    cert_path, _ = wl.certificate_paths("juju-m-0.maas")
    assert installed.read_text(cert_path) == CERT_PEM
    assert rel(out, "identity-service").local_unit_data["public_url"].startswith("https://")
    assert out.unit_status == ops.ActiveStatus("Unit is ready")


def test_removing_tls_disables_the_frontend(ctx, installed):
    from conftest import b64

    config = {"ssl_cert": b64(CERT_PEM), "ssl_key": b64(KEY_PEM)}
    out = ctx.run(ctx.on.config_changed(), full_state(config=config, app_data=synced()))
    assert installed.exists("/etc/apache2/sites-enabled/charm-masakari-https.conf")
    ctx.run(ctx.on.config_changed(), full_state(app_data=synced()))
    assert not installed.exists("/etc/apache2/sites-enabled/charm-masakari-https.conf")
    assert "apache2" in installed.restarted()
    del out


def test_package_site_is_disabled(ctx, installed):
    installed.write_file("/etc/apache2/sites-enabled/masakari-api.conf", "")
    ctx.run(ctx.on.config_changed(), full_state(app_data=synced()))
    assert installed.ran("a2dissite", "masakari-api")
    assert not installed.exists("/etc/apache2/sites-enabled/masakari-api.conf")


def test_haproxy_backends_include_every_peer(ctx, installed):
    peers = {1: {"private-address": "10.5.0.51"}, 2: {"ingress-address": "10.5.0.52"}}
    state = full_state(config={"vip": VIP}, extra=[ha_relation()], peers=peers, app_data=synced())
    out = ctx.run(ctx.on.config_changed(), state)
    cfg = installed.read_text(wl.HAPROXY_CFG)
    assert "bind *:15868" in cfg
    for unit, address in (
        ("masakari-0", "10.5.0.50"),
        ("masakari-1", "10.5.0.51"),
        ("masakari-2", "10.5.0.52"),
    ):
        assert f"server {unit} {address}:15858 check" in cfg
    # The statistics password is generated once (32 URL-safe characters) and then kept.
    assert re.search(r"^\s*stats auth admin:[A-Za-z0-9_-]{32}$", cfg, re.MULTILINE)
    assert installed.owner_of(wl.HAPROXY_CFG) == ("root", "haproxy", 0o640)
    ctx.run(ctx.on.update_status(), out)
    assert installed.read_text(wl.HAPROXY_CFG) == cfg


def test_haproxy_backend_per_network_with_acl(ctx, installed):
    nets = public_on_its_own_network()
    peers = {1: {"private-address": "10.5.0.51", "public-address": "192.168.1.51"}}
    state = full_state(config={"vip": VIP}, extra=[ha_relation()], peers=peers, app_data=synced())
    state = dataclasses.replace(state, networks=nets)
    ctx.run(ctx.on.config_changed(), state)
    cfg = installed.read_text(wl.HAPROXY_CFG)
    assert "acl net_192.168.1.50 dst 192.168.1.0/24" in cfg
    assert "use_backend masakari-api_192.168.1.50 if net_192.168.1.50" in cfg
    assert "default_backend masakari-api_10.5.0.50" in cfg
    assert "server masakari-1 192.168.1.51:15858 check" in cfg
