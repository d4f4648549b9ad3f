"""The ``amqp`` relation (interface ``rabbitmq``) with rabbitmq-server.

The unit asks for a user on a vhost; every rabbitmq unit answers with its ``hostname``
(or ``private-address``) and the ``password``, and optionally ``ssl_port`` and a
base64-encoded ``ssl_ca``.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import quote

import ops

from ..fields import port_number, problem
from ..network import format_host
from .common import Endpoint, NotReady, Ready, check_fields, read_ca, remote_units


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


class Amqp(Endpoint):
    """The unit's side of ``amqp``."""

    def __init__(self, model: ops.Model, name: str = "amqp"):
        super().__init__(model, name)

    def publish(self, username: str, vhost: str) -> None:
        """Ask rabbitmq-server for ``username`` on ``vhost``."""
        self._publish({"username": username, "vhost": vhost})

    def read(self) -> Ready[Messaging] | NotReady:
        """Every rabbitmq unit that published a password, as one transport."""
        relation = self.relation
        if relation is None:
            return self.not_related()
        servers: dict[str, str] = {}
        ssl: tuple[str, str] | None = None  # (unit, ssl_ca) of the first unit offering TLS
        port = 5672
        for unit, data in remote_units(relation):
            host = data.get("hostname") or data.get("private-address")
            if not (host and data.get("password")):
                continue
            field = "hostname" if data.get("hostname") else "private-address"
            bad = check_fields(
                self.name, unit, data, hosts=(field,), ports=("ssl_port",), tokens=("password",)
            )
            if bad:
                return bad
            servers[host] = data["password"]
            if ssl is None and data.get("ssl_ca"):
                ssl = (unit, data["ssl_ca"])
                port = port_number(data.get("ssl_port", "")) or 5671
        if not servers:
            return NotReady(f"{self.name}: waiting for rabbitmq credentials")
        ssl_ca = None
        if ssl is not None:
            ssl_ca = read_ca(ssl[1])
            if ssl_ca is None:
                return NotReady(problem(self.name, ssl[0], "ssl_ca", "base64-encoded PEM"))
        return Ready(Messaging(tuple(sorted(servers.items())), port, ssl_ca))


def rabbitmq_answer(hostname: str, password: str) -> dict[str, str]:
    """What one rabbitmq-server unit writes on amqp once it created the user.

    For tests, demos and benchmarks that stand in for rabbitmq-server.
    """
    return {"hostname": hostname, "password": password}
