"""The API client's HTTP layer against a real HTTP server on loopback."""

from __future__ import annotations

import http.server
import json
import socket
import threading

import pytest
from masakari_api import ApiError, Credentials, MasakariApi, UnsupportedError, urllib_transport

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
        self.server.versions_asked.append(self.headers.get("OpenStack-API-Version"))
        if self.path == "/" and self.server.version_document is not None:
            self._answer(200, self.server.version_document)
        elif self.headers["X-Auth-Token"] != "tok":
            self._answer(401, {"error": {"message": "no"}})
        elif self.path.startswith("/v1/p/segments"):
            self._answer(200, {"segments": [SEGMENT]})
        else:
            self._answer(500, b"<html>proxy error</html>")


SERVERS: dict[int, http.server.ThreadingHTTPServer] = {}


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.version_document = {"versions": [{"id": "v1.0", "version": "1.3"}]}
    httpd.versions_asked = []
    SERVERS[httpd.server_address[1]] = httpd
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
    assert dict(api.calls) == {"token": 1, "GET versions": 1, "GET /segments": 1}
    # The version document is asked without a version; the list at the negotiated one.
    assert SERVERS[server].versions_asked == [None, "instance-ha 1.3"]
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


@pytest.mark.parametrize(
    ("document", "spoken"),
    [
        ({"versions": [{"id": "v1.0", "version": "1.2", "min_version": "1.0"}]}, "1.2"),
        ({"versions": [{"id": "v1.0", "version": "1.9"}]}, "1.3"),  # newer than the client
        ({"versions": [{"id": "v1.0", "version": ""}]}, "1.0"),  # names none: 1.0
        ({"versions": [{"id": "v1.0", "version": "1.x"}]}, "1.0"),
        ({"choices": []}, "1.0"),
        (None, "1.0"),  # no document at all (an HTTP error): 1.0
    ],
)
def test_speaks_the_highest_microversion_both_sides_know(server, document, spoken):
    SERVERS[server].version_document = document
    api = MasakariApi(creds(server))
    api.segments()
    assert SERVERS[server].versions_asked[-1] == f"instance-ha {spoken}"


def test_a_feature_newer_than_the_server_is_refused_naming_its_release(server):
    SERVERS[server].version_document = {"versions": [{"id": "v1.0", "version": "1.2"}]}
    api = MasakariApi(creds(server))
    api.require((1, 2), "disable-segment")
    with pytest.raises(UnsupportedError, match=r"list-vmoves needs masakari API 1\.3") as err:
        api.require((1, 3), "list-vmoves")
    assert "2023.1 antelope" in str(err.value) and "offers 1.2" in str(err.value)
