"""The ``identity-credentials`` relation (interface ``keystone-credentials``) with keystone.

The unit asks for a user in a project; keystone answers with where to authenticate
(``auth_*``, ``credentials_*`` host, port and protocol, ``api_version``), the user it
created (``credentials_username``, ``credentials_password``, ``credentials_project``)
and, when it serves TLS, its CA (``ca_cert``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import ops

from ..fields import problem
from ..network import format_host
from .common import Endpoint, NotReady, Ready, check_fields, read_ca, remote_units, url_sides

_REQUIRED = (
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
_TOKENS = (
    "api_version",
    "credentials_project",
    "credentials_username",
    "credentials_password",
    "credentials_project_id",
    "credentials_project_domain_name",
    "credentials_user_domain_name",
    "region",
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


class IdentityCredentials(Endpoint):
    """The unit's side of ``identity-credentials``."""

    def __init__(self, model: ops.Model, name: str = "identity-credentials"):
        super().__init__(model, name)

    def publish(self, username: str, project: str) -> None:
        """Ask keystone for ``username`` in ``project``."""
        self._publish({"username": username, "project": project})

    def read(self) -> Ready[Credentials] | NotReady:
        """The first keystone unit that answered with every required key."""
        relation = self.relation
        if relation is None:
            return self.not_related()
        for unit, data in remote_units(relation):
            if not all(data.get(key) for key in _REQUIRED):
                continue
            bad = check_fields(
                self.name,
                unit,
                data,
                hosts=("credentials_host", "auth_host"),
                ports=("credentials_port", "auth_port"),
                protocols=("credentials_protocol", "auth_protocol"),
                tokens=_TOKENS,
            )
            if bad:
                return bad
            ca = read_ca(data["ca_cert"]) if data.get("ca_cert") else None
            if data.get("ca_cert") and ca is None:
                return NotReady(problem(self.name, unit, "ca_cert", "PEM or base64-encoded PEM"))
            return Ready(Credentials(dict(data), ca))
        return NotReady(f"{self.name}: waiting for keystone to create the user")


def credentials_answer(
    credentials: str,
    password: str,
    *,
    project_id: str,
    auth: str | None = None,
    username: str = "masakari-monitors",
    project: str = "services",
    domain: str = "service_domain",
    region: str = "RegionOne",
) -> dict[str, str]:
    """What keystone writes on identity-credentials for the user it created.

    ``credentials`` and ``auth`` (default: ``credentials``) are the URLs of keystone's
    sides. For tests, demos and benchmarks that stand in for keystone.
    """
    return {
        **url_sides(auth=auth or credentials, credentials=credentials),
        "credentials_username": username,
        "credentials_password": password,
        "credentials_project": project,
        "credentials_project_id": project_id,
        "credentials_user_domain_name": domain,
        "credentials_project_domain_name": domain,
        "api_version": "3",
        "region": region,
    }
