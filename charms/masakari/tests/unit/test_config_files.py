"""Rendered files: each option's effect, invalid options, and oslo-config-validator.

masakari.conf is validated against masakari's real option definitions.
"""

from __future__ import annotations

import ast
import configparser
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import masakari_workload as wl
import ops
import pytest
from conftest import (
    CA_PEM,
    CERT_PEM,
    DB_DATA,
    KEY_PEM,
    MASAKARI_PACKAGES,
    OPT_NAMESPACES,
    amqp_relation,
    b64,
    db_relation,
    full_state,
    synced,
)
from openstack_charm_lib.releases import OPENSTACK_RELEASES
from openstack_charm_lib.rendering import Renderer
from openstack_charm_testing.pki import pki
from ops import testing


def render(ctx, host, config=None, **kw) -> tuple[configparser.ConfigParser, testing.State]:
    out = ctx.run(
        ctx.on.config_changed(), full_state(config=config or {}, app_data=synced(), **kw)
    )
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(host.read_text(wl.MASAKARI_CONF))
    return parser, out


def test_defaults(ctx, installed):
    conf, out = render(ctx, installed)
    d = conf["DEFAULT"]
    assert d["debug"] == "false"
    assert d["auth_strategy"] == "keystone"
    assert d["transport_url"] == (
        "rabbit://masakari:mq-secret-pw@10.5.0.20:5672,masakari:mq-secret-pw@10.5.0.21:5672/masakari"
    )
    assert d["os_region_name"] == "RegionOne"
    assert d["os_privileged_user_name"] == "masakari"
    assert d["os_privileged_user_tenant"] == "services"
    assert d["os_privileged_user_auth_url"] == "http://10.5.0.10:5000/v3"
    assert d["os_user_domain_name"] == d["os_project_domain_name"] == "service_domain"
    assert d["nova_catalog_admin_info"] == "compute:nova:publicURL"
    assert d["wait_period_after_service_update"] == "60"
    assert d["notifications_expired_interval"] == "86400"
    assert d["check_expired_notifications_interval"] == "600"
    assert "nova_ca_certificates_file" not in d
    ks = conf["keystone_authtoken"]
    assert ks["www_authenticate_uri"] == "http://10.5.0.10:5000/v3"
    assert ks["auth_url"] == "http://10.5.0.11:35357/v3"
    assert ks["service_type"] == "instance-ha"
    assert ks["memcached_servers"] == "127.0.0.1:11211"
    assert "auth_uri" not in ks
    assert conf["oslo_middleware"]["enable_proxy_headers_parsing"] == "true"
    assert conf["host_failure"]["evacuate_all_instances"] == "true"
    assert not conf.has_section("coordination")
    assert not conf.has_section("oslo_messaging_rabbit")
    site = installed.read_text(f"/etc/apache2/sites-available/{wl.WSGI_SITE}.conf")
    assert "processes=4 threads=1" in site  # 4 cpus -> 2x capped at 4
    # Apache serves the charm's own WSGI entry, never a script a package may drop.
    assert f"WSGIScriptAlias / {wl.WSGI_SCRIPT}" in site
    assert f"<Directory {wl.WSGI_DIR}>" in site
    assert "/usr/bin" not in site
    assert installed.owner_of(wl.WSGI_SCRIPT) == ("root", "root", 0o644)
    entry = installed.read_text(wl.WSGI_SCRIPT)
    assert "masakari 17" not in entry and "for masakari caracal" in entry
    haproxy = installed.read_text(wl.HAPROXY_CFG)
    for line in (
        "timeout queue 9000",
        "timeout connect 9000",
        "timeout client 90000",
        "timeout server 90000",
    ):
        assert line in haproxy
    memcached = installed.read_text(wl.MEMCACHED_CONF)
    assert "-l 127.0.0.1" in memcached and "-p 11211" in memcached


@pytest.mark.parametrize(
    ("option", "value", "section", "key", "expected"),
    [
        ("debug", True, "DEFAULT", "debug", "true"),
        ("evacuation-delay", 120, "DEFAULT", "wait_period_after_service_update", "120"),
        ("evacuate-all-instances", False, "host_failure", "evacuate_all_instances", "false"),
        ("notification-expiration", 3600, "DEFAULT", "notifications_expired_interval", "3600"),
        ("check-expired-interval", 60, "DEFAULT", "check_expired_notifications_interval", "60"),
        ("region", "RegionTwo", "DEFAULT", "os_region_name", "RegionTwo"),
        ("region", "RegionTwo", "keystone_authtoken", "region_name", "RegionTwo"),
        (
            "use-internal-endpoints",
            True,
            "DEFAULT",
            "nova_catalog_admin_info",
            "compute:nova:internalURL",
        ),
        (
            "use-internal-endpoints",
            True,
            "DEFAULT",
            "os_privileged_user_auth_url",
            "http://10.6.0.10:5000/v3",
        ),
        (
            "coordination-backend-url",
            "etcd3+http://10.5.0.9:2379",
            "coordination",
            "backend_url",
            "etcd3+http://10.5.0.9:2379",
        ),
    ],
)
def test_option_effect_on_masakari_conf(ctx, installed, option, value, section, key, expected):
    conf, _ = render(ctx, installed, {option: value})
    assert conf[section][key] == expected


