"""A small client of the Masakari API, authenticated as the charm's keystone service user.

It finds the API in the keystone catalog (service type ``instance-ha``), pages through
lists with ``marker`` the way masakari's ``osapi_max_limit`` requires, and counts the
calls it makes (the registration report and the benchmarks print them). The same token
reaches the other services of the catalog (:mod:`nova_api` uses it for ``compute``).
Every failure, HTTP or network, and every answer of the wrong shape (not JSON, missing
keys, wrong types) is an :class:`ApiError` with a message fit for a status line; the
password and the token never appear in one.

Microversions: the client reads the server's range from its version document (``GET /``
of the API's host) once, then sends ``OpenStack-API-Version: instance-ha X.Y`` with the
highest version both know on every call. A feature newer than the server is refused by
:meth:`MasakariApi.require` with a message naming the release that brought it.
"""

from __future__ import annotations

import collections
import dataclasses
import http.client
import json
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

SERVICE_TYPE = "instance-ha"
TIMEOUT = 20  # seconds per request; a hook must not hang on a dead endpoint
# What the charm reads of each item, all strings (lists also need the "id" markers page
# with); an answer without them is an ApiError, so no caller ever meets a KeyError.
ITEM_KEYS = {
    "segments": ("uuid", "name", "recovery_method", "service_type"),
    "hosts": ("uuid", "name"),
    "notifications": ("notification_uuid", "status"),
}
ITEM_KEYS["segment"] = ITEM_KEYS["segments"]
ITEM_KEYS["host"] = ITEM_KEYS["hosts"]
ITEM_KEYS["notification"] = ITEM_KEYS["notifications"]
ITEM_KEYS["vmoves"] = ("uuid", "instance_uuid")
# Flags of a host the charm reads, when present: booleans in every masakari release.
HOST_FLAGS = ("reserved", "on_maintenance")
VERSION_HEADER = "OpenStack-API-Version"
# The newest microversion this client knows, and what each version brought (and in
# which OpenStack release), for the messages of a refused feature.
CLIENT_VERSION = (1, 3)
MICROVERSIONS = {
    (1, 1): "notification progress details (stein)",
    (1, 2): "enabling and disabling segments (wallaby)",
    (1, 3): "VM moves of a host recovery (2023.1 antelope)",
}


class ApiError(Exception):
    """A call failed; ``status`` is the HTTP status, or None when nothing answered."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class UnsupportedError(ApiError):
    """The server's masakari is older than the feature asked for."""


def parse_version(text: object) -> tuple[int, int] | None:
    """``"1.3"`` as ``(1, 3)``; None for anything else."""
    if not isinstance(text, str):
        return None
    major, dot, minor = text.partition(".")
    if not (dot and major.isdigit() and minor.isdigit() and major.isascii() and minor.isascii()):
        return None
    return int(major), int(minor)


def version_text(version: tuple[int, int]) -> str:
    """``(1, 3)`` as ``"1.3"``."""
    return f"{version[0]}.{version[1]}"


def _server_version(document: Any) -> tuple[int, int]:
    """The newest microversion of masakari's v1 API in its version document.

    ``GET /`` lists ``{"versions": [{"id": "v1.0", "version": "1.3", ...}]}``; a server
    that names no microversion (or a malformed one) speaks 1.0 only.
    """
    versions = document.get("versions") if isinstance(document, dict) else None
    for entry in versions if isinstance(versions, list) else []:
        if isinstance(entry, dict) and str(entry.get("id", "")).startswith("v1"):
            return parse_version(entry.get("version")) or (1, 0)
    return (1, 0)


@dataclasses.dataclass(frozen=True)
class Credentials:
    """Who the charm is in keystone and where keystone is."""

    keystone_url: str  # ends before /v3
    username: str
    password: str = dataclasses.field(repr=False)
    user_domain: str
    project: str
    project_domain: str
    region: str
    interface: str  # public, internal or admin


# (method, url, headers, body) -> (status, body); raises ApiError when nothing answered.
Transport = Callable[
    [str, str, Mapping[str, str], bytes | None], tuple[int, Mapping[str, str], bytes]
]


def urllib_transport(
    method: str, url: str, headers: Mapping[str, str], body: bytes | None
) -> tuple[int, Mapping[str, str], bytes]:
    """HTTP(S) with the system's CA store, where the charm installs vault's CA."""
    context = ssl.create_default_context() if url.startswith("https") else None
    try:
        request = urllib.request.Request(url, body, dict(headers), method=method)
        with urllib.request.urlopen(request, timeout=TIMEOUT, context=context) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers or {}), err.read()
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        reason = getattr(err, "reason", err)
        raise ApiError(f"{_where(url)} did not answer ({reason})") from None
    except ValueError:  # not a URL urllib can open (a relation's bad host, say)
        raise ApiError(f"{_where(url)!r} is not a valid URL") from None


