"""An in-memory Keystone token endpoint, Masakari API and Nova, as a transport for MasakariApi.

It follows masakari 17's behaviour where the charm depends on it: host names unique
across segments (409), hosts checked against nova's compute services (400), no host or
segment changes while the segment recovers a host (409), ``limit`` capped by
``osapi_max_limit`` and markers that are database ids. Nova answers os-services (list,
and PUT by UUID at microversion 2.53) and the servers of a host.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import urllib.parse
import uuid as uuidlib

from masakari_api import ApiError

KEYSTONE = "http://10.5.0.11:35357"
ENDPOINT = "http://10.5.0.99:15868/v1/c0ffee"
NOVA = "http://10.5.0.98:8774/v2.1"


class FakeMasakari:
    """State of the fake deployment and the calls it answered."""

    def __init__(self, password: str = "ks-secret-pw", max_limit: int = 1000):
        self.password = password
        self.max_limit = max_limit
        self.segments: dict[str, dict] = {}
        self.hosts: dict[str, dict] = {}
        self.notifications: list[dict] = []
        self.compute_hosts: set[str] | None = None  # None: nova knows every name
        self.recovering: set[str] = set()  # segment uuids with a running recovery
        self.down = False
        self.fail: dict[str, int] = {}  # "METHOD /path" regular expression -> status
        self.calls: list[tuple[str, str]] = []
        # nova: host -> {"id", "status", "disabled_reason"}; a service per compute host
        # masakari knows (every host registered or added, when compute_hosts is None).
        self.services: dict[str, dict] = {}
        self.servers: dict[str, list[str]] = {}  # host -> instance names
        self._ids = itertools.count(1)
        self._lock = threading.Lock()  # the charm adds hosts from several threads
        self.max_version = "1.3"  # the newest microversion this masakari serves
        self.asked_versions: set[str] = set()  # OpenStack-API-Version values received
        self.asked = "1.0"  # the version of the call being answered
        self.recovery: dict[str, list[dict]] = {}  # notification uuid -> workflow details
        self.vmoves: dict[str, list[dict]] = {}  # notification uuid -> its VM moves

    # -- set-up helpers ------------------------------------------------------------------
    def add_segment(self, name: str, method: str = "auto", service_type: str = "COMPUTE") -> dict:
        segment = {
            "id": next(self._ids),
            "uuid": str(uuidlib.uuid4()),
            "name": name,
            "recovery_method": method,
            "service_type": service_type,
            "description": None,
            "enabled": True,
        }
        self.segments[segment["uuid"]] = segment
        return segment

    def add_host(self, segment: dict, name: str, reserved=False, maintenance=False) -> dict:
        host = {
            "id": next(self._ids),
            "uuid": str(uuidlib.uuid4()),
            "name": name,
            "failover_segment_id": segment["uuid"],
            "reserved": reserved,
            "on_maintenance": maintenance,
            "type": "COMPUTE",
            "control_attributes": "SSH",
        }
        self.hosts[host["uuid"]] = host
        return host

    def add_notification(self, host: dict, status: str) -> dict:
        notification = {
            "id": next(self._ids),
            "notification_uuid": str(uuidlib.uuid4()),
            "source_host_uuid": host["uuid"],
            "type": "COMPUTE_HOST",
            "status": status,
            "created_at": f"2026-11-22T05:{len(self.notifications):02d}:00.000000",
        }
        self.notifications.append(notification)
        return notification

    def segment_named(self, name: str) -> dict | None:
        return next((s for s in self.segments.values() if s["name"] == name), None)

    def members(self, segment_name: str) -> dict[str, dict]:
        segment = self.segment_named(segment_name)
        assert segment is not None, segment_name
        return {
            h["name"]: h
            for h in self.hosts.values()
            if h["failover_segment_id"] == segment["uuid"]
        }

    def writes(self) -> list[tuple[str, str]]:
        return [c for c in self.calls if c[0] not in ("GET",) and "auth/tokens" not in c[1]]

    # -- transport ------------------------------------------------------------------------
    def __call__(self, method, url, headers, body):
        with self._lock:
            return self._answer(method, url, headers, body)

    def _answer(self, method, url, headers, body):
        if self.down:
            raise ApiError("10.5.0.99:15868 did not answer (Connection refused)")
        parts = urllib.parse.urlsplit(url)
        self.calls.append((method, parts.path))
        for pattern, status in self.fail.items():
            if re.fullmatch(pattern, f"{method} {parts.path}"):
                return _error(status, "injected failure")
        data = json.loads(body) if body else None
        if url.startswith(KEYSTONE):
            return self._token(data)
        assert headers.get("X-Auth-Token") == "fake-token", "unauthenticated call"
        if url.startswith(NOVA):
            assert headers.get("OpenStack-API-Version") == "compute 2.53", headers
            path = parts.path.removeprefix(urllib.parse.urlsplit(NOVA).path)
            return self._nova(method, path, dict(urllib.parse.parse_qsl(parts.query)), data)
        if parts.path == "/":
            return _ok({"versions": [{"id": "v1.0", "version": self.max_version}]})
        asked = headers.get("OpenStack-API-Version", "instance-ha 1.0").split()
        assert asked[0] == "instance-ha", headers
        self.asked_versions.add(asked[1])
        self.asked = asked[1]
        if tuple(int(n) for n in asked[1].split(".")) > _version(self.max_version):
            return _error(406, f"Version {asked[1]} is not supported by the API.")
        path = parts.path.removeprefix(urllib.parse.urlsplit(ENDPOINT).path)
        query = dict(urllib.parse.parse_qsl(parts.query))
        return self._route(method, path.strip("/").split("/"), query, data)

    def _token(self, data):
        password = data["auth"]["identity"]["password"]["user"]["password"]
        if password != self.password:
            return _error(401, "The request you have made requires authentication.", 401)
        catalog = [
            {
                "type": "instance-ha",
                "endpoints": [
                    {"interface": i, "region_id": "RegionOne", "url": ENDPOINT}
                    for i in ("public", "internal", "admin")
                ],
            },
            {
                "type": "compute",
                "endpoints": [
                    {"interface": i, "region_id": "RegionOne", "url": NOVA}
                    for i in ("public", "internal", "admin")
                ],
            },
        ]
        body = json.dumps({"token": {"catalog": catalog}}).encode()
        return 201, {"X-Subject-Token": "fake-token"}, body

    def _page(self, items: list[dict], query: dict, key: str):
        items = sorted(items, key=lambda i: i["id"])
        limit = min(int(query.get("limit", self.max_limit)), self.max_limit)
        if "marker" in query:
            items = [i for i in items if i["id"] > int(query["marker"])]
        return _ok({key: items[:limit]})

    def _route(self, method, parts, query, data):
        if parts == ["notifications"]:
            return self._notifications(query)
        if parts[0] == "notifications":
            return self._notification(parts[1:])
        if parts == ["segments"]:
            return self._segments(method, query, data)
        segment = self.segments.get(parts[1])
        if segment is None:
            return _error(404, f"No failover segment with id {parts[1]}.")
        if len(parts) == 2:
            return self._segment(method, segment, data)
        if len(parts) == 3:
            return self._segment_hosts(method, segment, query, data)
        return self._host(method, segment, parts[3], data)

    def _segments(self, method, query, data):
        if method == "GET":
            return self._page(list(self.segments.values()), query, "segments")
        seg = data["segment"]
        if self.segment_named(seg["name"]):
            return _error(409, f"Failover segment with name {seg['name']} already exists.")
        created = self.add_segment(seg["name"], seg["recovery_method"], seg["service_type"])
        created["description"] = seg.get("description")
        return _ok({"segment": created}, 200)

    def _segment(self, method, segment, data):
        if method == "PUT":
            if segment["uuid"] in self.recovering:
                return _error(409, "Failover segment is in use")
            if "enabled" in data["segment"] and _version(self.asked) < (1, 2):
                return _error(400, "Additional properties are not allowed ('enabled')")
            segment.update(data["segment"])
            return _ok({"segment": segment})
        if any(h["failover_segment_id"] == segment["uuid"] for h in self.hosts.values()):
            return _error(409, "Failover segment has hosts")
        del self.segments[segment["uuid"]]
        return 204, {}, b""

    def _segment_hosts(self, method, segment, query, data):
        if method == "GET":
            members = [
                h for h in self.hosts.values() if h["failover_segment_id"] == segment["uuid"]
            ]
            if "name" in query:
                members = [h for h in members if h["name"] == query["name"]]
            return self._page(members, query, "hosts")
        wanted = data["host"]
        if self.compute_hosts is not None and wanted["name"] not in self.compute_hosts:
            return _error(400, f"Compute service of {wanted['name']} could not be found.")
        if any(h["name"] == wanted["name"] for h in self.hosts.values()):
            return _error(409, f"Host with name {wanted['name']} already exists.")
        host = self.add_host(segment, wanted["name"], reserved=wanted.get("reserved", False))
        host.update(type=wanted["type"], control_attributes=wanted["control_attributes"])
        return _ok({"host": host})

    def _host(self, method, segment, host_id, data):
        host = self.hosts.get(host_id)
        if host is None or host["failover_segment_id"] != segment["uuid"]:
            return _error(404, f"No host with id {host_id}.")
        if segment["uuid"] in self.recovering:
            return _error(409, f"Host {host['uuid']} is in use to process notifications.")
        if method == "PUT":
            host.update(data["host"])
            return _ok({"host": host})
        del self.hosts[host["uuid"]]
        return 204, {}, b""

    def service(self, host: str) -> dict:
        """Nova's nova-compute service of ``host`` (made enabled on first use)."""
        return self.services.setdefault(
            host, {"id": str(uuidlib.uuid4()), "status": "enabled", "disabled_reason": None}
        )

    def _nova(self, method, path, query, data):
        if method == "GET" and path == "/os-services":
            known = set(self.services) | {h["name"] for h in self.hosts.values()}
            if self.compute_hosts is not None:
                known |= self.compute_hosts
            hosts = [h for h in sorted(known) if query.get("host") in (None, h)]
            services = [
                {"binary": "nova-compute", "host": h, "zone": "nova", **self.service(h)}
                for h in hosts
            ]
            return _ok({"services": services})
        if method == "PUT" and path.startswith("/os-services/"):
            uuid = path.rsplit("/", 1)[1]
            found = next((s for s in self.services.values() if s["id"] == uuid), None)
            if found is None:
                return _error(404, f"Service {uuid} not found.")
            if data.get("status") == "enabled" and "disabled_reason" in data:
                return _error(400, "disabled_reason is only allowed with status disabled")
            found.update(status=data["status"], disabled_reason=data.get("disabled_reason"))
            return _ok({"service": found})
        if method == "GET" and path == "/servers/detail":
            assert query.get("all_tenants") == "1", query
            names = self.servers.get(query.get("host", ""), [])
            return _ok({"servers": [{"id": str(i), "name": n} for i, n in enumerate(names)]})
        return _error(404, f"nova: no {method} {path}")

    def _notification(self, parts):
        found = next((n for n in self.notifications if n["notification_uuid"] == parts[0]), None)
        if found is None:
            return _error(404, f"No notification with id {parts[0]}.")
        if parts[1:] == ["vmoves"]:
            if _version(self.asked) < (1, 3):
                return _error(404, "The resource could not be found.")
            if found["type"] != "COMPUTE_HOST":
                return _error(400, f"Notification {parts[0]} has no vmoves.")
            return _ok({"vmoves": self.vmoves.get(parts[0], [])})
        if _version(self.asked) >= (1, 1):
            details = self.recovery.get(parts[0], [])
            return _ok({"notification": {**found, "recovery_workflow_details": details}})
        return _ok({"notification": found})

    def _notifications(self, query):
        found = [
            n
            for n in self.notifications
            if all(n.get(k) == v for k, v in query.items() if k in ("status", "source_host_uuid"))
            and n.get("generated_time", n["created_at"]) >= query.get("generated-since", "")
        ]
        if query.get("sort_dir") == "desc":
            found = sorted(found, key=lambda n: n["created_at"], reverse=True)
        limit = min(int(query.get("limit", self.max_limit)), self.max_limit)
        if "marker" in query:
            found = [n for n in found if n["id"] > int(query["marker"])]
        return _ok({"notifications": found[:limit]})


def _version(text: str) -> tuple[int, int]:
    major, minor = text.split(".")
    return int(major), int(minor)


def _ok(body: dict, status: int = 200):
    return status, {}, json.dumps(body).encode()


def _error(status: int, message: str, code: int | None = None):
    kind = {400: "badRequest", 401: "error", 404: "itemNotFound", 409: "conflictingRequest"}
    body = {kind.get(status, "computeFault"): {"message": message, "code": code or status}}
    return status, {}, json.dumps(body).encode()


def http_handler(fake, origin_of) -> type:
    """A request handler answering over HTTP with ``fake`` (a transport).

    ``origin_of(handler)`` is the scheme://host:port the fake is to see the request at.
    """
    import http.server

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format, *args):  # noqa: A002 - the base class's name
            pass

        def _any(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            url = origin_of(self) + self.path
            status, headers, raw = fake(self.command, url, dict(self.headers), body)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = do_PUT = do_DELETE = _any  # noqa: N815 - http.server's names

    return Handler
