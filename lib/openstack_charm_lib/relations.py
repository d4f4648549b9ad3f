"""Readers of the OpenStack relations a principal API charm consumes.

Each reader looks at a relation's remote data and returns a :class:`Ready` with a
typed view, or a :class:`NotReady` whose ``reason`` says, for a status message, what is
still missing. Readers never raise on malformed data: every field is checked for its
form (:mod:`.fields`, :mod:`.pem`) and a bad one is a reason naming the relation, the
unit and the field, so that nothing another application sends reaches a file unchecked.
Wire formats follow the existing charms (mysql-router/percona-cluster, rabbitmq-server,
keystone): raw strings, one value per key.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Mapping
from typing import Generic, TypeVar
from urllib.parse import quote

import ops

from . import pem
from .fields import is_host, is_host_name, is_token, port_number, problem
from .network import format_host

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Ready(Generic[T]):
    """The relation is complete; ``info`` holds what it provides."""

    info: T


@dataclasses.dataclass(frozen=True)
class NotReady:
    """The relation exists but cannot be used yet, for ``reason``."""

    reason: str


def remote_units(relation: ops.Relation) -> list[tuple[str, Mapping[str, str]]]:
    """(unit name, data bag) of the remote units, ordered by unit name for determinism."""
    units = sorted(relation.units, key=lambda u: u.name)
    return [(u.name, relation.data[u]) for u in units]


def decode_base64(value: str) -> str | None:
    """Decode base64 text; None when it is not valid base64 of UTF-8 text."""
    try:
        return base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, ValueError):
        return None


def read_ca(value: str) -> str | None:
    """A CA bundle sent as PEM or as base64 of PEM, parsed; None when it is neither."""
    for text in (value, decode_base64(value)):
        if text:
            try:
                return "".join(pem.certificates(text))
            except pem.PemError:
                continue
    return None


def check_fields(
    relation: str,
    unit: str,
    data: Mapping[str, str],
    hosts: tuple[str, ...] = (),
    hostnames: tuple[str, ...] = (),
    ports: tuple[str, ...] = (),
    tokens: tuple[str, ...] = (),
    protocols: tuple[str, ...] = (),
) -> NotReady | None:
    """The first field of ``data`` that is present and not of its kind, as a reason."""
    kinds = (
        (hosts, is_host, "a host name or IP address"),
        (hostnames, is_host_name, "a host name"),
        (ports, lambda v: port_number(v) is not None, "a port number"),
        (tokens, is_token, "single-line text"),
        (protocols, lambda v: v in ("http", "https"), "http or https"),
    )
    for names, valid, expected in kinds:
        for name in names:
            if data.get(name) and not valid(data[name]):
                return NotReady(problem(relation, unit, name, expected))
    return None


# -- shared-db (mysql-shared) ----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Database:
    """Connection details granted by mysql-router or percona-cluster."""

    host: str
    port: int | None
    password: str
    ssl_ca: str | None = None  # PEM text

    def uri(self, database: str, username: str, ca_file: str | None = None) -> str:
        """SQLAlchemy URI; the password is URL-quoted."""
        port = f":{self.port}" if self.port else ""
        url = (
            f"mysql+pymysql://{quote(username, safe='')}:{quote(self.password, safe='')}"
            f"@{format_host(self.host)}{port}/{database}?charset=utf8"
        )
        if ca_file and self.ssl_ca:
            url += f"&ssl_ca={ca_file}"
        return url


def request_database(relation: ops.Relation, unit: ops.Unit, name: str, address: str) -> None:
    """Ask for database ``name`` owned by user ``name``, used from ``address``."""
    relation.data[unit].update({"database": name, "username": name, "hostname": address})


def read_database(relation: ops.Relation, unit_name: str) -> Ready[Database] | NotReady:
    """Whether the database is granted to ``unit_name``."""
    for unit, data in remote_units(relation):
        if data.get("cluster-series-upgrading", "").lower() == "true":
            return NotReady("shared-db: the database is being series-upgraded")
        if not (data.get("db_host") and data.get("password") and data.get("allowed_units")):
            continue
        if unit_name not in data["allowed_units"].split():
            return NotReady(f"shared-db: {unit_name} is not yet in allowed_units")
        bad = check_fields(
            "shared-db", unit, data, hosts=("db_host",), ports=("db_port",), tokens=("password",)
        )
        if bad:
            return bad
        ssl_ca = read_ca(data["ssl_ca"]) if data.get("ssl_ca") else None
        if data.get("ssl_ca") and ssl_ca is None:
            return NotReady(problem("shared-db", unit, "ssl_ca", "PEM or base64-encoded PEM"))
        port = port_number(data.get("db_port", ""))
        return Ready(Database(data["db_host"], port, data["password"], ssl_ca))
    return NotReady("shared-db: waiting for database credentials")


# -- amqp (rabbitmq) -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Messaging:
    """RabbitMQ servers that granted credentials."""

    servers: tuple[tuple[str, str], ...]  # (host, password), sorted by host
    port: int
    ssl_ca: str | None = None  # PEM text

    def transport_url(self, username: str, vhost: str) -> str:
        """oslo.messaging ``transport_url`` over every server."""
        user = quote(username, safe="")
        hosts = ",".join(
            f"{user}:{quote(password, safe='')}@{format_host(host)}:{self.port}"
            for host, password in self.servers
        )
        return f"rabbit://{hosts}/{quote(vhost, safe='')}"


def request_messaging(relation: ops.Relation, unit: ops.Unit, username: str, vhost: str) -> None:
    """Ask rabbitmq-server for ``username`` on ``vhost``."""
    relation.data[unit].update({"username": username, "vhost": vhost})


def read_messaging(relation: ops.Relation) -> Ready[Messaging] | NotReady:
    """Every rabbitmq unit that published a password, as one transport."""
    servers: dict[str, str] = {}
    ssl: tuple[str, str] | None = None  # (unit, ssl_ca) of the first unit offering TLS
    port = 5672
    for unit, data in remote_units(relation):
        host = data.get("hostname") or data.get("private-address")
        if not (host and data.get("password")):
            continue
        field = "hostname" if data.get("hostname") else "private-address"
        bad = check_fields(
            "amqp", unit, data, hosts=(field,), ports=("ssl_port",), tokens=("password",)
        )
        if bad:
            return bad
        servers[host] = data["password"]
        if ssl is None and data.get("ssl_ca"):
            ssl = (unit, data["ssl_ca"])
            port = port_number(data.get("ssl_port", "")) or 5671
    if not servers:
        return NotReady("amqp: waiting for rabbitmq credentials")
    ssl_ca = None
    if ssl is not None:
        ssl_ca = read_ca(ssl[1])
        if ssl_ca is None:
            return NotReady(problem("amqp", ssl[0], "ssl_ca", "base64-encoded PEM"))
    return Ready(Messaging(tuple(sorted(servers.items())), port, ssl_ca))


# -- identity-service (keystone) -----------------------------------------------------

_KEYSTONE_REQUIRED = (
    "service_host",
    "service_protocol",
    "service_port",
    "auth_host",
    "auth_protocol",
    "auth_port",
    "service_tenant",
    "service_username",
    "service_password",
    "service_tenant_id",
)


@dataclasses.dataclass(frozen=True)
class Keystone:
    """What keystone answered on identity-service."""

    data: Mapping[str, str]

    def url(self, side: str) -> str:
        """``<proto>://<host>:<port>`` of keystone's ``service``/``auth``/``internal`` side."""
        host = self.data.get(f"{side}_host") or self.data["service_host"]
        proto = self.data.get(f"{side}_protocol") or self.data["service_protocol"]
        port = self.data.get(f"{side}_port") or self.data["service_port"]
        return f"{proto}://{format_host(host)}:{port}"

    @property
    def username(self) -> str:
        """Service user keystone created for us."""
        return self.data["service_username"]

    @property
    def password(self) -> str:
        """Service user's password."""
        return self.data["service_password"]

    @property
    def project(self) -> str:
        """Service project (``services``)."""
        return self.data["service_tenant"]

    @property
    def domain(self) -> str:
        """Domain of the service user and project."""
        return self.data.get("service_domain") or "service_domain"

    @property
    def uses_https(self) -> bool:
        """Whether any side of keystone is served over https."""
        return any(self.data.get(f"{s}_protocol") == "https" for s in ("service", "auth"))


def request_endpoints(
    relation: ops.Relation, unit: ops.Unit, service: str, region: str, urls: Mapping[str, str]
) -> None:
    """Register ``service`` in ``region`` with public/internal/admin ``urls``."""
    relation.data[unit].update(
        {
            "service": service,
            "region": region,
            "public_url": urls["public"],
            "internal_url": urls["internal"],
            "admin_url": urls["admin"],
        }
    )


def read_keystone(relation: ops.Relation) -> Ready[Keystone] | NotReady:
    """The first keystone unit that answered with every required key."""
    sides = ("service", "auth", "internal")
    for unit, data in remote_units(relation):
        if all(data.get(key) for key in _KEYSTONE_REQUIRED):
            bad = check_fields(
                "identity-service",
                unit,
                data,
                hosts=tuple(f"{side}_host" for side in sides),
                ports=tuple(f"{side}_port" for side in sides),
                protocols=tuple(f"{side}_protocol" for side in sides),
                tokens=(
                    "service_tenant",
                    "service_username",
                    "service_password",
                    "service_tenant_id",
                    "service_domain",
                ),
            )
            return bad or Ready(Keystone(dict(data)))
    return NotReady("identity-service: waiting for keystone to register the service")


# -- identity-credentials (keystone-credentials) ----------------------------------------