def _where(url: str) -> str:
    """The host:port of ``url`` for a message (never its path, query or user info)."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.hostname or ''}{port}" or url[:60]
    except ValueError:
        return "".join(c for c in url[:60] if c.isprintable())


def _error_message(status: int, raw: bytes) -> str:
    """Masakari, nova and keystone wrap errors as {"<kind>": {"message": ...}}."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # not JSON, or nested past the parser's limit
        return f"HTTP {status}"
    if isinstance(body, dict):
        for value in body.values():
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                return f"HTTP {status}: {_printable(value['message'])}"
    return f"HTTP {status}"


def _printable(text: str, limit: int = 200) -> str:
    """``text`` on one line and at most ``limit`` characters, for a status."""
    flat = "".join(c if c.isprintable() else " " for c in text).strip()
    return flat if len(flat) <= limit else f"{flat[: limit - 1]}…"


def password_auth(
    username: str, user_domain: str, password: str, project: str, project_domain: str
) -> dict[str, Any]:
    """Keystone v3's body for a project-scoped token by password (``POST /v3/auth/tokens``)."""
    user = {"name": username, "domain": {"name": user_domain}, "password": password}
    return {
        "auth": {
            "identity": {"methods": ["password"], "password": {"user": user}},
            "scope": {"project": {"name": project, "domain": {"name": project_domain}}},
        }
    }


