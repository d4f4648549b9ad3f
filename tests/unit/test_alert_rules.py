"""The charms' Prometheus and Loki alert rules, checked and unit-tested with real tools.

Prometheus rules (``charms/*/src/cos/prometheus_alert_rules/*.rules``) get the Juju topology
the way the cos_agent library gives it (``%%juju_topology%%`` becomes
``juju_model="m", juju_model_uuid="u", juju_application="a"``), then Prometheus' own
``promtool`` checks them and runs ``alert_rule_tests/<name>.yaml`` on them: every alert has
series that fire it and series that must not. Only the promtool parts skip, and only
when promtool is not installed (``tests/functional/install-prerequisites.sh`` installs it).

Every metric a rule uses must be one the exporters export: the ``METRIC_FAMILIES`` of the
three exporter modules (read with ``ast``, the charm code is not imported) and the
families of the haproxy page in ``alert_rule_tests/haproxy_metrics.txt`` (haproxy 2.6's
own exporter; a real haproxy re-checks the names used when one is installed).

Loki rules (``charms/*/src/cos/loki_alert_rules/*.rules``) select their streams with the
placeholder only, and each line filter is text the real masakari / masakarimonitors code
logs, wherever that source is available (the functional tests' release venvs).
"""

from __future__ import annotations

import ast
import http.server
import importlib.util
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULE_TESTS = Path(__file__).resolve().parent / "alert_rule_tests"
HAPROXY_FIXTURE = RULE_TESTS / "haproxy_metrics.txt"
PLACEHOLDER = "%%juju_topology%%"
# What openstack_charm_lib.cos_agent writes for the placeholder (as the brief's matchers).
TOPOLOGY = 'juju_model="m", juju_model_uuid="u", juju_application="a"'
SEVERITIES = {"critical", "warning", "info"}

PROMETHEUS_RULES = sorted(ROOT.glob("charms/*/src/cos/prometheus_alert_rules/*.rules"))
LOKI_RULES = sorted(ROOT.glob("charms/*/src/cos/loki_alert_rules/*.rules"))

# Where each charm's exporter lists its families (METRIC_FAMILIES: name -> help).
EXPORTERS = (
    ROOT / "charms" / "masakari" / "src" / "masakari_exporter.py",
    ROOT / "charms" / "masakari-monitors" / "src" / "monitors_health.py",
    ROOT / "charms" / "pacemaker-remote" / "src" / "remote_node_health.py",
)
# Labels the collector adds to every scraped series (not the exporters').
TARGET_LABELS = {"juju_model", "juju_model_uuid", "juju_application", "juju_unit", "instance"}
# The Python package whose log lines each charm's Loki rules match.
LOGGING_PACKAGE = {"masakari": "masakari", "masakari-monitors": "masakarimonitors"}


# -- shared with test_dashboard.py: what the exporters export, what an expression uses --


def metric_families(module: Path) -> set[str]:
    """The keys of ``METRIC_FAMILIES`` in ``module``, read from its source."""
    tree = ast.parse(module.read_text(), str(module))
    strings: dict[str, str] = {}
    for node in tree.body:
        target, value = _assignment(node)
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            strings[target] = value.value
        if target == "METRIC_FAMILIES":
            assert isinstance(value, ast.Dict), f"{module}: METRIC_FAMILIES is not a dict literal"
            return {_string(key, strings, module) for key in value.keys}
    raise AssertionError(f"{module} defines no METRIC_FAMILIES")


def _assignment(node: ast.stmt) -> tuple[str, ast.expr | None]:
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = node.targets[0]
        return (target.id if isinstance(target, ast.Name) else "", node.value)
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id, node.value
    return "", None


def _string(node: ast.expr | None, strings: dict[str, str], module: Path) -> str:
    # A key is a string, or the name of a module-level string constant.
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name) and node.id in strings:
        return strings[node.id]
    shown = ast.unparse(node) if node else "**"  # None: a ** unpacking
    raise AssertionError(f"{module}: a METRIC_FAMILIES key is not a string: {shown}")


