"""The cos_agent provider: the unit bag decodes the way the collector charms decode it."""

from __future__ import annotations

import base64
import json
import lzma
import shutil
import subprocess
from pathlib import Path

import ops
import pytest
import yaml
from openstack_charm_lib import cos_agent
from openstack_charm_lib.cos_agent import Observability, ScrapeJob, Topology
from openstack_charm_testing.consumers import consumer_decode
from ops import testing

UUID = "12345678-1234-4234-8234-123456789abc"
META = {
    "name": "masakari",
    "provides": {"cos-agent": {"interface": "cos_agent", "limit": 1}},
}
OFFER = Observability(
    scrape_jobs=(ScrapeJob("masakari", 9868), ScrapeJob("haproxy", 8405)),
    log_files=("/var/log/masakari/masakari-engine.log", "/var/log/masakari/masakari-api.log"),
    metrics_rules_dir=Path("src/prometheus_alert_rules"),
    log_rules_dir=Path("src/loki_alert_rules"),
    dashboards_dir=Path("src/grafana_dashboards"),
)
GROUPS = """
groups:
  - name: masakari-api
    rules:
      - alert: MasakariApiDown
        expr: masakari_api_up{%%juju_topology%%} == 0
        for: 5m
        labels: {severity: critical}
        annotations: {summary: "masakari API unreachable"}
      - alert: MasakariSelf
        expr: up{%%juju_topology%%, job=~".*masakari.*"} < 1
        labels: {severity: warning, juju_application: elsewhere}
"""
SINGLE = """
alert: HostsOnMaintenance
expr: sum(masakari_host_on_maintenance) > 0
"""
LOG_RULES = """
groups:
  - name: engine-errors
    rules:
      - alert: EngineErrors
        expr: 'sum(rate({%%juju_topology%%, filename=~".*engine.*"} |= "ERROR" [5m])) > 0'
"""
DASHBOARD = {"title": "Masakari", "panels": [{"title": "hosts", "type": "stat"}]}


