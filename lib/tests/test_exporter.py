"""The metrics library: families, the text exposition read back by strict parsers, the server."""

from __future__ import annotations

import ast
import math
import re
import socket
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from openstack_charm_lib import exporter
from openstack_charm_lib.exporter import Family, MetricsServer, family, render

# -- a strict reader of the text format 0.0.4 -------------------------------------------
_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SAMPLE = re.compile(rf"({_NAME})(?:\{{(.*)\}})? (\S+)\Z")
_VALUE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)\Z")
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


def _labels(text: str) -> tuple[tuple[str, str], ...]:
    r"""``a="x",b="y\\"z"`` as pairs; anything off the grammar is an AssertionError."""
    pairs: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        match = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)=\"").match(text, i)
        assert match, f"bad label at {text[i:]!r}"
        i = match.end()
        value = []
        while text[i] != '"':
            if text[i] == "\\":
                assert text[i + 1] in _ESCAPES, f"bad escape in {text!r}"
                value.append(_ESCAPES[text[i + 1]])
                i += 2
            else:
                assert text[i] != "\n"
                value.append(text[i])
                i += 1
        pairs.append((match.group(1), "".join(value)))
        i += 1
        if i < len(text):
            assert text[i] == ",", f"expected ',' in {text!r}"
            i += 1
    names = [k for k, _ in pairs]
    assert len(set(names)) == len(names), f"repeated label in {text!r}"
    return tuple(pairs)


def _value(text: str) -> float:
    if text in ("NaN", "+Inf", "-Inf"):
        return float(text.replace("Inf", "inf").replace("NaN", "nan"))
    assert _VALUE.match(text), f"bad value {text!r}"
    return float(text)


def _unescape_help(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\":
            assert text[i + 1] in "\\n", f"bad escape in help {text!r}"
            out.append("\\" if text[i + 1] == "\\" else "\n")
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def parse(text: str) -> dict[str, tuple[str, str, dict[tuple[tuple[str, str], ...], float]]]:
    """Map name -> (help, type, {labels: value}); each family HELP, TYPE, then its samples."""
    assert text == "" or text.endswith("\n"), "the exposition must end with a newline"
    families: dict[str, tuple[str, str, dict]] = {}
    current: str | None = None
    lines = text.split("\n")[:-1]
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("# HELP "):
            name, _, help_text = line[len("# HELP ") :].partition(" ")
            assert re.fullmatch(_NAME, name) and name not in families, line
            kind_line = lines[i + 1]
            assert kind_line.startswith(f"# TYPE {name} "), f"no TYPE after {line!r}"
            kind = kind_line.split(" ", 3)[3]
            assert kind in ("gauge", "counter", "untyped", "summary", "histogram"), kind
            families[name] = (_unescape_help(help_text), kind, {})
            current = name
            i += 2
            continue
        assert not line.startswith("#"), f"stray comment {line!r}"
        match = _SAMPLE.match(line)
        assert match and current is not None, f"bad sample line {line!r}"
        assert match.group(1) == current, f"{line!r} outside its family"
        labels = _labels(match.group(2) or "")
        samples = families[current][2]
        assert labels not in samples, f"repeated series {line!r}"
        samples[labels] = _value(match.group(3))
        i += 1
    return families


# -- families and rendering ----------------------------------------------------------
AWKWARD = 'back\\slash "quoted"\nnew line'


def sample_families() -> list[Family]:
    return [
        family(
            "t_segment_hosts",
            "Hosts of a segment\nsecond line \\ backslash",
            samples=[({"segment": "zeta"}, 3), ({"segment": AWKWARD}, 1), ({"segment": "a"}, 0)],
        ),
        family("t_up", "Up", samples=[({}, 1)]),
        family("t_empty", "No samples yet"),
        family(
            "t_values",
            "Special values",
            samples=[
                ({"v": "nan"}, math.nan),
                ({"v": "inf"}, math.inf),
                ({"v": "-inf"}, -math.inf),
                ({"v": "tenth"}, 0.1),
                ({"v": "tiny"}, 1e-9),
                ({"v": "big"}, 2.0**60),
                ({"v": "neg"}, -7),
                ({"v": "true"}, True),
            ],
        ),
        family("t_calls_total", "A counter", "counter", [({"b": "2", "a": "1"}, 5)]),
    ]


def test_render_reads_back_exactly_through_a_strict_parser():
    text = render(sample_families())
    parsed = parse(text)
    assert list(parsed) == ["t_segment_hosts", "t_up", "t_empty", "t_values", "t_calls_total"]
    help_text, kind, samples = parsed["t_segment_hosts"]
    assert help_text == "Hosts of a segment\nsecond line \\ backslash"
    assert kind == "gauge"
    assert samples == {
        (("segment", "zeta"),): 3,
        (("segment", AWKWARD),): 1,
        (("segment", "a"),): 0,
    }
    assert parsed["t_up"][2] == {(): 1}
    assert parsed["t_empty"][2] == {}
    values = {dict(k)["v"]: v for k, v in parsed["t_values"][2].items()}
    assert math.isnan(values.pop("nan"))
    assert values == {
        "inf": math.inf,
        "-inf": -math.inf,
        "tenth": 0.1,
        "tiny": 1e-9,
        "big": 2.0**60,
        "neg": -7,
        "true": 1,
    }
    assert parsed["t_calls_total"][1] == "counter"
    assert parsed["t_calls_total"][2] == {(("a", "1"), ("b", "2")): 5}


def test_render_writes_the_expected_bytes():
    text = render(sample_families()[:2])
    assert text == (
        "# HELP t_segment_hosts Hosts of a segment\\nsecond line \\\\ backslash\n"
        "# TYPE t_segment_hosts gauge\n"
        't_segment_hosts{segment="a"} 0\n'
        't_segment_hosts{segment="back\\\\slash \\"quoted\\"\\nnew line"} 1\n'
        't_segment_hosts{segment="zeta"} 3\n'
        "# HELP t_up Up\n"
        "# TYPE t_up gauge\n"
        "t_up 1\n"
    )
    assert render([]) == ""


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (1.0, "1"),
        (-3, "-3"),
        (0.25, "0.25"),
        (1e-9, "1e-09"),
        (2.0**53, "9007199254740992.0"),
        (math.nan, "NaN"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
    ],
)
def test_values_are_formatted_as_prometheus_reads_them(value, text):
    assert exporter.format_value(float(value)) == text
    assert _value(text) == value or math.isnan(value)


