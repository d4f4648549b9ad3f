"""The ``identity-service`` relation (interface ``keystone``) with keystone.

The unit registers its service's endpoints in a region; keystone answers with where it
is served (``service_*``, ``auth_*``, ``internal_*`` host, port and protocol) and the
service user it created (``service_username``, ``service_password``, ``service_tenant``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import ops

from ..network import format_host
from .common import Endpoint, NotReady, Ready, check_fields, remote_units, url_sides

_REQUIRED = (
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
_SIDES = ("service", "auth", "internal")


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


class IdentityService(Endpoint):
    """The unit's side of ``identity-service``."""

    def __init__(self, model: ops.Model, name: str = "identity-service"):
        super().__init__(model, name)

    def publish(self, service: str, region: str, urls: Mapping[str, str]) -> None:
        """Register ``service`` in ``region`` with public/internal/admin ``urls``."""
        self._publish(
            {
                "service": service,
                "region": region,
                "public_url": urls["public"],
                "internal_url": urls["internal"],
                "admin_url": urls["admin"],
            }
        )

    def read(self) -> Ready[Keystone] | NotReady:
        """The first keystone unit that answered with every required key."""
        relation = self.relation
        if relation is None:
            return self.not_related()
        for unit, data in remote_units(relation):
            if all(data.get(key) for key in _REQUIRED):
                bad = check_fields(
                    self.name,
                    unit,
                    data,
                    hosts=tuple(f"{side}_host" for side in _SIDES),
                    ports=tuple(f"{side}_port" for side in _SIDES),
                    protocols=tuple(f"{side}_protocol" for side in _SIDES),
                    tokens=(
                        "service_tenant",
                        "service_username",
                        "service_password",
                        "service_tenant_id",
                        "service_domain",
                    ),
                )
                return bad or Ready(Keystone(dict(data)))
        return NotReady(f"{self.name}: waiting for keystone to register the service")


def keystone_answer(
    service: str,
    password: str,
    *,
    project_id: str,
    auth: str | None = None,
    internal: str | None = None,
    username: str = "masakari",
    project: str = "services",
    domain: str = "service_domain",
) -> dict[str, str]:
    """What keystone writes on identity-service for the service user it created.

    ``service``, ``auth`` (default: ``service``) and ``internal`` are the URLs of
    keystone's sides. For tests, demos and benchmarks that stand in for keystone.
    """
    return {
        **url_sides(service=service, auth=auth or service, internal=internal),
        "service_tenant": project,
        "service_tenant_id": project_id,
        "service_username": username,
        "service_password": password,
        "service_domain": domain,
        "api_version": "3",
    }