class MasakariApi:
    """Segments, hosts and notifications of one Masakari deployment."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        page_size: int = 1000,
        transport: Transport = urllib_transport,
    ):
        self._credentials = credentials
        self._page_size = page_size
        self._transport = transport
        self._token: str | None = None
        self._catalog: Any = None
        self._endpoints: dict[str, str] = {}
        self._microversion: tuple[int, int] | None = None
        self._server_microversion: tuple[int, int] = (1, 0)
        self.calls: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()  # registration adds hosts from several threads
        self._version_lock = threading.Lock()

    @property
    def writes(self) -> int:
        """Calls that changed something."""
        return sum(n for k, n in self.calls.items() if not k.startswith(("GET", "token")))

    # -- transport --------------------------------------------------------------------
    def _authenticate(self) -> None:
        creds = self._credentials
        body = password_auth(
            creds.username, creds.user_domain, creds.password, creds.project, creds.project_domain
        )
        self.calls["token"] += 1
        status, headers, raw = self._transport(
            "POST",
            f"{creds.keystone_url}/v3/auth/tokens",
            {"Content-Type": "application/json"},
            json.dumps(body).encode(),
        )
        if status != 201:
            raise ApiError(
                f"keystone refused the service credentials ({_error_message(status, raw)})", status
            )
        token = {str(k).lower(): v for k, v in headers.items()}.get("x-subject-token")
        if not isinstance(token, str) or not token:
            raise ApiError("keystone issued no token", status)
        catalog = _decode(raw, "keystone")
        self._endpoint_of(catalog, SERVICE_TYPE)  # no masakari endpoint: nothing to do
        self._token, self._catalog = token, catalog

    def _endpoint_of(self, catalog: Any, service_type: str) -> str:
        if service_type not in self._endpoints:
            creds = self._credentials
            self._endpoints[service_type] = _find_endpoint(
                catalog, service_type, creds.region, creds.interface
            )
        return self._endpoints[service_type]

    @property
    def microversion(self) -> tuple[int, int]:
        """The microversion the client speaks: the highest the server and it both know."""
        with self._version_lock:  # asked once, whichever thread asks first
            if self._microversion is None:
                with self._lock:
                    if self._token is None:
                        self._authenticate()
                    endpoint = self._endpoint_of(self._catalog, SERVICE_TYPE)
                try:
                    document = self.request(
                        "GET", "/", kind="versions", url=_version_root(endpoint)
                    )
                except ApiError as exc:
                    if exc.status is None:  # nothing answered: neither would the call
                        raise
                    document = None  # a server that does not say speaks 1.0 at least
                self._server_microversion = _server_version(document)
                self._microversion = min(self._server_microversion, CLIENT_VERSION)
            return self._microversion

    def require(self, version: tuple[int, int], action: str) -> None:
        """Refuse ``action`` (an :class:`UnsupportedError`) on a server older than ``version``."""
        if self.microversion < version:
            raise UnsupportedError(
                f"{action} needs masakari API {version_text(version)}, which brought "
                f"{MICROVERSIONS[version]}; this masakari offers "
                f"{version_text(self._server_microversion)}: upgrade it (openstack-upgrade)"
            )

    def request(
        self,
        method: str,
        path: str,
        body: dict | None = None,
        kind: str = "",
        *,
        service: str = SERVICE_TYPE,
        headers: Mapping[str, str] | None = None,
        url: str | None = None,
    ) -> Any:
        """``method`` on ``path`` (below ``service``'s versioned endpoint); the answer.

        ``url``, when given, replaces the endpoint and ``path`` (the version document).
        A call refused with 401 while a token was held (keystone's token expired: the
        exporter keeps one client for hours) is retried once with a new token; a 401 to
        a fresh token is an ApiError as usual.
        """
        held = self._token
        try:
            return self._send(method, path, body, kind, service, headers, url)
        except ApiError as exc:
            if exc.status != 401 or held is None:
                raise
        with self._lock:
            if self._token == held:  # nobody renewed it meanwhile
                self._token = None
        return self._send(method, path, body, kind, service, headers, url)

    def _send(
        self,
        method: str,
        path: str,
        body: dict | None,
        kind: str,
        service: str,
        headers: Mapping[str, str] | None,
        url: str | None,
    ) -> Any:
        with self._lock:
            if self._token is None:
                self._authenticate()
            endpoint = self._endpoint_of(self._catalog, service)
            self.calls[f"{method} {kind or path.split('?')[0]}"] += 1
        assert self._token is not None
        extra = dict(headers or {})
        if service == SERVICE_TYPE and url is None:
            extra[VERSION_HEADER] = f"{SERVICE_TYPE} {version_text(self.microversion)}"
        status, _, raw = self._transport(
            method,
            url or f"{endpoint}{path}",
            {"Content-Type": "application/json", "X-Auth-Token": self._token, **extra},
            None if body is None else json.dumps(body).encode(),
        )
        what = f"{method} {kind or path.split('?')[0]}"
        if not isinstance(status, int) or status >= 400:
            raise ApiError(f"{what}: {_error_message(status, raw)}", status)
        return _decode(raw, what) if raw else {}

    def _list(
        self, path: str, key: str, kind: str, params: Mapping[str, str] | None = None
    ) -> list[dict]:
        """Every item, following markers: a page as long as the server's cap may have more."""
        items: list[dict] = []
        query = dict(params or {}, limit=str(self._page_size))
        while True:
            answer = self.request("GET", f"{path}?{urllib.parse.urlencode(query)}", kind=kind)
            page = answer.get(key) if isinstance(answer, dict) else None
            if not isinstance(page, list) or not all(
                _valid_item(i, key) and isinstance(i.get("id"), int | str) for i in page
            ):
                raise ApiError(f"GET {kind}: unexpected answer (no list of {key})")
            items.extend(page)
            if len(page) < self._page_size:
                return items
            query["marker"] = str(page[-1]["id"])  # masakari's markers are database ids

    # -- segments -----------------------------------------------------------------------
    def segments(self) -> list[dict]:
        """Every failover segment."""
        return self._list("/segments", "segments", "/segments")

    def create_segment(
        self, name: str, recovery_method: str, service_type: str, description: str = ""
    ) -> dict:
        """A new segment."""
        segment = {"name": name, "recovery_method": recovery_method, "service_type": service_type}
        if description:
            segment["description"] = description
        return _item(self.request("POST", "/segments", {"segment": segment}), "segment")

    def update_segment(self, uuid: str, **fields: object) -> dict:
        """Change a segment's ``fields``."""
        return _item(
            self.request("PUT", f"/segments/{uuid}", {"segment": fields}, kind="/segments/{id}"),
            "segment",
        )

    def delete_segment(self, uuid: str) -> None:
        """Delete an empty segment."""
        self.request("DELETE", f"/segments/{uuid}", kind="/segments/{id}")

    # -- hosts ------------------------------------------------------------------------------
    def hosts(self, segment_uuid: str) -> list[dict]:
        """Every host of a segment."""
        return self._list(f"/segments/{segment_uuid}/hosts", "hosts", "/segments/{id}/hosts")

    def add_host(
        self,
        segment_uuid: str,
        name: str,
        service_type: str,
        reserved: bool,
        control_attributes: str,
    ) -> dict:
        """Register host ``name`` in a segment."""
        host = {
            "name": name,
            "type": service_type,
            "control_attributes": control_attributes,
            "reserved": reserved,
        }
        answer = self.request(
            "POST", f"/segments/{segment_uuid}/hosts", {"host": host}, kind="/segments/{id}/hosts"
        )
        return _item(answer, "host")

    def update_host(self, segment_uuid: str, host_uuid: str, **fields: object) -> dict:
        """Change a host's ``fields`` (reserved, on_maintenance)."""
        answer = self.request(
            "PUT",
            f"/segments/{segment_uuid}/hosts/{host_uuid}",
            {"host": fields},
            kind="/segments/{id}/hosts/{id}",
        )
        return _item(answer, "host")

    def remove_host(self, segment_uuid: str, host_uuid: str) -> None:
        """Unregister a host."""
        self.request(
            "DELETE",
            f"/segments/{segment_uuid}/hosts/{host_uuid}",
            kind="/segments/{id}/hosts/{id}",
        )

    # -- notifications ------------------------------------------------------------------
    def notifications(self, **filters: str) -> list[dict]:
        """Every notification matching ``filters`` (status, source_host_uuid, type)."""
        return self._list("/notifications", "notifications", "/notifications", filters)

    def notification(self, uuid: str) -> dict:
        """One notification; from API 1.1 with its ``recovery_workflow_details``."""
        answer = self.request("GET", f"/notifications/{uuid}", kind="/notifications/{id}")
        return _item(answer, "notification")

    def vmoves(self, notification_uuid: str) -> list[dict]:
        """The instance moves of a host notification's recovery (API 1.3)."""
        self.require((1, 3), "VM moves")
        path = f"/notifications/{notification_uuid}/vmoves?limit={self._page_size}"
        return self._one_page(path, "/notifications/{id}/vmoves", "vmoves")

    def _one_page(self, path: str, kind: str, key: str) -> list[dict]:
        """The list ``key`` of one answer, every item valid; an ApiError otherwise."""
        answer = self.request("GET", path, kind=kind)
        found = answer.get(key) if isinstance(answer, dict) else None
        if not isinstance(found, list) or not all(_valid_item(i, key) for i in found):
            raise ApiError(f"GET {kind}: unexpected answer (no list of {key})")
        return found

    def recent_notifications(self, limit: int, **filters: str) -> list[dict]:
        """At most ``limit`` notifications matching ``filters``, newest first."""
        query = dict(filters, limit=str(min(limit, self._page_size)))
        query.update(sort_key="created_at", sort_dir="desc")
        path = f"/notifications?{urllib.parse.urlencode(query)}"
        return self._one_page(path, "/notifications", "notifications")


def _version_root(endpoint: str) -> str:
    """Where masakari serves its version document: the endpoint's path before ``/v1``."""
    parts = urllib.parse.urlsplit(endpoint)
    path = parts.path
    cut = path.find("/v1")
    prefix = path[:cut] if cut >= 0 else ""
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, f"{prefix}/", "", ""))