def test_order_is_deterministic_whatever_the_order_of_samples():
    forward = family("t", "h", samples=[({"x": str(i)}, i) for i in range(20)])
    backward = family("t", "h", samples=[({"x": str(i)}, i) for i in reversed(range(20))])
    assert render([forward]) == render([backward])
    # A family built by hand, samples unsorted, renders in the same order.
    by_hand = Family("t", "h", "gauge", tuple(reversed(forward.samples)))
    assert render([by_hand]) == render([forward])


def test_label_pairs_are_sorted_by_name():
    built = family("t", "h", samples=[({"z": "1", "a": "2", "m": "3"}, 1)])
    assert built.samples == ((((("a", "2"), ("m", "3"), ("z", "1"))), 1.0),)


@pytest.mark.parametrize(
    ("name", "kind", "samples", "complaint"),
    [
        ("1bad", "gauge", [], "invalid metric name"),
        ("bad-name", "gauge", [], "invalid metric name"),
        ("ok", "histogram", [], "invalid metric kind"),
        ("ok", "gauge", [({"bad-label": "x"}, 1)], "invalid label name"),
        ("ok", "gauge", [({"__reserved": "x"}, 1)], "invalid label name"),
        ("ok", "gauge", [({"a": "x"}, 1), ({"a": "x"}, 2)], "duplicate sample"),
        ("ok", "gauge", [({}, 1), ({}, 2)], "duplicate sample"),
    ],
)
def test_family_refuses_what_a_scraper_would_reject(name, kind, samples, complaint):
    with pytest.raises(ValueError, match=complaint):
        family(name, "h", kind, samples)


def test_two_families_of_one_name_are_refused():
    with pytest.raises(ValueError, match="duplicate metric family t"):
        render([family("t", "a"), family("t", "b")])


def test_prometheus_client_reads_the_exposition_the_same():
    parser = pytest.importorskip("prometheus_client.parser")
    theirs = {f.name: f for f in parser.text_string_to_metric_families(render(sample_families()))}
    ours = parse(render(sample_families()))
    # prometheus_client drops a counter's _total suffix from the family name.
    assert set(theirs) == {n.removesuffix("_total") for n in ours}
    for name, (help_text, kind, samples) in ours.items():
        fam = theirs[name.removesuffix("_total")]
        assert (fam.documentation, fam.type) == (help_text, kind)
        read = {tuple(sorted(s.labels.items())): s.value for s in fam.samples}
        assert read.keys() == samples.keys()
        for labels, value in samples.items():
            assert read[labels] == value or (math.isnan(value) and math.isnan(read[labels]))