class Probe(ops.CharmBase):
    """Publishes :data:`OFFER` on config-changed."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        framework.observe(self.on.config_changed, self._publish)

    def _publish(self, _):
        cos_agent.publish(self, "cos-agent", OFFER)


def charm_root(root: Path, files: dict[str, str] | None = None) -> Path:
    defaults = {
        "src/prometheus_alert_rules/api.rules": GROUPS,
        "src/prometheus_alert_rules/maintenance.rule": SINGLE,
        "src/loki_alert_rules/engine.rules": LOG_RULES,
        "src/grafana_dashboards/masakari.json": json.dumps(DASHBOARD),
    }
    for name, text in {**defaults, **(files or {})}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def run(root: Path, local: dict[str, str] | None = None, relations: int = 1):
    ctx = testing.Context(Probe, meta=META, charm_root=root, app_name="masakari")
    rels = [
        testing.Relation("cos-agent", remote_app_name="otelcol", local_unit_data=local or {})
        for _ in range(relations)
    ]
    state = testing.State(relations=rels, model=testing.Model(name="cloud", uuid=UUID))
    out = ctx.run(ctx.on.config_changed(), state)
    return [r.local_unit_data for r in out.relations]


def rules_by_alert(rules: dict) -> dict[str, dict]:
    return {rule["alert"]: rule for group in rules["groups"] for rule in group["rules"]}


def test_the_bag_decodes_as_the_collector_decodes_it(tmp_path):
    (bag,) = run(charm_root(tmp_path))
    assert set(bag) >= {"config"}
    data = consumer_decode(bag)
    assert data["log_slots"] == []
    assert data["log_files"] == sorted(OFFER.log_files)
    jobs = {
        job["metrics_path"] + job["static_configs"][0]["targets"][0]: job
        for job in data["metrics_scrape_jobs"]
    }
    assert set(jobs) == {"/metrics127.0.0.1:9868", "/metrics127.0.0.1:8405"}
    masakari = jobs["/metrics127.0.0.1:9868"]
    assert masakari["job_name"].startswith("masakari_masakari_") and masakari["scheme"] == "http"
    (dashboard,) = data["dashboards"]
    assert dashboard["title"] == "Masakari" and dashboard["panels"] == DASHBOARD["panels"]
    assert dashboard["tags"] == ["charm: masakari"]
    assert dashboard["uid"] == cos_agent.dashboard_uid(
        "masakari", "src/grafana_dashboards/masakari.json"
    )
    assert len(dashboard["uid"]) == 40 and int(dashboard["uid"], 16) >= 0


def test_every_rule_carries_the_topology(tmp_path):
    data = consumer_decode(run(charm_root(tmp_path))[0])
    topology = {
        "juju_model": "cloud",
        "juju_model_uuid": UUID,
        "juju_charm": "masakari",
    }
    for rules in (data["metrics_alert_rules"], data["log_alert_rules"]):
        for group in rules["groups"]:
            assert group["name"].startswith("cloud_12345678_masakari_")
            assert group["name"].endswith("_rules")
            for rule in group["rules"]:
                assert topology.items() <= rule["labels"].items()
                assert "juju_application" in rule["labels"]
                assert "%%juju_topology%%" not in rule["expr"]
    metrics = rules_by_alert(data["metrics_alert_rules"])
    assert set(metrics) == {
        "MasakariApiDown",
        "MasakariSelf",
        "HostsOnMaintenance",
        "HostDown",
        "HostMetricsMissing",
    }
    api = metrics["MasakariApiDown"]
    assert api["expr"] == (
        f'masakari_api_up{{juju_model="cloud", juju_model_uuid="{UUID}", '
        'juju_application="masakari"} == 0'
    )
    assert api["labels"]["severity"] == "critical" and api["for"] == "5m"
    # A label the author set wins, in the labels and in the matchers built from them.
    own = metrics["MasakariSelf"]
    assert own["labels"]["juju_application"] == "elsewhere"
    assert own["expr"].startswith('up{juju_model="cloud", juju_model_uuid="')
    assert 'juju_application="elsewhere", job=~".*masakari.*"} < 1' in own["expr"]
    names = [g["name"] for g in data["metrics_alert_rules"]["groups"]]
    assert names == [
        "cloud_12345678_masakari_HostHealth_rules",
        "cloud_12345678_masakari_masakari_api_rules",
        "cloud_12345678_masakari_maintenance_rules",  # a single rule: named after its file
    ]
    (logs,) = data["log_alert_rules"]["groups"]
    assert logs["rules"][0]["expr"].startswith('sum(rate({juju_model="cloud", ')
    assert 'juju_application="masakari", filename=~' in logs["rules"][0]["expr"]


def test_a_replay_writes_nothing(tmp_path, monkeypatch):
    root = charm_root(tmp_path)
    (first,) = run(root)
    written: list[str] = []
    original = ops.RelationDataContent.__setitem__

    def spy(self, key, value):
        written.append(key)
        original(self, key, value)

    monkeypatch.setattr(ops.RelationDataContent, "__setitem__", spy)
    (second,) = run(root, local=dict(first))
    assert second == first
    assert written == []
    # A changed file is written again, and only the key that changed.
    (root / "src/prometheus_alert_rules/maintenance.rule").write_text(SINGLE.replace("0\n", "1\n"))
    (third,) = run(root, local={**first, "other": "kept"})
    assert written == ["config"] and third["other"] == "kept"
    assert third["config"] != first["config"]


def test_every_relation_of_the_endpoint_gets_the_bag(tmp_path):
    bags = run(charm_root(tmp_path), relations=2)
    assert len(bags) == 2 and bags[0]["config"] == bags[1]["config"]


def test_no_relation_reads_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr(cos_agent, "unit_bag", lambda *a, **k: pytest.fail("read files"))
    assert run(charm_root(tmp_path), relations=0) == []


BROKEN = {
    "src/prometheus_alert_rules/bad_yaml.rules": "groups: [ {name: x, rules: [",
    "src/prometheus_alert_rules/no_expr.rules": "groups: [{name: a, rules: [{alert: A}]}]",
    "src/prometheus_alert_rules/no_name.rules": "groups: [{rules: [{alert: A, expr: up}]}]",
    "src/prometheus_alert_rules/both.rules": "alert: A\nrecord: a\nexpr: up\n",
    "src/prometheus_alert_rules/list.rules": "- alert: A\n  expr: up\n",
    "src/prometheus_alert_rules/empty.rules": "",
    "src/prometheus_alert_rules/bad_labels.rules": "alert: A\nexpr: up\nlabels: {severity: 1}\n",
    "src/prometheus_alert_rules/bad_label_name.rules": "alert: A\nexpr: up\nlabels: {a-b: c}\n",
    "src/prometheus_alert_rules/bad_for.rules": "alert: A\nexpr: up\nfor: 5\n",
    "src/prometheus_alert_rules/date.rules": "groups: [{name: d, x: 2024-01-01, rules: []}]",
    "src/prometheus_alert_rules/alias.rules": "groups: [{name: d, rules: &r [*r]}]",
    "src/prometheus_alert_rules/groups_map.rules": "groups: {name: x}",
    "src/prometheus_alert_rules/rules_map.rules": "groups: [{name: x, rules: {}}]",
    "src/prometheus_alert_rules/dup.rules": "groups: [{name: masakari-api, rules: []}]",
    "src/prometheus_alert_rules/twice.rules": "groups: [{name: t, rules: []}, {name: t, rules: []}]",  # noqa: E501
    "src/prometheus_alert_rules/binary.rules": "\udcff",
    "src/prometheus_alert_rules/group_scalar.rules": "groups: [1]",
    "src/prometheus_alert_rules/other_map.rules": "foo: bar",
    "src/prometheus_alert_rules/notes.txt": "not a rules file: ignored",
    "src/grafana_dashboards/broken.json": "{",
    "src/grafana_dashboards/array.json": "[]",
    "src/grafana_dashboards/tags.json": json.dumps({"title": "t", "tags": "x"}),
}


def test_invalid_files_are_left_out_and_reported(tmp_path):
    root = charm_root(tmp_path)
    for name, text in BROKEN.items():
        (root / name).write_bytes(text.encode("utf-8", "surrogateescape"))
    data = consumer_decode(run(root)[0])
    assert set(rules_by_alert(data["metrics_alert_rules"])) == {
        "MasakariApiDown",
        "MasakariSelf",
        "HostsOnMaintenance",
        "HostDown",
        "HostMetricsMissing",
    }
    assert [d["title"] for d in data["dashboards"]] == ["Masakari"]
    found = cos_agent.problems(OFFER, charm_dir=root)
    skipped = {p.split(":")[0] for p in found}
    expected = {n.replace("src/", "") for n in BROKEN if not n.endswith(".txt")}
    assert skipped == expected
    assert all(p.count(":") >= 1 and "\n" not in p for p in found)


def test_a_rules_file_without_groups_adds_nothing(tmp_path):
    root = charm_root(tmp_path, {"src/prometheus_alert_rules/api.rules": "groups: []\n"})
    data = consumer_decode(run(root)[0])
    assert "cloud_12345678_masakari_masakari_api_rules" not in str(data)
    assert cos_agent.problems(OFFER, charm_dir=root) == []


def test_missing_directories_give_empty_rules_and_no_problem(tmp_path):
    offer = Observability(scrape_jobs=(ScrapeJob("x", 1),), generic_rules=False)
    topology = Topology("m", UUID, "app", "app/0", "charm")
    data = consumer_decode(cos_agent.unit_bag(offer, topology))
    assert data["metrics_alert_rules"] == {} and data["log_alert_rules"] == {}
    assert data["dashboards"] == [] and data["log_files"] == []
    missing = Observability(metrics_rules_dir=tmp_path / "absent", dashboards_dir=tmp_path / "no")
    assert cos_agent.problems(missing) == []


def test_an_unreadable_directory_is_a_problem_not_an_error(tmp_path):
    not_a_dir = tmp_path / "rules"
    not_a_dir.write_text("a file where a directory should be")
    offer = Observability(metrics_rules_dir=not_a_dir, generic_rules=False)
    assert cos_agent.problems(offer) == ["rules: unreadable (NotADirectoryError)"]
    data = consumer_decode(cos_agent.unit_bag(offer, Topology("m", UUID, "a", "a/0", "c")))
    assert data["metrics_alert_rules"] == {}


def test_the_bag_is_canonical(tmp_path):
    root = charm_root(tmp_path)
    topology = Topology("cloud", UUID, "masakari", "masakari/0", "masakari")
    first = cos_agent.unit_bag(OFFER, topology, charm_dir=root)
    reordered = Observability(
        scrape_jobs=tuple(reversed(OFFER.scrape_jobs)),
        log_files=tuple(reversed(OFFER.log_files)),
        metrics_rules_dir=root / "src/prometheus_alert_rules",  # absolute: the same files
        log_rules_dir=OFFER.log_rules_dir,
        dashboards_dir=OFFER.dashboards_dir,
    )
    assert cos_agent.unit_bag(reordered, topology, charm_dir=root) == first
    raw = first["config"]
    assert raw == json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":"))


def test_a_dashboard_keeps_its_own_charm_tag_and_https_jobs_skip_verification(tmp_path):
    board = {"title": "x", "tags": ["charm: other", "openstack"]}
    (tmp_path / "boards").mkdir()
    (tmp_path / "boards" / "x.json").write_text(json.dumps(board))
    offer = Observability(
        scrape_jobs=(ScrapeJob("tls", 443, "/m", "https"),),
        dashboards_dir=tmp_path / "boards",
        generic_rules=False,
    )
    topology = Topology("m", UUID, "app", "app/0", "charm")
    data = consumer_decode(cos_agent.unit_bag(offer, topology))
    assert data["dashboards"][0]["tags"] == ["charm: other", "openstack"]
    # Outside the charm directory the path itself names the dashboard.
    assert data["dashboards"][0]["uid"] == cos_agent.dashboard_uid(
        "charm", str(tmp_path / "boards" / "x.json")
    )
    (job,) = data["metrics_scrape_jobs"]
    assert job["scheme"] == "https" and job["tls_config"] == {"insecure_skip_verify": True}


def test_compress_round_trips_as_cos_lib_encodes():
    text = json.dumps({"title": "ünïcode"})
    encoded = cos_agent.compress(text)
    assert lzma.decompress(base64.b64decode(encoded)).decode("utf-8") == text
    assert cos_agent.decompress(encoded) == text


@pytest.mark.parametrize(
    "make",
    [
        lambda: ScrapeJob("bad name", 1),
        lambda: ScrapeJob("x", 0),
        lambda: ScrapeJob("x", 65536),
        lambda: ScrapeJob("x", True),  # type: ignore[arg-type]
        lambda: ScrapeJob("x", 1, "metrics"),
        lambda: ScrapeJob("x", 1, "/a\nb"),
        lambda: ScrapeJob("x", 1, scheme="ftp"),
        lambda: Observability(scrape_jobs=(ScrapeJob("x", 1), ScrapeJob("x", 2))),
        lambda: Observability(log_files=("relative.log",)),
        lambda: Observability(log_files=("/var/log/a\n.log",)),
    ],
)
def test_charm_defined_values_are_checked_when_built(make):
    with pytest.raises(ValueError):
        make()


def test_topology_from_charm_and_identifier():
    ctx = testing.Context(Probe, meta=META, app_name="masakari", unit_id=3)
    state = testing.State(model=testing.Model(name="a/b", uuid=UUID))
    with ctx(ctx.on.update_status(), state) as manager:
        topology = Topology.from_charm(manager.charm)
    assert topology == Topology("a/b", UUID, "masakari", "masakari/3", "masakari")
    assert topology.identifier == "a_b_12345678_masakari"
    assert "juju_unit" not in topology.rule_labels


def test_group_names_already_topologised_or_suffixed_are_kept(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "a.rules").write_text(
        "groups: [{name: cloud_12345678_masakari_mine_rules, rules: []},"
        " {name: x_rules, rules: []}]"
    )
    offer = Observability(metrics_rules_dir=rules, generic_rules=False)
    data = consumer_decode(cos_agent.unit_bag(offer, Topology("cloud", UUID, "a", "a/0", "c")))
    names = [g["name"] for g in data["metrics_alert_rules"]["groups"]]
    assert names == ["cloud_12345678_masakari_mine_rules", "cloud_12345678_a_x_rules"]


def test_oversized_files_are_left_out(tmp_path, monkeypatch):
    root = charm_root(tmp_path)
    monkeypatch.setattr(cos_agent, "MAX_FILE", 40)
    found = cos_agent.problems(OFFER, charm_dir=root)
    assert sorted(found) == [
        "grafana_dashboards/masakari.json: larger than 40 bytes",
        "loki_alert_rules/engine.rules: larger than 40 bytes",
        "prometheus_alert_rules/api.rules: larger than 40 bytes",
        "prometheus_alert_rules/maintenance.rule: larger than 40 bytes",
    ]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_prometheus_loads_the_rules_as_the_collector_writes_them(tmp_path):
    data = consumer_decode(run(charm_root(tmp_path / "charm"))[0])
    # The collector writes each principal's rules with yaml.safe_dump into one file.
    rules = tmp_path / "juju_cloud_12345678_masakari.rules"
    rules.write_text(yaml.safe_dump(data["metrics_alert_rules"]))
    done = subprocess.run(
        ["promtool", "check", "rules", str(rules)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 5 rules found" in done.stdout
