"""The suite's Grafana dashboard (charms/masakari/src/cos/grafana_dashboards/masakari.json).

It must load in Grafana the way COS provisions it: valid JSON, panels with ids on the
24-column grid, every query on the ``${prometheusds}`` datasource variable (the name the
COS Grafana library substitutes), every ``$variable`` defined. Every metric a query uses
is one the exporters export (the same source of truth as the alert rules'), and
Prometheus' own parser (``promtool``) accepts every query.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from test_alert_rules import ROOT, exported_metrics, metric_names, run_promtool

DASHBOARD = ROOT / "charms" / "masakari" / "src" / "cos" / "grafana_dashboards" / "masakari.json"
PROMETHEUS_DS = {"type": "prometheus", "uid": "${prometheusds}"}
# The variables the COS Grafana library (grafana_dashboard) inserts unless an equal one is
# there: the dashboard carries them as the library writes them, so none appears twice.
_COS_DATASOURCE = {
    "description": None,
    "error": None,
    "hide": 0,
    "includeAll": True,
    "multi": True,
    "options": [],
    "refresh": 1,
    "regex": "",
    "skipUrlSync": False,
    "type": "datasource",
}
_COS_MODEL_QUERY = "label_values(up,juju_model)"
COS_VARIABLES = {
    "prometheusds": {
        **_COS_DATASOURCE,
        "label": "Prometheus datasource",
        "name": "prometheusds",
        "query": "prometheus",
    },
    "lokids": {**_COS_DATASOURCE, "label": "Loki datasource", "name": "lokids", "query": "loki"},
    "juju_model": {
        "allValue": ".*",
        "datasource": "${prometheusds}",
        "definition": _COS_MODEL_QUERY,
        "description": None,
        "error": None,
        "hide": 0,
        "includeAll": True,
        "label": "Juju model",
        "multi": True,
        "name": "juju_model",
        "query": {"query": _COS_MODEL_QUERY, "refId": "StandardVariableQuery"},
        "refresh": 1,
        "regex": "",
        "skipUrlSync": False,
        "sort": 0,
        "tagValuesQuery": "",
        "tags": [],
        "tagsQuery": "",
        "type": "query",
        "useTags": False,
    },
}
GRAFANA_VARIABLES = {"__rate_interval", "__interval", "__range", "__all"}
# Grafana writes $name or ${name}; $1 in label_replace is a regex group, not a variable.
_VARIABLE = re.compile(r"\$\{?([A-Za-z_]\w*)\}?")


def load() -> dict:
    return json.loads(DASHBOARD.read_text())


def panels() -> list[dict]:
    return [p for p in load()["panels"] if p["type"] != "row"]


def variables() -> dict[str, dict]:
    return {v["name"]: v for v in load()["templating"]["list"]}


def queries() -> list[str]:
    """Every PromQL query: panel targets and query variables."""
    exprs = [t["expr"] for p in panels() for t in p["targets"]]
    for variable in variables().values():
        if variable["type"] == "query":
            exprs.append(re.sub(r"^label_values\((.*),\s*\w+\)$", r"\1", variable["definition"]))
    return exprs


def test_the_dashboard_is_grafana_json():
    dashboard = load()
    assert dashboard["title"]
    assert isinstance(dashboard["schemaVersion"], int)
    assert dashboard["panels"] and dashboard["templating"]["list"]
    assert len(dashboard.get("uid", "")) <= 40  # Grafana's limit (COS sets its own)


def test_datasources_are_the_cos_variables():
    listed = variables()
    for name, expected in COS_VARIABLES.items():
        assert listed[name] == expected, name
    for panel in panels():
        assert panel["datasource"] == PROMETHEUS_DS, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == PROMETHEUS_DS, panel["title"]
    for variable in listed.values():
        if variable["type"] == "query":
            assert variable["datasource"] in (PROMETHEUS_DS, "${prometheusds}"), variable["name"]
            assert variable["query"]["query"] == variable["definition"], variable["name"]


def test_panels_have_ids_targets_and_a_place_on_the_grid():
    every = load()["panels"]
    ids = [p["id"] for p in every]
    assert all(isinstance(i, int) for i in ids) and len(ids) == len(set(ids))
    boxes = []
    for panel in every:
        assert panel["title"] and panel["type"], panel
        pos = panel["gridPos"]
        assert all(isinstance(pos[k], int) and pos[k] >= 0 for k in "hwxy"), panel["title"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        boxes.append((panel["title"], pos))
    for i, (title, a) in enumerate(boxes):
        for other, b in boxes[i + 1 :]:
            apart = (
                a["x"] + a["w"] <= b["x"]
                or b["x"] + b["w"] <= a["x"]
                or a["y"] + a["h"] <= b["y"]
                or b["y"] + b["h"] <= a["y"]
            )
            assert apart, f"{title!r} overlaps {other!r}"
    for panel in panels():
        targets = panel["targets"]
        assert targets, panel["title"]
        assert all(t["expr"].strip() for t in targets), panel["title"]
        refs = [t["refId"] for t in targets]
        assert len(refs) == len(set(refs)), panel["title"]


def test_every_variable_used_is_defined():
    defined = set(variables()) | GRAFANA_VARIABLES
    texts = queries() + [v["definition"] for v in variables().values() if "definition" in v]
    for text in texts:
        assert set(_VARIABLE.findall(text)) <= defined, text


def test_queries_use_only_exported_metrics():
    # ``up`` is Prometheus' own series of every scrape target (the COS model variable).
    exported = exported_metrics() | {"up"}
    for expr in queries():
        assert metric_names(expr), expr
        assert metric_names(expr) <= exported, expr


@pytest.mark.parametrize(
    "metric",
    [
        "masakari_api_up",
        "masakari_segment_enabled",
        "masakari_segment_hosts",
        "masakari_host_on_maintenance",
        "masakari_segment_hosts_reserved",
        "masakari_notifications",
        "masakari_notification_oldest_unfinished_age_seconds",
        "masakari_last_recovery_finished_timestamp_seconds",
        "haproxy_backend_active_servers",
        "masakari_monitor_running",
        "masakari_monitor_progressing",
        "pacemaker_remote_node_online",
    ],
)
def test_a_panel_shows(metric: str):
    shown = [p for p in panels() if any(metric in metric_names(t["expr"]) for t in p["targets"])]
    assert shown, metric
    if metric.startswith("masakari_monitor_"):
        # one row per hypervisor's monitor: the masakari-monitors unit names it
        assert all("{{juju_unit}}" in t["legendFormat"] for p in shown for t in p["targets"])


def test_hosts_on_maintenance_is_a_table_of_hosts():
    (panel,) = [p for p in panels() if p["title"] == "Hosts on maintenance"]
    assert panel["type"] == "table"
    assert panel["targets"][0]["format"] == "table" and panel["targets"][0]["instant"]
    organize = panel["transformations"][0]["options"]
    assert organize["indexByName"] == {"segment": 0, "host": 1}


def test_promtool_parses_every_query(tmp_path: Path):
    # Grafana's variables become values Prometheus parses: a range, a regex.
    def concrete(expr: str) -> str:
        expr = re.sub(r"\$\{?__\w+\}?", "5m", expr)
        return _VARIABLE.sub(".*", expr)

    rules = [
        {"record": f"dashboard:query_{i}", "expr": concrete(expr)}
        for i, expr in enumerate(queries())
    ]
    path = tmp_path / "dashboard.rules"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = run_promtool("check", "rules", path, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout
