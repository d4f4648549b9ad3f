"""What runs on a masakari unit and the files it reads.

Pure functions from validated config and relation data to :class:`ManagedFile` values:
``/etc/masakari/masakari.conf``, the Apache WSGI site (and TLS frontend), haproxy and
memcached. Ports: haproxy listens on 15868 and forwards to Apache on 15858; with TLS,
Apache terminates TLS on 15858 and proxies to the WSGI site on 127.0.0.1:15848.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from masakari_config import MasakariConfig
from openstack_charm_lib.config_flags import merge_flags
from openstack_charm_lib.relations.amqp import Messaging
from openstack_charm_lib.relations.identity_service import Keystone
from openstack_charm_lib.relations.shared_db import Database
from openstack_charm_lib.releases import release_from_major_version, release_index
from openstack_charm_lib.rendering import ManagedFile, Renderer, oslo_literal, render_ini
from openstack_charm_lib.tls import TlsMaterial

SERVICE = "masakari"
SERVICE_TYPE = "instance-ha"
PACKAGES = [
    "masakari-api",
    "masakari-engine",
    "apache2",
    "libapache2-mod-wsgi-py3",
    "haproxy",
    "memcached",
    "python3-memcache",
    # Missing dependency of masakari-engine's taskflow driver on some releases (LP #1882900).
    "python3-sqlalchemy-utils",
]
VERSION_PACKAGE = "masakari-common"
YOGA_MAJOR_VERSION = 13  # masakari 13.x shipped with yoga
# The services whose processes run masakari's code (the API in Apache's mod_wsgi daemons),
# and the packages that bring it.
CODE_SERVICES = ("apache2", "masakari-engine")
CODE_PACKAGES = ("masakari-api", "masakari-engine", VERSION_PACKAGE)
ENGINE = "masakari-engine"
SERVICES = ("memcached", "haproxy", "apache2", ENGINE)

# flamingo's migration (13adff5efb9a) adds notifications.failover_segment_uuid without
# filling it, while flamingo's and gazpacho's notification object refuses None there:
# once a cloud that had notifications moves to flamingo, GET /v1/notifications answers
# 500. hibiscus makes the field nullable. After the leader's db sync to a release from
# flamingo on, each notification left without a segment gets its host's, as masakari
# itself records for new ones. Run with the packages' Python, which has masakari's
# dependencies; argv: --config-file <masakari.conf>. It prints how many rows it filled.
SEGMENT_BACKFILL_FROM = "flamingo"
SEGMENT_BACKFILL = """\
import sys
import sqlalchemy
from oslo_config import cfg
conf = cfg.ConfigOpts()
conf.register_opt(cfg.StrOpt("connection", secret=True), group="database")
conf(sys.argv[1:], project="masakari", default_config_files=[])
engine = sqlalchemy.create_engine(conf.database.connection)
with engine.begin() as db:
    filled = db.execute(sqlalchemy.text(
        "UPDATE notifications n JOIN hosts h ON h.uuid = n.source_host_uuid "
        "SET n.failover_segment_uuid = h.failover_segment_id "
        "WHERE n.failover_segment_uuid IS NULL"
    )).rowcount
print(filled)
"""


def needs_segment_backfill(release: str | None) -> bool:
    """Whether the schema of ``release`` has the column the backfill fills."""
    try:
        return release is not None and release_index(release) >= release_index(
            SEGMENT_BACKFILL_FROM
        )
    except KeyError:
        return False


def segment_backfill_command() -> list[str]:
    """The backfill, run by the packages' interpreter against masakari's database."""
    return ["python3", "-c", SEGMENT_BACKFILL, "--config-file", MASAKARI_CONF]


API_PORT = 15868
APACHE_PORT = 15858
WSGI_TLS_PORT = 15848
MEMCACHED_PORT = 11211
# Loopback only. 8888 is the COS collector's own metrics port on the same machine.
HAPROXY_STATS_PORT = 8404
HAPROXY_PROMETHEUS_PORT = 8405
# masakari's api-paste.ini routes /healthcheck (oslo.middleware) from this release on;
# before it, haproxy asks for the version document, which masakari answers without auth.
HEALTHCHECK_RELEASE = "gazpacho"

CONFIG_DIR = "/etc/masakari"
MASAKARI_CONF = f"{CONFIG_DIR}/masakari.conf"
API_PASTE = f"{CONFIG_DIR}/api-paste.ini"
# The operator's policy overrides (policyd-override resource): oslo.policy reads the
# policy.d directory next to masakari.conf (the default [oslo_policy] policy_dirs) on
# top of the policy in code.
POLICY_OVERRIDES = f"{CONFIG_DIR}/policy.d/charm-policyd-override.yaml"
# The charm's own WSGI entry (see wsgi_entry); a directory no package writes to.
WSGI_DIR = "/usr/local/lib/masakari-charm"
WSGI_SCRIPT = f"{WSGI_DIR}/masakari-api.wsgi"
# masakari.wsgi.api (the module path upstream names) exists from this release on.
WSGI_MODULE_RELEASE = "flamingo"
WSGI_SITE = "charm-masakari-api"
TLS_SITE = "charm-masakari-https"
PACKAGE_SITE = "masakari-api"
HAPROXY_CFG = "/etc/haproxy/haproxy.cfg"
MEMCACHED_CONF = "/etc/memcached.conf"
SSL_DIR = "/etc/apache2/ssl/masakari"
SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
CHARM_CA = "/usr/local/share/ca-certificates/masakari-charm.crt"
DB_CA = "/etc/masakari/mysql-ca.pem"
RABBIT_CA = "/etc/masakari/rabbitmq-ca.pem"

TEMPLATES = Path(__file__).parent / "templates"


@dataclasses.dataclass(frozen=True)
class Backend:
    """One haproxy backend: the local address on a network and every unit's address there."""

    address: str
    cidr: str
    servers: tuple[tuple[str, str], ...]  # (unit name, address)


@dataclasses.dataclass(frozen=True)
class WorkloadInputs:
    """Everything the rendered files depend on."""

    config: MasakariConfig
    database: Database
    messaging: Messaging
    keystone: Keystone
    tls: TlsMaterial | None
    backends: tuple[Backend, ...]
    cpus: int
    stats_password: str
    ipv6: bool = False
    release: str | None = None  # OpenStack release of the installed packages


def masakari_conf_sections(inputs: WorkloadInputs) -> dict[str, dict[str, str]]:
    """Sections and keys of masakari.conf, before config-flags."""
    cfg, ks = inputs.config, inputs.keystone
    # Keystone's strings are data, not oslo.config templates: "$" must stay "$".
    user, password = oslo_literal(ks.username), oslo_literal(ks.password)
    project, domain = oslo_literal(ks.project), oslo_literal(ks.domain)
    keystone_side = "internal" if cfg.use_internal_endpoints else "service"
    database = inputs.database.uri(SERVICE, SERVICE, DB_CA)
    ca_bundle = SYSTEM_CA_BUNDLE if (inputs.tls and inputs.tls.ca) or ks.uses_https else None
    recovery = cfg.recovery_settings()
    default = {
        "debug": str(cfg.debug).lower(),
        "log_dir": "/var/log/masakari",
        "auth_strategy": "keystone",
        "transport_url": inputs.messaging.transport_url(SERVICE, SERVICE),
        "os_region_name": cfg.region,
        "os_privileged_user_name": user,
        "os_privileged_user_password": password,
        "os_privileged_user_tenant": project,
        "os_privileged_user_auth_url": f"{ks.url(keystone_side)}/v3",
        "os_user_domain_name": domain,
        "os_project_domain_name": domain,
        "nova_catalog_admin_info": "compute:nova:"
        + ("internalURL" if cfg.use_internal_endpoints else "publicURL"),
        **recovery["DEFAULT"],
    }
    if ca_bundle:
        default["nova_ca_certificates_file"] = ca_bundle
    authtoken = {
        "www_authenticate_uri": f"{ks.url('service')}/v3",
        "auth_url": f"{ks.url('auth')}/v3",
        "auth_type": "password",
        "project_domain_name": domain,
        "user_domain_name": domain,
        "project_name": project,
        "username": user,
        "password": password,
        "region_name": cfg.region,
        "service_type": SERVICE_TYPE,
        "memcached_servers": f"{'[::1]' if inputs.ipv6 else '127.0.0.1'}:{MEMCACHED_PORT}",
    }
    if ca_bundle:
        authtoken["cafile"] = ca_bundle
    sections: dict[str, dict[str, str]] = {
        "DEFAULT": default,
        "wsgi": {"api_paste_config": API_PASTE},
        "database": {"connection": database},
        "taskflow": {"connection": database},
        "keystone_authtoken": authtoken,
        "oslo_messaging_rabbit": (
            {"ssl": "true", "ssl_ca_file": RABBIT_CA} if inputs.messaging.ssl_ca else {}
        ),
        "oslo_middleware": {"enable_proxy_headers_parsing": "true"},
        "oslo_concurrency": {"lock_path": "/var/lock/masakari"},
        "host_failure": recovery["host_failure"],
        "coordination": (
            {"backend_url": cfg.coordination_backend_url} if cfg.coordination_backend_url else {}
        ),
    }
    for section, keys in cfg.engine_settings(inputs.release).items():
        sections.setdefault(section, {}).update(keys)
    return merge_flags(sections, cfg.flags)


def masakari_conf(inputs: WorkloadInputs) -> str:
    """Content of masakari.conf."""
    header = "Managed by the masakari charm; use the config-flags option for extra settings."
    return render_ini(masakari_conf_sections(inputs), header)


def health_check_path(release: str | None) -> str:
    """The path haproxy's layer-7 check asks masakari-api for on ``release``."""
    if release is not None and release_index(release) >= release_index(HEALTHCHECK_RELEASE):
        return "/healthcheck"
    return "/"


def wsgi_entry(release: str | None, renderer: Renderer) -> str:
    """The WSGI script Apache serves masakari-api from, for masakari of ``release``.

    From flamingo on it imports ``masakari.wsgi.api:application``; before, it calls the
    application factory ``masakari.cmd.api.initialize_application``, which every
    release from yoga to the newest has (so an unknown release gets it too).
    """
    module_path = release is not None and release_index(release) >= release_index(
        WSGI_MODULE_RELEASE
    )
    return renderer.render(
        "masakari-api.wsgi.j2",
        {"release": release, "config_dir": CONFIG_DIR, "module_path": module_path},
    )


def certificate_paths(common_name: str) -> tuple[str, str]:
    """Where Apache finds the certificate and key for ``common_name``."""
    return f"{SSL_DIR}/cert_{common_name}", f"{SSL_DIR}/key_{common_name}"


