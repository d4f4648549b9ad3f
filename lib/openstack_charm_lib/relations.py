"""Readers of the OpenStack relations a principal API charm consumes.

Each reader looks at a relation's remote data and returns a :class:`Ready` with a
typed view, or a :class:`NotReady` whose ``reason`` says, for a status message, what is
still missing. Readers never raise on malformed data: bad values are reasons too.
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


def remote_units_data(relation: ops.Relation) -> list[Mapping[str, str]]:
    """Data bags of the remote units, ordered by unit name for determinism."""
    units = sorted(relation.units, key=lambda u: u.name)
    return [relation.data[u] for u in units]


def decode_base64_pem(value: str) -> str | None:
    """Decode base64-encoded PEM text; None when it is not valid."""
    try:
        text = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, ValueError):
        return None
    return text if "-----BEGIN" in text else None


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
    for data in remote_units_data(relation):
        if data.get("cluster-series-upgrading", "").lower() == "true":
            return NotReady("shared-db: the database is being series-upgraded")
        if not (data.get("db_host") and data.get("password") and data.get("allowed_units")):
            continue
        if unit_name not in data["allowed_units"].split():
            return NotReady(f"shared-db: {unit_name} is not yet in allowed_units")
        port_text = data.get("db_port", "").strip()
        if port_text and not port_text.isdigit():
            return NotReady(f"shared-db: db_port {port_text!r} is not a port number")
        ssl_ca = None
        if data.get("ssl_ca"):
            ssl_ca = decode_base64_pem(data["ssl_ca"]) or _pem_or_none(data["ssl_ca"])
            if ssl_ca is None:
                return NotReady("shared-db: ssl_ca is neither PEM nor base64-encoded PEM")
        return Ready(
            Database(
                data["db_host"], int(port_text) if port_text else None, data["password"], ssl_ca
            )
        )
    return NotReady("shared-db: waiting for database credentials")


def _pem_or_none(value: str) -> str | None:
    return value if "-----BEGIN" in value else None


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
    ssl_port: str | None = None
    ssl_ca_b64: str | None = None
    for data in remote_units_data(relation):
        host = data.get("hostname") or data.get("private-address")
        if not (host and data.get("password")):
            continue
        servers[host] = data["password"]
        ssl_port = ssl_port or data.get("ssl_port")
        ssl_ca_b64 = ssl_ca_b64 or data.get("ssl_ca")
    if not servers:
        return NotReady("amqp: waiting for rabbitmq credentials")
    ssl_ca = None
    port = 5672
    if ssl_ca_b64:
        ssl_ca = decode_base64_pem(ssl_ca_b64)
        if ssl_ca is None:
            return NotReady("amqp: ssl_ca is not base64-encoded PEM")
        port = 5671
        if ssl_port:
            if not ssl_port.isdigit():
                return NotReady(f"amqp: ssl_port {ssl_port!r} is not a port number")
            port = int(ssl_port)
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
    for data in remote_units_data(relation):
        if all(data.get(key) for key in _KEYSTONE_REQUIRED):
            for key in ("service_port", "auth_port"):
                if not data[key].isdigit():
                    return NotReady(f"identity-service: {key} {data[key]!r} is not a port")
            return Ready(Keystone(dict(data)))
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
    for data in remote_units_data(relation):
        if not all(data.get(key) for key in _CREDENTIALS_REQUIRED):
            continue
        for key in ("auth_port", "credentials_port"):
            if not data[key].isdigit():
                return NotReady(f"identity-credentials: {key} {data[key]!r} is not a port")
        ca = None
        if data.get("ca_cert"):
            ca = decode_base64_pem(data["ca_cert"]) or _pem_or_none(data["ca_cert"])
            if ca is None:
                return NotReady("identity-credentials: ca_cert is neither PEM nor base64 PEM")
        return Ready(Credentials(dict(data), ca))
    return NotReady("identity-credentials: waiting for keystone to create the user")