def haproxy_families(page: str) -> dict[str, set[str]]:
    """Each family of a Prometheus text page with the label names its samples carry."""
    families: dict[str, set[str]] = {}
    for line in page.splitlines():
        if not line or line.startswith("#"):
            continue
        name, labels = parse_series(line.rsplit(" ", 1)[0])
        families.setdefault(name, set()).update(labels)
    return families


def parse_series(series: str) -> tuple[str, dict[str, str]]:
    """``name{a="1",b="2"}`` as its name and labels."""
    match = re.fullmatch(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})?", series.strip())
    assert match, series
    labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
    return match.group(1), labels


def exported_metrics() -> set[str]:
    """Every metric the suite's exporters and haproxy export."""
    names = set(haproxy_families(HAPROXY_FIXTURE.read_text()))
    for module in EXPORTERS:
        names |= metric_families(module)
    return names


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"' + r"|'(?:[^'\\]|\\.)*'")
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_BRACES = re.compile(r"\{[^}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_OFFSET = re.compile(r"\boffset\s+-?[\w$]+")
_IDENTIFIER = re.compile(r"(?<![\w:$.])[a-zA-Z_:][\w:]*(?![\w:])(?!\s*\()")
_KEYWORDS = {"and", "or", "unless", "bool", "inf", "nan", "offset"}


def metric_selectors(expr: str) -> Iterator[tuple[str, int]]:
    """Each metric name a PromQL expression selects, with where its name ends.

    Strings, label lists (``by (...)``), label matchers, ranges and offsets are blanked
    out (keeping positions); what is left that is no function or keyword is a metric.
    """
    blank = expr
    for pattern in (_STRING, _LABEL_LIST, _BRACES, _RANGE, _OFFSET):
        blank = pattern.sub(lambda m: " " * len(m.group()), blank)
    for match in _IDENTIFIER.finditer(blank):
        if match.group() not in _KEYWORDS:
            yield match.group(), match.end()


def metric_names(expr: str) -> set[str]:
    return {name for name, _ in metric_selectors(expr)}


def test_metric_families_reads_the_dict_without_importing(tmp_path: Path):
    module = tmp_path / "exporter.py"
    module.write_text(
        'import nothing_installed\nUP = "x_up"\n'
        'METRIC_FAMILIES: dict[str, str] = {UP: "1 when up", "x_total": "count"}\n'
    )
    assert metric_families(module) == {"x_up", "x_total"}
    module.write_text("METRIC_FAMILIES = {**OTHER}\n")
    with pytest.raises(AssertionError, match="not a string: \\*\\*"):
        metric_families(module)
    module.write_text("FAMILIES = {}\n")
    with pytest.raises(AssertionError, match="defines no METRIC_FAMILIES"):
        metric_families(module)


def test_metric_selectors_finds_metrics_and_only_metrics():
    expr = (
        'max without (instance, juju_unit) (a_total{x="b c", y=~"d{1}"} offset 30m)'
        " * on (z) group_left (w) label_replace(rate(c:d[$__rate_interval]) == 1,"
        ' "e", "$1", "f", "(.*)") > bool 1e3 and time() - g'
    )
    assert metric_names(expr) == {"a_total", "c:d", "g"}
    assert [end for _, end in metric_selectors("up{a='b'} or foo")] == [2, 16]


# -- Prometheus rules ----------------------------------------------------------------


def rules_id(path: Path) -> str:
    """A rules file's test id: its charm, kind and name."""
    charm, _, _, kind, name = path.relative_to(ROOT).parts[1:]
    return f"{charm}:{kind}:{name}"


def load_rules(path: Path) -> list[dict]:
    document = yaml.safe_load(path.read_text())
    assert list(document) == ["groups"], path
    assert document["groups"], path
    return [rule for group in document["groups"] for rule in group["rules"]]


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool is not installed (Debian/Ubuntu package prometheus)")
    return found


def stage_rules(path: Path, directory: Path, topology: str = TOPOLOGY) -> Path:
    """The rules file with the topology substituted, beside a copy of its promtool test."""
    staged = directory / path.name
    staged.write_text(path.read_text().replace(PLACEHOLDER, topology))
    shutil.copy(RULE_TESTS / f"{path.stem}.yaml", directory)
    return staged


def run_promtool(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    argv = [promtool(), *map(str, args)]
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_there_are_rules_for_each_charm():
    charms = {p.relative_to(ROOT).parts[1] for p in PROMETHEUS_RULES}
    assert charms == {"masakari", "masakari-monitors", "pacemaker-remote"}
    assert {p.relative_to(ROOT).parts[1] for p in LOKI_RULES} == set(LOGGING_PACKAGE)
    stems = [p.stem for p in PROMETHEUS_RULES]
    assert len(stems) == len(set(stems)), "promtool test files are named by rules file"


@pytest.mark.parametrize("path", PROMETHEUS_RULES + LOKI_RULES, ids=rules_id)
def test_every_rule_is_complete(path: Path):
    for rule in load_rules(path):
        name = rule.get("alert")
        assert name and rule.get("expr"), rule
        assert re.fullmatch(r"\d+[smh]", str(rule.get("for", ""))), f"{name}: no for:"
        assert rule["labels"]["severity"] in SEVERITIES, name
        annotations = rule["annotations"]
        assert set(annotations) == {"summary", "description"}, name
        assert all(len(text) > 20 for text in annotations.values()), name
        # On-call text: it names what failed from the labels and says what to run.
        assert "{{ $labels." in annotations["summary"] + annotations["description"], name
        assert re.search(r"`[^`]+`", annotations["description"]), name


def test_alert_names_are_unique_across_the_suite():
    names = [rule["alert"] for path in PROMETHEUS_RULES + LOKI_RULES for rule in load_rules(path)]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("path", PROMETHEUS_RULES, ids=rules_id)
def test_every_selector_carries_the_topology(path: Path):
    for rule in load_rules(path):
        expr = rule["expr"]
        for name, end in metric_selectors(expr):
            assert expr[end:].startswith("{" + PLACEHOLDER), f"{rule['alert']}: {name}"


@pytest.mark.parametrize("path", PROMETHEUS_RULES, ids=rules_id)
def test_rules_use_only_exported_metrics(path: Path):
    exported = exported_metrics()
    for rule in load_rules(path):
        assert metric_names(rule["expr"]) - exported == set(), rule["alert"]


@pytest.mark.parametrize("path", PROMETHEUS_RULES, ids=rules_id)
def test_promtool_accepts_the_rules(path: Path, tmp_path: Path):
    staged = stage_rules(path, tmp_path)
    result = run_promtool("check", "rules", staged, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(load_rules(path))} rules found" in result.stdout


@pytest.mark.parametrize("path", PROMETHEUS_RULES, ids=rules_id)
def test_promtool_unit_tests_pass(path: Path, tmp_path: Path):
    stage_rules(path, tmp_path)
    result = run_promtool("test", "rules", f"{path.stem}.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize("path", PROMETHEUS_RULES, ids=rules_id)
def test_promtool_unit_tests_fail_for_another_applications_rules(path: Path, tmp_path: Path):
    # The same rules published by another application match none of the test series:
    # the tests notice, and no rule matches series outside its own topology.
    stage_rules(path, tmp_path, TOPOLOGY.replace('"a"', '"another"'))
    result = run_promtool("test", "rules", f"{path.stem}.yaml", cwd=tmp_path)
    assert result.returncode != 0, result.stdout


@pytest.mark.parametrize("path", PROMETHEUS_RULES, ids=rules_id)
def test_every_alert_has_cases_that_fire_and_cases_that_do_not(path: Path):
    cases = yaml.safe_load((RULE_TESTS / f"{path.stem}.yaml").read_text())
    assert cases["rule_files"] == [path.name]
    fire: set[str] = set()
    quiet: set[str] = set()
    for test in cases["tests"]:
        for check in test["alert_rule_test"]:
            (fire if check["exp_alerts"] else quiet).add(check["alertname"])
    alerts = {rule["alert"] for rule in load_rules(path)}
    assert fire == alerts
    assert quiet == alerts


def test_haproxy_test_series_are_what_haproxy_exports():
    families = haproxy_families(HAPROXY_FIXTURE.read_text())
    cases = yaml.safe_load((RULE_TESTS / "haproxy.yaml").read_text())
    series = [s["series"] for test in cases["tests"] for s in test["input_series"]]
    assert series
    for text in series:
        name, labels = parse_series(text)
        assert name in families, name
        assert set(labels) - TARGET_LABELS == families[name], text


# -- the haproxy fixture against a real haproxy ----------------------------------------


class _Health(http.server.BaseHTTPRequestHandler):
    """Answers every request with the server's status code (200 healthy, 503 failing)."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _health_server(status: int) -> http.server.ThreadingHTTPServer:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    server.status = status  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


HAPROXY_CONFIG = """\
global
    maxconn 100
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend prometheus
    bind 127.0.0.1:{metrics}
    mode http
    http-request use-service prometheus-exporter if {{ path /metrics }}
    http-request return status 404
frontend tcp-in_masakari-api
    bind 127.0.0.1:{api}
    default_backend masakari-api_10.5.0.10
{backends}"""
HAPROXY_BACKEND = """\
backend masakari-api_{address}
    option httpchk
    http-check send meth GET uri /healthcheck ver HTTP/1.1 hdr Host localhost
    http-check expect status 200
{servers}"""


def test_a_real_haproxy_exports_what_the_rules_and_fixture_use(tmp_path: Path):
    """A real haproxy exporter, with servers UP, failing L7 and refusing: what rules use."""
    # Debian and Ubuntu install it in /usr/sbin, which a user's PATH may leave out.
    haproxy = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin")
    if haproxy is None:
        pytest.skip("haproxy is not installed")
    healthy, failing = _health_server(200), _health_server(503)
    refused = _free_port()  # nothing listens there

    def server(name: str, port: int) -> str:
        return f"    server {name} 127.0.0.1:{port} check inter 100 fall 2 rise 1\n"

    mixed = HAPROXY_BACKEND.format(
        address="10.5.0.10",
        servers=server("masakari-0", healthy.server_port)
        + server("masakari-1", failing.server_port)
        + server("masakari-2", refused),
    )
    none_up = HAPROXY_BACKEND.format(address="10.6.0.10", servers=server("masakari-0", refused))
    metrics = _free_port()
    config = tmp_path / "haproxy.cfg"
    config.write_text(
        HAPROXY_CONFIG.format(metrics=metrics, api=_free_port(), backends=mixed + none_up)
    )
    proc = subprocess.Popen([haproxy, "-db", "-f", str(config)], stderr=subprocess.PIPE)
    try:
        page = _page_once_checks_settle(f"http://127.0.0.1:{metrics}/metrics", proc)
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
        for health in (healthy, failing):
            health.shutdown()
            health.server_close()
    live = haproxy_families(page)
    fixture = haproxy_families(HAPROXY_FIXTURE.read_text())
    used = set()
    for path in PROMETHEUS_RULES:
        for rule in load_rules(path):
            used |= {n for n in metric_names(rule["expr"]) if n.startswith("haproxy_")}
    assert used
    for name in used:
        assert live[name] == fixture[name], name
    # What the alerts look for is what this haproxy says about these servers.
    lines = [line for line in page.splitlines() if line and not line.startswith("#")]
    samples = dict(line.rsplit(" ", 1) for line in lines)
    server_l7 = 'proxy="masakari-api_10.5.0.10",server="masakari-1"'
    assert samples[f'haproxy_server_status{{{server_l7},state="DOWN"}}'] == "1"
    assert samples[f'haproxy_server_check_status{{{server_l7},state="L7STS"}}'] == "1"
    assert samples['haproxy_backend_active_servers{proxy="masakari-api_10.6.0.10"}'] == "0"
    assert samples['haproxy_backend_active_servers{proxy="masakari-api_10.5.0.10"}'] == "1"


def _page_once_checks_settle(url: str, proc: subprocess.Popen[bytes]) -> str:
    """The exporter's page once every failing server is DOWN (haproxy starts them UP)."""
    deadline = time.monotonic() + 20
    page = ""
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else "haproxy exited"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                page = response.read().decode()
        except OSError:
            page = ""
        settled = (
            'haproxy_backend_active_servers{proxy="masakari-api_10.5.0.10"} 1',
            'haproxy_backend_active_servers{proxy="masakari-api_10.6.0.10"} 0',
        )
        if all(sample in page for sample in settled):
            return page
        time.sleep(0.2)
    raise AssertionError(f"haproxy's checks did not settle:\n{page[:2000]}")


# -- Loki rules ------------------------------------------------------------------------

_LINE_FILTER = re.compile(r'\|=\s*"((?:[^"\\]|\\.)*)"')
_STREAM_SELECTOR = re.compile(r"\{[^}]*\}")


@pytest.mark.parametrize("path", LOKI_RULES, ids=rules_id)
def test_loki_rules_select_by_topology_and_filter_lines(path: Path):
    for rule in load_rules(path):
        expr = rule["expr"]
        assert _STREAM_SELECTOR.findall(expr) == ["{" + PLACEHOLDER + "}"], rule["alert"]
        assert _LINE_FILTER.findall(expr), rule["alert"]
        assert re.search(r"count_over_time\(.*\[\d+[smh]\]\s*\)", expr, re.S), rule["alert"]
        assert expr.count("(") == expr.count(")"), rule["alert"]
        # Substituted as the library does, it is still one stream selector of matchers.
        selector = _STREAM_SELECTOR.findall(expr.replace(PLACEHOLDER, TOPOLOGY))
        assert selector == ["{" + TOPOLOGY + "}"]


def package_sources(package: str) -> list[Path]:
    """Installed copies of ``package``: this interpreter's, the functional release venvs'."""
    found = []
    spec = importlib.util.find_spec(package)
    if spec and spec.submodule_search_locations:
        found += [Path(p) for p in spec.submodule_search_locations]
    releases = ROOT / "build" / "releases"
    found += sorted(releases.glob(f"services-*/lib/python3*/site-packages/{package}"))
    return found


def logged_texts(package_dir: Path) -> tuple[set[str], set[str]]:
    """The string constants of a package's code (tests left out) and its module names."""
    constants: set[str] = set()
    modules: set[str] = set()
    for source in package_dir.rglob("*.py"):
        relative = source.relative_to(package_dir.parent).with_suffix("")
        if "tests" in relative.parts:
            continue
        modules.add(".".join(relative.parts))
        tree = ast.parse(source.read_bytes(), str(source))
        constants |= {
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
        }
    return constants, modules


@pytest.mark.parametrize("path", LOKI_RULES, ids=rules_id)
def test_loki_line_filters_are_what_the_services_log(path: Path):
    package = LOGGING_PACKAGE[path.relative_to(ROOT).parts[1]]
    sources = package_sources(package)
    if not sources:
        pytest.skip(f"no {package} source here (tox -e func builds the release venvs)")
    filters = {text for rule in load_rules(path) for text in _LINE_FILTER.findall(rule["expr"])}
    for source in sources:
        constants, modules = logged_texts(source)
        for text in filters:
            # A message fragment, or the logger's name oslo.log writes into each line.
            assert text in modules or any(text in c for c in constants), (text, source)