def test_config_flags_are_section_aware_and_win(ctx, installed):
    flags = "verify_interval=5,host_failure/service_disable_reason=masakari: down\ndebug=true"
    conf, out = render(ctx, installed, {"config-flags": flags})
    assert conf["DEFAULT"]["verify_interval"] == "5"
    assert conf["host_failure"]["service_disable_reason"] == "masakari: down"
    assert conf["DEFAULT"]["debug"] == "true"
    assert out.unit_status == ops.ActiveStatus("Unit is ready")


@pytest.mark.parametrize(("multiplier", "processes"), [(None, 4), (0.25, 1), (1.0, 4), (2.5, 10)])
def test_worker_multiplier(ctx, installed, multiplier, processes):
    render(ctx, installed, {} if multiplier is None else {"worker-multiplier": multiplier})
    site = installed.read_text(f"/etc/apache2/sites-available/{wl.WSGI_SITE}.conf")
    assert f"processes={processes} threads=1" in site


@pytest.mark.parametrize("kind", ["server", "client", "queue", "connect"])
def test_haproxy_timeouts(ctx, installed, kind):
    render(ctx, installed, {f"haproxy-{kind}-timeout": 4242})
    assert f"timeout {kind} 4242" in installed.read_text(wl.HAPROXY_CFG)


def test_rabbit_and_database_tls_cas(ctx, installed):
    units = {
        0: {"hostname": "10.5.0.21", "password": "pw", "ssl_port": "5671", "ssl_ca": b64(CA_PEM)}
    }
    db = db_relation({**DB_DATA, "ssl_ca": b64(CA_PEM)})
    state = full_state(app_data=synced())
    rels = [r for r in state.relations if r.endpoint not in ("amqp", "shared-db")]
    state = testing.State(
        leader=True,
        relations=[*rels, amqp_relation(units), db],
        networks=state.networks,
        stored_states=state.stored_states,
    )
    ctx.run(ctx.on.config_changed(), state)
    conf = configparser.ConfigParser(interpolation=None)
    conf.read_string(installed.read_text(wl.MASAKARI_CONF))
    assert conf["DEFAULT"]["transport_url"] == "rabbit://masakari:pw@10.5.0.21:5671/masakari"
    assert conf["oslo_messaging_rabbit"]["ssl"] == "true"
    assert conf["oslo_messaging_rabbit"]["ssl_ca_file"] == wl.RABBIT_CA
    assert installed.read_text(wl.RABBIT_CA) == CA_PEM
    assert conf["database"]["connection"].endswith(f"&ssl_ca={wl.DB_CA}")
    assert installed.read_text(wl.DB_CA) == CA_PEM


