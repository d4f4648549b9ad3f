"""A TEST DOUBLE of the Nova compute API: the one service that cannot run here.

It answers exactly the calls masakari-engine, masakari-api, the masakari charm and the
suite's zaza configure step make (os-services list and enable/disable, os-hypervisors
list and detail, servers list/show, evacuate/stop/start/lock/unlock/resetState actions,
os-aggregates) with a small in-memory model of hosts and servers, and records every call
so that tests assert on them. Each compute service is one hypervisor, named as its
host. Evacuating a server moves it to the requested host, or to another enabled
compute host. A service is up (and nova refuses to evacuate from its host, as real nova
does with ``ComputeServiceInUse``) until ``service_down_time`` seconds after its
heartbeats stopped, when a test says they stopped (``/_double/heartbeats-stopped``);
otherwise it is seen down at once. Test set-up goes through ``/_double/*`` endpoints.

Run: ``python nova_test_double.py PORT`` (binds 127.0.0.1 only).
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

LOCK = threading.Lock()
STATE: dict = {"services": {}, "servers": {}, "aggregates": {}, "calls": []}


def _is_up(host: str) -> bool:
    """Whether nova still sees ``host``'s compute service up (its heartbeats are recent)."""
    svc = STATE["services"][host]
    stopped = svc.get("heartbeats_stopped_at")
    return stopped is not None and time.monotonic() - stopped < svc["service_down_time"]


def _service_view(host: str) -> dict:
    svc = STATE["services"][host]
    return {
        "id": svc["id"],
        "binary": "nova-compute",
        "host": host,
        "zone": "nova",
        "status": svc["status"],
        "state": "up" if _is_up(host) else "down",
        "disabled_reason": svc.get("reason"),
        "forced_down": False,
        "updated_at": "2026-11-22T00:00:00.000000",
    }


def _hypervisor_view(host: str, detail: bool) -> dict:
    """A hypervisor as microversion 2.53 shows it (UUID ids, its service inline)."""
    svc = STATE["services"][host]
    view = {
        "id": svc["hypervisor_id"],
        "hypervisor_hostname": host,
        "state": "up" if _is_up(host) else "down",
        "status": svc["status"],
    }
    if detail:
        view |= {
            "hypervisor_type": "QEMU",
            "host_ip": "127.0.0.1",
            "service": {"host": host, "id": svc["id"], "disabled_reason": svc.get("reason")},
        }
    return view


def _server_view(server: dict) -> dict:
    return {
        "id": server["id"],
        "name": server["name"],
        "status": server["vm_state"].upper(),
        "metadata": server["metadata"],
        "locked": server["locked"],
        "tenant_id": "demo",
        "OS-EXT-STS:vm_state": server["vm_state"],
        "OS-EXT-STS:task_state": None,
        "OS-EXT-STS:power_state": 1 if server["vm_state"] == "active" else 4,
        "OS-EXT-SRV-ATTR:host": server["host"],
        "OS-EXT-SRV-ATTR:hypervisor_hostname": server["host"],
    }