_CREDENTIALS_REQUIRED = (
    "credentials_host",
    "credentials_protocol",
    "credentials_port",
    "api_version",
    "auth_host",
    "auth_protocol",
    "auth_port",
    "credentials_project",
    "credentials_username",
    "credentials_password",
    "credentials_project_id",
)


@dataclasses.dataclass(frozen=True)
class Credentials:
    """A keystone user keystone created for a client (identity-credentials)."""

    data: Mapping[str, str]
    ca: str | None = None  # PEM of keystone's CA, when keystone sent one

    @property
    def auth_url(self) -> str:
        """Keystone URL to authenticate against (``/v3`` on API version 3)."""
        base = (
            f"{self.data['auth_protocol']}://{format_host(self.data['auth_host'])}"
            f":{self.data['auth_port']}"
        )
        return f"{base}/v3" if self.data["api_version"].startswith("3") else base

    @property
    def uses_https(self) -> bool:
        """Whether keystone is served over https."""
        return "https" in (self.data["auth_protocol"], self.data["credentials_protocol"])

    def get(self, key: str, default: str = "") -> str:
        """A raw key of keystone's answer."""
        return self.data.get(key) or default


def request_credentials(
    relation: ops.Relation, unit: ops.Unit, username: str, project: str
) -> None:
    """Ask keystone for ``username`` in ``project``."""
    relation.data[unit].update({"username": username, "project": project})


def read_credentials(relation: ops.Relation) -> Ready[Credentials] | NotReady:
    """The first keystone unit that answered with every required key."""
    for unit, data in remote_units(relation):
        if not all(data.get(key) for key in _CREDENTIALS_REQUIRED):
            continue
        bad = check_fields(
            "identity-credentials",
            unit,
            data,
            hosts=("credentials_host", "auth_host"),
            ports=("credentials_port", "auth_port"),
            protocols=("credentials_protocol", "auth_protocol"),
            tokens=(
                "api_version",
                "credentials_project",
                "credentials_username",
                "credentials_password",
                "credentials_project_id",
                "credentials_project_domain_name",
                "credentials_user_domain_name",
                "region",
            ),
        )
        if bad:
            return bad
        ca = read_ca(data["ca_cert"]) if data.get("ca_cert") else None
        if data.get("ca_cert") and ca is None:
            return NotReady(
                problem("identity-credentials", unit, "ca_cert", "PEM or base64-encoded PEM")
            )
        return Ready(Credentials(dict(data), ca))
    return NotReady("identity-credentials: waiting for keystone to create the user")
