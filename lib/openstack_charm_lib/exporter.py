"""Prometheus metrics over HTTP: metric families, text rendering and a small server.

The exporter daemons of the charms (masakari state, monitors health, pacemaker remote
node health) run on the machine's system python3, so this module is stdlib only and
imports nothing from the rest of the library: the charms copy it next to a daemon as a
single file.

``render`` writes the Prometheus text exposition format 0.0.4 in a deterministic order
(families as given, samples sorted by labels), so that equal state gives equal bytes.
``MetricsServer`` answers ``GET /metrics`` from a ``collect()`` callable; collections are
serialised and the last one is reused for ``min_interval`` seconds, so that several
scrapers (or a scraper retrying) cost one collection of the backing API.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

logger = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
KINDS = ("gauge", "counter")

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")

Labels = tuple[tuple[str, str], ...]
Sample = tuple[Labels, float]


@dataclasses.dataclass(frozen=True)
class Family:
    """One metric family: a name, its help text, its kind and its samples.

    Each sample is (label pairs sorted by name, value); a sample without labels has ().
    """

    name: str
    help: str
    kind: str
    samples: tuple[Sample, ...]


def family(
    name: str,
    help: str,
    kind: str = "gauge",
    samples: Iterable[tuple[Mapping[str, str], float]] = (),
) -> Family:
    """A validated ``Family`` from (labels dict, value) pairs, samples sorted by labels.

    Raises ValueError for a name, label name or kind Prometheus would reject, and for two
    samples with the same labels (a scraper would drop the whole exposition).
    """
    if not _METRIC_NAME.match(name):
        raise ValueError(f"invalid metric name {name!r}")
    if kind not in KINDS:
        raise ValueError(f"invalid metric kind {kind!r} for {name}")
    built: list[Sample] = []
    for labels, value in samples:
        for label in labels:
            if not _LABEL_NAME.match(label) or label.startswith("__"):
                raise ValueError(f"invalid label name {label!r} for {name}")
        pairs = tuple(sorted((k, str(v)) for k, v in labels.items()))
        built.append((pairs, float(value)))
    built.sort(key=lambda sample: sample[0])
    for before, after in zip(built, built[1:], strict=False):
        if before[0] == after[0]:
            raise ValueError(f"duplicate sample {dict(after[0])} for {name}")
    return Family(name=name, help=help, kind=kind, samples=tuple(built))


def format_value(value: float) -> str:
    """A sample value as Prometheus writes it: NaN, +Inf, -Inf, integers without '.0'."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    # Integral values (counts, 0/1 states, unix seconds) read better without ".0"; beyond
    # 2**53 a float no longer holds every integer, so repr() keeps it exact there.
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _sample_line(name: str, labels: Labels, value: float) -> str:
    if not labels:
        return f"{name} {format_value(value)}"
    inner = ",".join(f'{k}="{_escape_label_value(v)}"' for k, v in labels)
    return f"{name}{{{inner}}} {format_value(value)}"


def render(families: Iterable[Family]) -> str:
    """The text exposition (format 0.0.4) of ``families``, in the order given.

    A family without samples still gets its HELP and TYPE lines, so that a scraper sees it
    is known. Raises ValueError when two families share a name.
    """
    lines: list[str] = []
    seen: set[str] = set()
    for fam in families:
        if fam.name in seen:
            raise ValueError(f"duplicate metric family {fam.name}")
        seen.add(fam.name)
        lines.append(f"# HELP {fam.name} {_escape_help(fam.help)}")
        lines.append(f"# TYPE {fam.name} {fam.kind}")
        # Families built directly (not through family()) are sorted here too.
        for labels, value in sorted(fam.samples, key=lambda sample: sample[0]):
            lines.append(_sample_line(fam.name, labels, value))
    return "".join(line + "\n" for line in lines)


class MetricsServer:
    """Serves ``GET /metrics`` on (address, port) from ``collect()``; threaded.

    Collections are serialised by a lock and the result (or failure) of the last one is
    reused for ``min_interval`` seconds. A ``collect()`` that raises gives HTTP 500 with a
    one-line message naming only the exception type (its text may carry anything), is
    logged once, and the server keeps serving. Port 0 picks a free port: see
    ``server_port``. The socket is bound on construction.
    """

    def __init__(
        self,
        address: str,
        port: int,
        collect: Callable[[], Iterable[Family]],
        min_interval: float = 15.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._collect = collect
        self._min_interval = min_interval
        self._clock = clock
        self._collect_lock = threading.Lock()
        # (when collected, HTTP status, body) of the last collection.
        self._last: tuple[float, int, bytes] | None = None
        self._state_lock = threading.Lock()
        self._serving = False
        self._closed = False
        self.collections = 0  # how many times collect() ran; for tests and benchmarks
        self._httpd = _QuietHTTPServer((address, port), _handler_class(self))

    @property
    def server_port(self) -> int:
        """The TCP port the server is bound to."""
        return self._httpd.server_address[1]

    def scrape(self) -> tuple[int, bytes]:
        """(HTTP status, body) for one scrape: a fresh collection or the cached one."""
        with self._collect_lock:
            now = self._clock()
            if self._last is not None and now - self._last[0] < self._min_interval:
                return self._last[1], self._last[2]
            self.collections += 1
            try:
                status, body = 200, render(self._collect()).encode("utf-8")
            except Exception as exc:  # any bug in a collector must not stop the server
                logger.error("metrics collection failed", exc_info=True)
                status = 500
                body = f"metrics collection failed: {type(exc).__name__}\n".encode()
            # Timed after the collection: a slow API must not make the cache look stale.
            self._last = (self._clock(), status, body)
            return status, body

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Handle requests until ``shutdown()``; returns at once if already shut down."""
        with self._state_lock:
            if self._closed:
                return
            self._serving = True
        self._httpd.serve_forever(poll_interval)

    def shutdown(self) -> None:
        """Stop ``serve_forever`` (from another thread) and close the socket."""
        with self._state_lock:
            self._closed = True
            serving = self._serving
        # socketserver's shutdown() waits for serve_forever to end: it would wait forever
        # had serve_forever never been called.
        if serving:
            self._httpd.shutdown()
        self._httpd.server_close()


class _QuietHTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a stuck client thread must not keep the daemon from exiting

    def handle_error(self, request: object, client_address: object) -> None:
        # socketserver prints a traceback to stderr for each failed request (typically a
        # scraper that hung up mid-answer); that is noise, not a fault of the exporter.
        logger.debug("request from %s failed", client_address, exc_info=True)


def _handler_class(server: MetricsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # A client that connects and sends nothing must not hold a thread forever.
        timeout = 30

        def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
            if self.path.split("?", 1)[0] != "/metrics":
                self._reply(404, b"not found; metrics are at /metrics\n")
                return
            self._reply(*server.scrape())

        def _reply(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            # http.server writes every request to stderr; a scraper every few seconds
            # would fill the journal. Keep it at debug level.
            logger.debug("%s %s", self.address_string(), format % args)

    return Handler