class Handler(BaseHTTPRequestHandler):
    """Routes the Nova API subset and the test set-up endpoints."""

    def log_message(self, *_args) -> None:  # quiet: calls are recorded in STATE
        return

    def _send(self, code: int, body: dict | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-OpenStack-Nova-API-Version", "2.53")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}") if length else {}

    def _record(self, method: str, body: dict | None = None) -> None:
        STATE["calls"].append({"method": method, "path": self.path, "body": body})

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        with LOCK:
            if url.path == "/_double/calls":
                return self._send(200, {"calls": STATE["calls"]})
            if url.path == "/_double/servers":
                return self._send(200, {"servers": list(STATE["servers"].values())})
            self._record("GET")
            path = url.path.removeprefix("/v2.1")
            if path in ("", "/"):
                # The version document, with the self link version discovery follows
                # (openstacksdk reads it before its first call).
                version = {
                    "id": "v2.1",
                    "status": "CURRENT",
                    "version": "2.95",
                    "min_version": "2.1",
                    "links": [{"rel": "self", "href": f"http://{self.headers['Host']}/v2.1/"}],
                }
                if url.path.startswith("/v2.1"):
                    return self._send(200, {"version": version})
                return self._send(200, {"versions": [version]})
            if path == "/os-services":
                hosts = [h for h in STATE["services"] if query.get("host") in (None, h)]
                return self._send(200, {"services": [_service_view(h) for h in hosts]})
            if path in ("/os-hypervisors", "/os-hypervisors/detail"):
                detail = path.endswith("/detail")
                views = [_hypervisor_view(h, detail) for h in sorted(STATE["services"])]
                return self._send(200, {"hypervisors": views})
            if path == "/servers/detail":
                servers = [
                    s for s in STATE["servers"].values() if query.get("host") in (None, s["host"])
                ]
                return self._send(200, {"servers": [_server_view(s) for s in servers]})
            match = re.fullmatch(r"/servers/([^/]+)", path)
            if match and match[1] in STATE["servers"]:
                return self._send(200, {"server": _server_view(STATE["servers"][match[1]])})
            if path == "/os-aggregates":
                return self._send(200, {"aggregates": list(STATE["aggregates"].values())})
            return self._send(404, {"itemNotFound": {"code": 404, "message": "not found"}})

    def do_PUT(self) -> None:  # noqa: N802
        body = self._body()
        with LOCK:
            self._record("PUT", body)
            match = re.fullmatch(r"/v2\.1/os-services/([^/]+)", urlparse(self.path).path)
            host = next(
                (h for h, s in STATE["services"].items() if match and s["id"] == match[1]), None
            )
            if host is None:
                return self._send(404, {"itemNotFound": {"code": 404, "message": "no service"}})
            STATE["services"][host]["status"] = body.get("status", "enabled")
            STATE["services"][host]["reason"] = body.get("disabled_reason")
            return self._send(200, {"service": _service_view(host)})

    def do_POST(self) -> None:  # noqa: N802
        body = self._body()
        path = urlparse(self.path).path
        with LOCK:
            if path == "/_double/service":
                STATE["services"][body["host"]] = {
                    "id": str(uuid.uuid4()),
                    "hypervisor_id": str(uuid.uuid4()),
                    "status": body.get("status", "enabled"),
                }
                return self._send(200, {})
            if path == "/_double/heartbeats-stopped":
                service = STATE["services"][body["host"]]
                service["heartbeats_stopped_at"] = time.monotonic()
                service["service_down_time"] = body["service_down_time"]
                return self._send(200, {})
            if path == "/_double/server":
                server_id = str(uuid.uuid4())
                STATE["servers"][server_id] = {
                    "id": server_id,
                    "name": body["name"],
                    "host": body["host"],
                    "vm_state": "active",
                    "locked": False,
                    "metadata": body.get("metadata", {"HA_Enabled": "True"}),
                }
                return self._send(200, {"id": server_id})
            if path == "/_double/aggregate":
                agg_id = len(STATE["aggregates"]) + 1
                STATE["aggregates"][agg_id] = {
                    "id": agg_id,
                    "name": body["name"],
                    "hosts": body["hosts"],
                    "availability_zone": None,
                    "metadata": {},
                }
                return self._send(200, {"id": agg_id})
            self._record("POST", body)
            match = re.fullmatch(r"/v2\.1/servers/([^/]+)/action", path)
            if match and match[1] in STATE["servers"]:
                return self._server_action(STATE["servers"][match[1]], body)
            match = re.fullmatch(r"/v2\.1/os-aggregates/(\d+)/action", path)
            if match and int(match[1]) in STATE["aggregates"]:
                aggregate = STATE["aggregates"][int(match[1])]
                host = body.get("add_host", {}).get("host")
                if host in aggregate["hosts"]:
                    return self._send(
                        409, {"conflictingRequest": {"code": 409, "message": "already"}}
                    )
                aggregate["hosts"].append(host)
                return self._send(200, {"aggregate": aggregate})
            return self._send(404, {"itemNotFound": {"code": 404, "message": "not found"}})

    def _server_action(self, server: dict, body: dict) -> None:
        action = next(iter(body), "")
        if action == "evacuate":
            if _is_up(server["host"]):
                message = f"Compute service of {server['host']} is still in use."
                return self._send(400, {"badRequest": {"code": 400, "message": message}})
            target = (body["evacuate"] or {}).get("host")
            if target is None:
                candidates = [
                    h
                    for h, s in sorted(STATE["services"].items())
                    if s["status"] == "enabled" and h != server["host"]
                ]
                if not candidates:
                    return self._send(
                        400, {"badRequest": {"code": 400, "message": "No valid host"}}
                    )
                target = candidates[0]
            server["host"] = target
            return self._send(200, {})
        if action == "os-stop":
            server["vm_state"] = "stopped"
        elif action == "os-start":
            server["vm_state"] = "active"
        elif action == "lock":
            server["locked"] = True
        elif action == "unlock":
            server["locked"] = False
        elif action == "os-resetState":
            server["vm_state"] = body["os-resetState"]["state"]
        else:
            return self._send(400, {"badRequest": {"code": 400, "message": f"unknown {action}"}})
        return self._send(202)


def main(port: int) -> None:
    """Serve on 127.0.0.1:``port`` until terminated."""
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main(int(sys.argv[1]))
