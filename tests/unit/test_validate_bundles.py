"""The bundle validator passes the repository's bundles and fails each broken fixture."""

from __future__ import annotations

from pathlib import Path

import pytest
import validate_bundles as vb
from hypothesis import given, settings
from hypothesis import strategies as st

FIXTURES = Path(__file__).resolve().parents[1] / "bundle_fixtures"
CATALOG = vb.load_catalog()


def problems(name: str, *overlays: str) -> list[str]:
    return vb.check_files([FIXTURES / name, *(FIXTURES / o for o in overlays)], CATALOG)


def test_every_repository_bundle_and_overlay_is_valid():
    sets = vb.repository_sets()
    assert len(sets) >= 7
    for paths in sets:
        assert vb.check_files(paths, CATALOG) == [], paths


def test_the_valid_fixture_is_valid():
    assert problems("valid.yaml") == []


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("broken-series.yaml", "'series' is Juju 2 syntax"),
        ("broken-unknown-endpoint.yaml", "masakari has no endpoint 'identity'"),
        (
            "broken-interface-mismatch.yaml",
            "interfaces differ (keystone and keystone-credentials)",
        ),
        (
            "broken-same-role.yaml",
            "needs one requirer and one provider, got requires and requires",
        ),
        ("broken-unknown-application.yaml", "application 'keystone' is not in the bundle"),
        ("broken-unknown-option.yaml", "option 'os-data-network' does not exist in masakari"),
        ("broken-option-type.yaml", "option 'evacuation-delay' must be int, got str"),
        ("broken-subordinate-units.yaml", "subordinate pacemaker-remote must not have num_units"),
        ("broken-unknown-machine.yaml", "names machine 7, which is not defined"),
        ("broken-unknown-charm.yaml", "charm 'no-such-charm' is unknown"),
        ("broken-missing-endpoint-name.yaml", "name the endpoint of 'masakari'"),
        ("broken-num-units.yaml", "num_units 'three' is not a whole number"),
        ("broken-base.yaml", "default-base 'noble' is not like ubuntu@24.04"),
        ("broken-too-many-placements.yaml", "2 placement directives for 1 units"),
        ("broken-unknown-key.yaml", "unknown top-level keys: services"),
    ],
)
def test_each_broken_fixture_fails_for_its_defect(fixture, message):
    found = problems(fixture)
    assert any(message in p for p in found), found


def test_every_broken_fixture_is_tested():
    tested = {p.name for p in FIXTURES.glob("broken-*.yaml")}
    params = test_each_broken_fixture_fails_for_its_defect.pytestmark[0].args[1]
    assert tested == {fixture for fixture, _ in params}


def test_overlays_are_checked_merged_onto_their_bundle(tmp_path):
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("relations:\n  - [masakari:amqp, rabbitmq-server:amqp]\n")
    found = vb.check_files([FIXTURES / "valid.yaml", overlay], CATALOG)
    assert found == [
        "relation ['masakari:amqp', 'rabbitmq-server:amqp']: application "
        "'rabbitmq-server' is not in the bundle"
    ]


def test_charm_names_from_charm_values():
    assert vb.charm_name("ch:keystone") == "keystone"
    assert vb.charm_name("../charms/masakari/masakari_ubuntu@24.04-amd64.charm") == "masakari"
    assert vb.charm_name("./charms/pacemaker-remote") == "pacemaker-remote"


def test_main_reports_and_fails(capsys):
    assert vb.main([str(FIXTURES / "broken-series.yaml")]) == 1
    assert "FAIL" in capsys.readouterr().out
    assert vb.main([]) == 0


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=12))
TREES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.sampled_from(
                [
                    "applications",
                    "relations",
                    "machines",
                    "charm",
                    "masakari",
                    "keystone",
                    "to",
                    "options",
                    "num_units",
                    "series",
                    "base",
                    "0",
                    "x",
                ]
            ),
            children,
            max_size=4,
        ),
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(documents=st.lists(TREES, min_size=1, max_size=2))
def test_the_validator_never_crashes(documents):
    assert isinstance(vb.validate(documents, CATALOG), list)