def test_the_module_imports_only_the_standard_library():
    # The daemons run it on the system python3 as a single copied file.
    tree = ast.parse(Path(exporter.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "a relative import would need the rest of the package"
            imported.add((node.module or "").split(".")[0])
    assert imported - {"__future__"} <= sys.stdlib_module_names


# -- the server ----------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Collector:
    """A collect() that counts its calls, can be slowed down and can fail."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail: Exception | None = None
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self) -> list[Family]:
        self.calls += 1
        self.gate.wait(10)
        if self.fail is not None:
            raise self.fail
        return [family("t_collections", "Collections so far", samples=[({}, self.calls)])]


@pytest.fixture
def served():
    """A MetricsServer on loopback, in a thread, with a fake clock; shut down after."""
    collector, clock = Collector(), Clock()
    server = MetricsServer("127.0.0.1", 0, collector, min_interval=30, clock=clock)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server, collector, clock
    server.shutdown()
    thread.join(5)
    assert not thread.is_alive()


def get(server: MetricsServer, path: str = "/metrics") -> tuple[int, str, str]:
    url = f"http://127.0.0.1:{server.server_port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read().decode()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.headers["Content-Type"], err.read().decode()


def test_metrics_are_served_and_cached_for_min_interval(served, capfd):
    server, collector, clock = served
    status, content_type, body = get(server)
    assert status == 200
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    assert parse(body)["t_collections"][2] == {(): 1}
    clock.now += 29
    assert get(server)[2] == body  # cached
    assert get(server, "/metrics?name[]=x")[2] == body  # a query string is the same page
    assert collector.calls == 1 and server.collections == 1
    clock.now += 1
    assert parse(get(server)[2])["t_collections"][2] == {(): 2}
    assert capfd.readouterr() == ("", "")  # no per-request lines on stderr or stdout


def test_concurrent_scrapers_cost_one_collection(served):
    server, collector, _ = served
    collector.gate.clear()  # the first collection is slow: the others queue behind it
    results: list[tuple[int, str, str]] = []
    threads = [threading.Thread(target=lambda: results.append(get(server))) for _ in range(8)]
    for thread in threads:
        thread.start()
    collector.gate.set()
    for thread in threads:
        thread.join(10)
    assert len(results) == 8
    assert {r[2] for r in results} == {results[0][2]}
    assert collector.calls == 1


@pytest.mark.parametrize("path", ["/", "/metric", "/metrics/", "/metrics/x", "/favicon.ico"])
def test_other_paths_are_not_found(served, path):
    server, collector, _ = served
    status, _, body = get(server, path)
    assert status == 404 and "/metrics" in body
    assert collector.calls == 0


def test_a_failing_collection_is_a_500_and_the_server_keeps_serving(served, capfd, caplog):
    server, collector, clock = served
    collector.fail = RuntimeError("password=hunter2 leaked into an exception")
    status, content_type, body = get(server)
    assert status == 500
    assert content_type.startswith("text/plain")
    assert body == "metrics collection failed: RuntimeError\n"
    assert "hunter2" not in body
    assert "metrics collection failed" in caplog.text  # logged, with its traceback
    # The failure is cached like a success: scrapers retrying do not hammer the backend.
    assert get(server)[0] == 500 and collector.calls == 1
    collector.fail = None
    clock.now += 30
    status, _, body = get(server)
    assert status == 200 and parse(body)["t_collections"][2] == {(): 2}
    assert capfd.readouterr().err == ""


def test_a_render_error_is_a_500_too(served):
    server, collector, _ = served
    server._collect = lambda: [family("t", "a"), family("t", "b")]
    status, _, body = get(server)
    assert (status, body) == (500, "metrics collection failed: ValueError\n")


def test_a_zero_interval_collects_every_scrape(served):
    server, collector, _ = served
    server._min_interval = 0
    for _ in range(3):
        get(server)
    assert collector.calls == 3


def test_other_methods_are_refused_quietly(served, capfd):
    server, collector, _ = served
    request = urllib.request.Request(f"http://127.0.0.1:{server.server_port}/metrics", b"x")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=10)
    err.value.close()
    assert err.value.code == 501
    assert collector.calls == 0
    assert capfd.readouterr().err == ""


def test_a_client_that_hangs_up_leaves_no_traceback_on_stderr(served, capfd):
    server, _, _ = served
    try:
        raise BrokenPipeError("client went away")
    except BrokenPipeError:
        server._httpd.handle_error(None, ("127.0.0.1", 1))  # what socketserver calls
    with socket.create_connection(("127.0.0.1", server.server_port), timeout=5) as sock:
        sock.sendall(b"BREW /metrics HTTP/1.1\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.0 501")
    assert get(server)[0] == 200
    assert capfd.readouterr().err == ""


def test_shutdown_without_serving_does_not_hang_and_frees_the_port():
    server = MetricsServer("127.0.0.1", 0, list)
    port = server.server_port
    server.shutdown()
    server.serve_forever()  # after shutdown: returns at once
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # the port is free again


def test_default_interval_and_an_empty_collection():
    server = MetricsServer("127.0.0.1", 0, list)
    try:
        assert server._min_interval == 15.0
        assert server.scrape() == (200, b"")
    finally:
        server.shutdown()
