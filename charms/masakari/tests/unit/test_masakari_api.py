"""The API client's HTTP layer against a real HTTP server on loopback."""

from __future__ import annotations

import http.server
import json
import socket
import threading

import pytest
from masakari_api import ApiError, Credentials, MasakariApi, urllib_transport

SEGMENT = {"id": 1, "uuid": "u", "name": "s", "recovery_method": "auto", "service_type": "C"}


class Handler(http.server.BaseHTTPRequestHandler):
    """Keystone and a Masakari endpoint in one: tokens, a list, errors."""

    def log_message(self, *args):
        pass

    def _answer(self, status, body, headers=None):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_POST(self):
        port = self.server.server_address[1]
        catalog = [
            {"type": "compute", "endpoints": []},
            {
                "type": "instance-ha",
                "endpoints": [
                    {"interface": "public", "region_id": "RegionTwo", "url": "http://x/"},
                    {
                        "interface": "internal",
                        "region": "RegionOne",
                        "url": f"http://127.0.0.1:{port}/v1/p/",
                    },
                ],
            },
        ]
        self._answer(201, {"token": {"catalog": catalog}}, {"X-Subject-Token": "tok"})

    def do_GET(self):
        if self.headers["X-Auth-Token"] != "tok":
            self._answer(401, {"error": {"message": "no"}})
        elif self.path.startswith("/v1/p/segments"):
            self._answer(200, {"segments": [SEGMENT]})
        else:
            self._answer(500, b"<html>proxy error</html>")


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def creds(port: int, interface="internal", region="RegionOne") -> Credentials:
    return Credentials(
        f"http://127.0.0.1:{port}", "masakari", "pw", "d", "services", "d", region, interface
    )


def test_finds_the_endpoint_in_the_catalog_and_lists(server):
    api = MasakariApi(creds(server))
    assert api.segments() == [SEGMENT]
    assert dict(api.calls) == {"token": 1, "GET /segments": 1}
    with pytest.raises(ApiError, match=r"GET /nothing: HTTP 500$") as err:
        api.request("GET", "/nothing")
    assert err.value.status == 500


def test_a_missing_endpoint_names_interface_and_region(server):
    with pytest.raises(ApiError, match="no admin instance-ha endpoint in RegionOne"):
        MasakariApi(creds(server, interface="admin")).segments()


def test_nothing_listening_is_an_api_error_naming_the_address():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ApiError, match=f"127.0.0.1:{port} did not answer") as err:
        urllib_transport("GET", f"http://127.0.0.1:{port}/", {}, None)
    assert err.value.status is None


def test_the_password_is_not_in_the_credentials_repr():
    assert "pw'" not in repr(creds(1))