def test_https_keystone_sets_ca_files(ctx, installed):
    from conftest import KEYSTONE_DATA, keystone_relation

    state = full_state(app_data=synced())
    rels = [r for r in state.relations if r.endpoint != "identity-service"]
    rels.append(
        keystone_relation({**KEYSTONE_DATA, "service_protocol": "https", "auth_protocol": "https"})
    )
    ctx.run(
        ctx.on.config_changed(),
        testing.State(
            leader=True, relations=rels, networks=state.networks, stored_states=state.stored_states
        ),
    )
    conf = configparser.ConfigParser(interpolation=None)
    conf.read_string(installed.read_text(wl.MASAKARI_CONF))
    assert conf["keystone_authtoken"]["cafile"] == wl.SYSTEM_CA_BUNDLE
    assert conf["DEFAULT"]["nova_ca_certificates_file"] == wl.SYSTEM_CA_BUNDLE
    assert conf["keystone_authtoken"]["www_authenticate_uri"].startswith("https://")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"openstack-origin": "cloud:jammy-caracal"}, "is for jammy, this machine runs noble"),
        ({"openstack-origin": "cloud:noble-zed"}, "zed is not available on noble"),
        ({"openstack-origin": "kilo"}, "openstack-origin 'kilo' is not a known source"),
        ({"openstack-origin": "ppa:bad"}, "expected ppa:<owner>/<archive>"),
        ({"openstack-origin": "deb http://x"}, "expected 'deb <http(s) url> <suite> <component>'"),
        (
            {"openstack-origin": "deb http://h/x noble main\ndeb http://evil/ noble main"},
            "the deb line must be one line",
        ),
        (
            {"openstack-origin": "deb http://h/x noble main|-----BEGIN PGP PUBLIC KEY BLOCK-----"},
            "must be one ASCII-armoured public key",
        ),
        ({"vip": "10.0.0.300"}, "vip '10.0.0.300' is not an IP address"),
        ({"vip": "10.0.0.1 10.0.0.1"}, "vip lists the same address twice"),
        (
            {"vip": "10.0.0.1", "dns-ha": True, "os-public-hostname": "a.b"},
            "vip and dns-ha cannot be used together",
        ),
        ({"dns-ha": True}, "dns-ha needs at least one of"),
        ({"vip_cidr": 200}, "vip_cidr 200 is not a netmask length"),
        ({"vip_iface": "eth 0"}, "vip_iface 'eth 0' is not an interface name"),
        ({"os-public-network": "10.0.0.0/33"}, "os-public-network '10.0.0.0/33' is not a CIDR"),
        (
            {"os-public-hostname": "bad_host!"},
            "os-public-hostname 'bad_host!' is not a valid host name",
        ),
        ({"worker-multiplier": -1.0}, "worker-multiplier must be > 0"),
        ({"config-flags": "no equals sign"}, "config-flags: cannot parse entry 1;"),
        (
            {"config-flags": "debug=false\rdebug=true"},
            "config-flags: cannot parse entry 1 ('debug')",
        ),
        ({"coordination-backend-url": "etcd"}, "coordination-backend-url must be a tooz URL"),
        ({"region": ""}, "region '' must be a name of letters"),
        ({"region": "RegionOne\rdebug=true"}, "region 'RegionOne\\rdebug=true' must be a name"),
        ({"ssl_cert": b64(CA_PEM)}, "ssl_cert and ssl_key must be set together"),
        ({"ssl_cert": "!!", "ssl_key": "!!"}, "ssl_cert is not base64-encoded PEM"),
        (
            {"ssl_cert": b64("-----BEGIN CERTIFICATE-----\nabc\n"), "ssl_key": b64(KEY_PEM)},
            "ssl_cert and ssl_key: no CERTIFICATE block",
        ),
        (
            {"ssl_cert": b64(CERT_PEM), "ssl_key": b64(pki()["other_key"])},
            "ssl_cert and ssl_key: the key does not belong to the certificate",
        ),
        (
            {"ssl_cert": b64(CERT_PEM), "ssl_key": b64(KEY_PEM), "ssl_ca": b64(KEY_PEM)},
            "ssl_ca: no CERTIFICATE block",
        ),
        ({"evacuation-delay": -5}, "evacuation-delay must be a whole number >= 0"),
        ({"haproxy-server-timeout": 0}, "haproxy-server-timeout must be a whole number >= 1"),
        ({"haproxy-client-timeout": 10**12}, "haproxy-client-timeout must be at most 86400000"),
    ],
)
def test_invalid_config_blocks_naming_the_option_and_changes_nothing(
    ctx, installed, config, message
):
    out = ctx.run(ctx.on.config_changed(), full_state(config=config, app_data=synced()))
    assert out.unit_status.name == "blocked"
    assert out.unit_status.message.startswith("Invalid config: ")
    assert message in out.unit_status.message
    assert not installed.exists(wl.MASAKARI_CONF)
    assert installed.commands == []


# -- validation against the real masakari option definitions --------------------------

VALIDATOR = shutil.which("oslo-config-validator", path=str(Path(sys.executable).parent))


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    assert VALIDATOR, "oslo-config-validator (masakari from PyPI) must be in the test env"
    argv = [VALIDATOR, "--input-file", str(path)]
    for ns in OPT_NAMESPACES:
        argv += ["--namespace", ns]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


RICH_CONFIG = {
    "debug": True,
    "use-internal-endpoints": True,
    "coordination-backend-url": "etcd3+http://10.5.0.9:2379",
    "config-flags": "verify_interval=2,host_failure/service_disable_reason=masakari",
    "host-failure-recovery-threads": 8,
    "ignore-instances-in-error-state": True,
    "add-reserved-host-to-aggregate": True,
    "host-failure-metadata-key": "ha:host",
    "process-all-instances": True,
    "instance-failure-metadata-key": "ha:instance",
    "wait-after-evacuation": 300,
    "wait-after-power-off": 30,
    "wait-after-power-on": 20,
    "duplicate-notification-interval": 0,
}


@pytest.mark.parametrize("config", [{}, RICH_CONFIG], ids=["defaults", "every-option"])
def test_rendered_masakari_conf_passes_oslo_config_validator(ctx, installed, config, tmp_path):
    units = {0: {"hostname": "10.5.0.21", "password": "pw", "ssl_ca": b64(CA_PEM)}}
    state = full_state(config=config, app_data=synced())
    rels = [r for r in state.relations if r.endpoint != "amqp"] + [amqp_relation(units)]
    certs = {"ssl_cert": b64(CERT_PEM), "ssl_key": b64(KEY_PEM)}
    state = testing.State(
        leader=True,
        config={**config, **certs},
        relations=rels,
        networks=state.networks,
        stored_states=state.stored_states,
    )
    ctx.run(ctx.on.config_changed(), state)
    target = tmp_path / "masakari.conf"
    target.write_text(installed.read_text(wl.MASAKARI_CONF))
    result = validate(target)
    assert result.returncode == 0, result.stdout + result.stderr


def test_validator_rejects_a_misspelled_flag(ctx, installed, tmp_path):
    render(ctx, installed, {"config-flags": "host_failure/evacuate_all_instancez=true"})
    target = tmp_path / "masakari.conf"
    target.write_text(installed.read_text(wl.MASAKARI_CONF))
    result = validate(target)
    assert result.returncode != 0
    assert "host_failure/evacuate_all_instancez" in result.stdout + result.stderr


RELEASE_OF_MAJOR = {13 + i: r for i, r in enumerate(OPENSTACK_RELEASES)}


@pytest.mark.parametrize(("major", "release"), sorted(RELEASE_OF_MAJOR.items()))
def test_wsgi_entry_per_release_imports_what_that_release_has(major, release):
    """Module path from flamingo (masakari 20) on, the application factory before."""
    entry = wl.wsgi_entry(release, Renderer(wl.TEMPLATES))
    compile(entry, wl.WSGI_SCRIPT, "exec")  # valid Python, as mod_wsgi will load it
    tree = ast.parse(entry)
    imported = {
        (node.module, alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    if major >= 20:
        assert imported == {("masakari.wsgi.api", "application")}
    else:
        assert imported == {("masakari.cmd.api", "initialize_application")}
        assert "application = initialize_application()" in entry
    assert f"for masakari {release}" in entry
    assert 'os.environ.setdefault("OS_MASAKARI_CONFIG_DIR", "/etc/masakari")' in entry


def test_wsgi_entry_of_an_unknown_release_uses_the_factory_every_release_has():
    entry = wl.wsgi_entry(None, Renderer(wl.TEMPLATES))
    assert "from masakari.cmd.api import initialize_application" in entry
    assert "masakari.wsgi.api" not in entry


def test_wsgi_entry_reads_the_config_dir_it_names(tmp_path, monkeypatch):
    """Executed as mod_wsgi would: argv names masakari.conf of OS_MASAKARI_CONFIG_DIR."""
    fake = tmp_path / "masakari" / "wsgi"
    fake.mkdir(parents=True)
    (tmp_path / "masakari" / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("")
    (fake / "api.py").write_text("import sys\napplication = ('app', tuple(sys.argv))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "argv", ["mod_wsgi"])
    monkeypatch.setenv("OS_MASAKARI_CONFIG_DIR", "/srv/conf")
    for name in ("masakari", "masakari.wsgi", "masakari.wsgi.api"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    entry = tmp_path / "masakari-api.wsgi"
    entry.write_text(wl.wsgi_entry("gazpacho", Renderer(wl.TEMPLATES)))
    namespace = runpy.run_path(str(entry))
    name, argv = namespace["application"]
    assert (name, argv[1:]) == ("app", ("--config-file", "/srv/conf/masakari.conf"))


def test_an_upgrade_past_epoxy_rewrites_the_entry_and_restarts_apache(ctx, installed):
    ctx.run(ctx.on.config_changed(), full_state(app_data=synced()))
    assert "masakari.cmd.api" in installed.read_text(wl.WSGI_SCRIPT)
    installed.available.update(dict.fromkeys(MASAKARI_PACKAGES, "1:20.0.0-0ubuntu1~cloud0"))
    installed.clear()
    out = ctx.run(
        ctx.on.config_changed(),
        full_state(config={"openstack-origin": "flamingo"}, app_data=synced()),
    )
    assert installed.ran("apt-get", "dist-upgrade")
    assert "from masakari.wsgi.api import application" in installed.read_text(wl.WSGI_SCRIPT)
    assert "apache2" in installed.restarted()
    assert out.unit_status == ops.ActiveStatus("Unit is ready")