def build_files(inputs: WorkloadInputs, renderer: Renderer) -> list[ManagedFile]:
    """Every file a configured unit needs, with the services that read it."""
    cfg = inputs.config
    tls = inputs.tls
    wsgi_listen = f"127.0.0.1:{WSGI_TLS_PORT}" if tls else str(APACHE_PORT)
    files = [
        ManagedFile(
            MASAKARI_CONF,
            masakari_conf(inputs),
            group="masakari",
            mode=0o640,
            restarts=("apache2", "masakari-engine"),
        ),
        ManagedFile(WSGI_SCRIPT, wsgi_entry(inputs.release, renderer), restarts=("apache2",)),
        ManagedFile(
            f"/etc/apache2/sites-available/{WSGI_SITE}.conf",
            renderer.render(
                "masakari-api-site.conf.j2",
                {
                    "listen": wsgi_listen,
                    "processes": cfg.api_workers(inputs.cpus),
                    "wsgi_script": WSGI_SCRIPT,
                    "wsgi_dir": WSGI_DIR,
                },
            ),
            restarts=("apache2",),
        ),
        ManagedFile(
            HAPROXY_CFG,
            renderer.render(
                "haproxy.cfg.j2",
                {
                    "charm": SERVICE,
                    "timeouts": cfg.haproxy_timeouts,
                    "stats_port": HAPROXY_STATS_PORT,
                    "stats_password": inputs.stats_password,
                    "prometheus_port": HAPROXY_PROMETHEUS_PORT,
                    "frontends": [
                        {
                            "name": "masakari-api",
                            "port": API_PORT,
                            "backend_port": APACHE_PORT,
                            "ipv6": inputs.ipv6,
                            "tls": bool(tls),
                            "check_path": health_check_path(inputs.release),
                            "backends": [dataclasses.asdict(b) for b in inputs.backends],
                        }
                    ],
                },
            ),
            group="haproxy",
            mode=0o640,
            restarts=("haproxy",),
        ),
        ManagedFile(
            MEMCACHED_CONF,
            renderer.render(
                "memcached.conf.j2",
                {
                    "charm": SERVICE,
                    "memory_mb": 64,
                    "port": MEMCACHED_PORT,
                    "listen": ["::1"] if inputs.ipv6 else ["127.0.0.1"],
                },
            ),
            restarts=("memcached",),
        ),
    ]
    if inputs.database.ssl_ca:
        files.append(
            ManagedFile(DB_CA, inputs.database.ssl_ca, restarts=("apache2", "masakari-engine"))
        )
    if inputs.messaging.ssl_ca:
        files.append(
            ManagedFile(
                RABBIT_CA, inputs.messaging.ssl_ca, restarts=("apache2", "masakari-engine")
            )
        )
    if tls:
        files.extend(_tls_files(tls, renderer))
    return files


def _tls_files(tls: TlsMaterial, renderer: Renderer) -> list[ManagedFile]:
    vhosts = []
    files = []
    for cn, cert in sorted(tls.certificates.items()):
        cert_path, key_path = certificate_paths(cn)
        files.append(ManagedFile(cert_path, cert.cert, mode=0o640, restarts=("apache2",)))
        files.append(ManagedFile(key_path, cert.key, mode=0o600, restarts=("apache2",)))
        vhosts.append({"server_name": cn, "cert": cert_path, "key": key_path})
    files.append(
        ManagedFile(
            f"/etc/apache2/sites-available/{TLS_SITE}.conf",
            renderer.render(
                "masakari-https-frontend.conf.j2",
                {
                    "port": APACHE_PORT,
                    "backend": f"http://127.0.0.1:{WSGI_TLS_PORT}/",
                    "vhosts": vhosts,
                },
            ),
            restarts=("apache2",),
        )
    )
    if tls.ca:
        files.append(ManagedFile(CHARM_CA, tls.ca, restarts=("apache2", "masakari-engine")))
    return files


def endpoint_url(protocol: str, host: str) -> str:
    """Catalog URL of the Masakari API on ``host``."""
    return f"{protocol}://{host}:{API_PORT}/v1/%(tenant_id)s"


def listening_ports(tls: bool) -> list[int]:
    """Ports that must listen on a ready unit."""
    return [API_PORT, APACHE_PORT, *([WSGI_TLS_PORT] if tls else []), MEMCACHED_PORT]


def upstream_version(versions: Mapping[str, str]) -> str | None:
    """Upstream version of the installed masakari (``1:17.0.0-0ubuntu1`` -> ``17.0.0``)."""
    version = versions.get(VERSION_PACKAGE)
    if not version:
        return None
    return version.split(":", 1)[-1].split("-", 1)[0]


def release_of(versions: Mapping[str, str]) -> str | None:
    """OpenStack release of the installed masakari packages."""
    major = (upstream_version(versions) or "").split(".", 1)[0]
    if not major.isdigit():
        return None
    return release_from_major_version(int(major), YOGA_MAJOR_VERSION)