@pytest.mark.parametrize("field", ["options", "bindings"])
def test_wrongly_typed_fields_are_reported(field):
    doc = {"applications": {"masakari": {"charm": "masakari", "num_units": 1, field: ["x"]}}}
    assert vb.validate([doc], CATALOG) == [f"masakari: {field} has the wrong type"]


def test_zaza_bundles_are_the_validated_ones():
    import yaml

    tests_dir = FIXTURES.parent
    spec = yaml.safe_load((tests_dir / "tests.yaml").read_text())
    for name in spec["gate_bundles"] + spec["smoke_bundles"]:
        bundle = (tests_dir / "bundles" / f"{name}.yaml").resolve()
        overlay = (tests_dir / "bundles" / "overlays" / f"{name}.yaml.j2").resolve()
        assert bundle == vb.ROOT / "bundles" / f"{name}.yaml"
        assert vb.check_files([bundle, overlay], CATALOG) == []


def app(**spec):
    return {"applications": {"masakari": {"charm": "masakari", "num_units": 1, **spec}}}


@pytest.mark.parametrize(
    ("documents", "message"),
    [
        ([{"applications": {"masakari": "charm"}}], "masakari: application spec is not a mapping"),
        ([app(), {"applications": {"masakari": "x"}}], "application spec is not a mapping"),
        ([app(series="noble")], "masakari: 'series' is Juju 2 syntax: use 'base'"),
        ([app(units=3)], "masakari: unknown keys units"),
        ([{"applications": {"masakari": {"num_units": 1}}}], "masakari: no charm"),
        ([app(base="noble")], "masakari: base 'noble' is not like ubuntu@24.04"),
        ([app(bindings={"nope": "alpha"})], "masakari: binding for unknown endpoint 'nope'"),
        ([app(to={"0": 1})], "masakari: 'to' must be a list"),
        ([app(to=["lxd:"])], "masakari: placement 'lxd:' is not understood"),
        (
            [app(to=["keystone/0"])],
            "masakari: placement 'keystone/0' names an unknown application",
        ),
        (
            [{"applications": {"pr": {"charm": "pacemaker-remote", "to": ["0"]}}}],
            "pr: subordinate pacemaker-remote must not have placement ('to')",
        ),
        ([{**app(), "relations": [["masakari:amqp"]]}], "is not a pair of 'app:endpoint'"),
        ([{"machines": {"0": "big"}}], "machine 0: spec is not a mapping"),
        ([{"machines": {"0": {"series": "noble"}}}], "machine 0: unknown keys series"),
        ([{"applications": []}], "document 1: applications must be a dict"),
        (["just text"], "document 1 is not a mapping"),
    ],
)
def test_structural_problems(documents, message):
    found = vb.validate(documents, CATALOG)
    assert any(message in p for p in found), found


def test_placements_that_resolve(tmp_path):
    doc = {
        "machines": {"0": {}},
        "applications": {
            "keystone": {"charm": "keystone", "num_units": 1, "to": ["0"]},
            "masakari": {
                "charm": "masakari",
                "num_units": 3,
                "to": ["new", "zone=az1", "keystone/0"],
            },
        },
    }
    assert vb.validate([doc], CATALOG) == []


def test_relation_to_an_app_of_an_unknown_charm_reports_only_the_charm():
    doc = {
        "applications": {"x": {"charm": "nothing", "num_units": 1}},
        "relations": [["x:a", "x:b"]],
    }
    assert vb.validate([doc], CATALOG) == [
        "x: charm 'nothing' is unknown (not ours, not in external-charms.yaml)"
    ]


def test_unlisted_overlay_and_bad_yaml(tmp_path):
    overlays = tmp_path / "overlays"
    overlays.mkdir()
    (overlays / "extra.yaml").write_text("applications: {}\n")
    assert vb.check_files([overlays / "extra.yaml"], CATALOG) == [
        "overlay extra.yaml is not listed in OVERLAY_BASES"
    ]
    (tmp_path / "bad.yaml").write_text("applications: [\n")
    assert vb.check_files([tmp_path / "bad.yaml"], CATALOG)[0].startswith("not valid YAML")
    (tmp_path / "charms").mkdir()
    (tmp_path / "bundles").mkdir()
    (tmp_path / "bundles" / "external-charms.yaml").write_text("{}\n")
    assert vb.repository_sets(tmp_path) == [[overlays / "extra.yaml"]]