def _decode(raw: bytes, what: str) -> Any:
    """JSON of an answer; an ApiError when it is not JSON (a proxy's error page, say)."""
    try:
        return json.loads(raw)
    except (ValueError, TypeError):  # UnicodeDecodeError is a ValueError
        raise ApiError(f"{what}: the answer is not JSON") from None
    except RecursionError:
        raise ApiError(f"{what}: the answer is nested too deeply") from None


def _valid_item(item: Any, kind: str) -> bool:
    """Whether ``item`` has every key the charm reads of a ``kind``, with its type."""
    if not isinstance(item, dict):
        return False
    if not all(isinstance(item.get(k), str) for k in ITEM_KEYS[kind]):
        return False
    return kind not in ("hosts", "host") or all(
        isinstance(item.get(flag, False), bool) for flag in HOST_FLAGS
    )


def _item(answer: Any, key: str) -> dict:
    """``answer[key]`` of a masakari answer; an ApiError unless it is a valid ``key``."""
    if not isinstance(answer, dict) or not _valid_item(answer.get(key), key):
        raise ApiError(f"unexpected answer from masakari (no valid {key!r})")
    return answer[key]


def _find_endpoint(token_body: Any, service_type: str, region: str, interface: str) -> str:
    """The endpoint of ``service_type`` for ``interface`` in ``region`` from a token's catalog."""
    token = token_body.get("token") if isinstance(token_body, dict) else None
    catalog = token.get("catalog") if isinstance(token, dict) else None
    for service in catalog if isinstance(catalog, list) else []:
        if not isinstance(service, dict) or service.get("type") != service_type:
            continue
        endpoints = service.get("endpoints")
        for endpoint in endpoints if isinstance(endpoints, list) else []:
            if (
                isinstance(endpoint, dict)
                and isinstance(endpoint.get("url"), str)
                and endpoint["url"]
                and endpoint.get("interface") == interface
                and region in (endpoint.get("region_id"), endpoint.get("region"))
            ):
                return endpoint["url"].rstrip("/")
    raise ApiError(f"keystone's catalog has no {interface} {service_type} endpoint in {region}")
