"""The few Nova calls the charm makes: a reserved host's nova-compute service, its servers.

A reserved host is a spare: nova must not schedule instances to it, so its nova-compute
service is disabled (the deployment guide's ``openstack compute service set --disable``)
with a reason naming masakari; masakari-engine enables it when it evacuates onto it.
Nova is found in the same keystone catalog (service type ``compute``) and reached with
the same token as masakari, at microversion 2.53 (services by UUID, and their status
and ``disabled_reason`` set in one PUT). Failures are the client's ``ApiError``.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from masakari_api import ApiError, MasakariApi

SERVICE_TYPE = "compute"
MICROVERSION = "2.53"
HEADERS = {"OpenStack-API-Version": f"compute {MICROVERSION}"}
DISABLED_REASON = "masakari: reserved host, kept free for evacuations"
BINARY = "nova-compute"


class NovaApi:
    """Nova's compute services and servers, through a :class:`MasakariApi`'s session."""

    def __init__(self, api: MasakariApi):
        self._api = api

    def _get(self, path: str, query: dict[str, str], kind: str) -> Any:
        return self._api.request(
            "GET",
            f"{path}?{urllib.parse.urlencode(query)}",
            kind=kind,
            service=SERVICE_TYPE,
            headers=HEADERS,
        )

    def compute_service(self, host: str) -> dict:
        """The nova-compute service of ``host``: its ``id`` (a UUID), ``status``, reason."""
        answer = self._get("/os-services", {"binary": BINARY, "host": host}, "/os-services")
        services = answer.get("services") if isinstance(answer, dict) else None
        if not isinstance(services, list):
            raise ApiError("GET /os-services: unexpected answer (no list of services)")
        for service in services:
            if (
                isinstance(service, dict)
                and service.get("host") == host
                and service.get("binary", BINARY) == BINARY
                and isinstance(service.get("id"), str)
                and service.get("status") in ("enabled", "disabled")
            ):
                return service
        raise ApiError(f"nova has no {BINARY} service on {host}")

    def set_compute_service(self, service: dict, enabled: bool) -> None:
        """Enable ``service``, or disable it with masakari's reason."""
        body: dict[str, str] = {"status": "enabled" if enabled else "disabled"}
        if not enabled:
            body["disabled_reason"] = DISABLED_REASON
        self._api.request(
            "PUT",
            f"/os-services/{urllib.parse.quote(service['id'], safe='')}",
            body,
            kind="/os-services/{id}",
            service=SERVICE_TYPE,
            headers=HEADERS,
        )

    def servers_on(self, host: str) -> list[str]:
        """Names (or ids) of the instances nova places on ``host``, every project's."""
        answer = self._get(
            "/servers/detail", {"all_tenants": "1", "host": host}, "/servers/detail"
        )
        servers = answer.get("servers") if isinstance(answer, dict) else None
        if not isinstance(servers, list) or not all(isinstance(s, dict) for s in servers):
            raise ApiError("GET /servers/detail: unexpected answer (no list of servers)")
        return [str(s.get("name") or s.get("id") or "?")[:80] for s in servers]


def disabled_by_masakari(service: dict) -> bool:
    """Whether ``service`` is disabled with the reason this charm gives."""
    return service.get("status") == "disabled" and service.get("disabled_reason") == (
        DISABLED_REASON
    )
