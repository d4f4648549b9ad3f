"""The bundle validator passes the repository's bundles and fails each broken fixture."""

from __future__ import annotations

import os
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
        (
            "broken-unknown-endpoint.yaml",
            "masakari: endpoint 'identity' does not exist in store charm 'masakari'",
        ),
        (
            "broken-interface-mismatch.yaml",
            "interfaces differ (keystone and keystone-credentials)",
        ),
        (
            "broken-same-role.yaml",
            "needs one requirer and one provider, got requires and requires",
        ),
        ("broken-unknown-application.yaml", "application 'keystone' is not in the bundle"),
        (
            "broken-unknown-option.yaml",
            "option 'os-data-network' does not exist in the charm built from charms/masakari",
        ),
        ("broken-option-type.yaml", "option 'evacuation-delay' must be int, got str"),
        ("broken-subordinate-units.yaml", "subordinate pacemaker-remote must not have num_units"),
        ("broken-unknown-machine.yaml", "names machine 7, which is not defined"),
        ("broken-unknown-charm.yaml", "charm 'no-such-charm' is unknown"),
        ("broken-missing-endpoint-name.yaml", "name the endpoint of 'masakari'"),
        ("broken-num-units.yaml", "num_units 'three' is not a whole number"),
        ("broken-base.yaml", "default-base 'noble' is not like ubuntu@24.04"),
        ("broken-too-many-placements.yaml", "2 placement directives for 1 units"),
        ("broken-unknown-key.yaml", "unknown top-level keys: services"),
        (
            "broken-classic-store-charms.yaml",
            "masakari: endpoint 'hosts' does not exist in store charm 'masakari' (the classic"
            " reactive charm); deploy the built charm (a local path) or instance-ha-masakari",
        ),
    ],
)
def test_each_broken_fixture_fails_for_its_defect(fixture, message):
    found = problems(fixture)
    assert any(message in p for p in found), found


def test_every_broken_fixture_is_tested():
    tested = {p.name for p in FIXTURES.glob("broken-*.yaml")}
    marks = test_each_broken_fixture_fails_for_its_defect.pytestmark  # pyright: ignore[reportFunctionMemberAccess]
    params = marks[0].args[1]
    assert tested == {fixture for fixture, _ in params}


def test_overlays_are_checked_merged_onto_their_bundle(tmp_path):
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("relations:\n  - [masakari:amqp, rabbitmq-server:amqp]\n")
    found = vb.check_files([FIXTURES / "valid.yaml", overlay], CATALOG)
    assert found == [
        "relation ['masakari:amqp', 'rabbitmq-server:amqp']: application "
        "'rabbitmq-server' is not in the bundle"
    ]


MASAKARI_FILE = "../charms/masakari/masakari_ubuntu@24.04-amd64.charm"
OVERLAYS = vb.ROOT / "overlays"


def resolved(charm: str, directory: Path = OVERLAYS) -> vb.CharmSpec:
    spec = vb.resolve_charm(charm, directory, CATALOG)
    assert isinstance(spec, vb.CharmSpec), spec
    return spec


def test_store_names_of_our_charms_are_the_classic_charms():
    found = problems("broken-classic-store-charms.yaml")
    assert found == [
        "relation ['masakari-monitors:registration', 'masakari:hosts']: masakari-monitors:"
        " endpoint 'registration' does not exist in store charm 'masakari-monitors' (the"
        " classic reactive charm); deploy the built charm (a local path) or"
        " instance-ha-masakari-monitors",
        "relation ['masakari-monitors:registration', 'masakari:hosts']: masakari: endpoint"
        " 'hosts' does not exist in store charm 'masakari' (the classic reactive charm);"
        " deploy the built charm (a local path) or instance-ha-masakari",
    ]
    classic = resolved("ch:masakari")
    assert "hosts" not in classic.endpoints and "auto-register-hosts" not in classic.options
    assert resolved("masakari") == classic


def test_a_local_path_resolves_to_our_charm():
    ours = resolved(MASAKARI_FILE)
    assert ours.origin == "the charm built from charms/masakari"
    assert ours.endpoints["hosts"] == vb.Endpoint("requires", "masakari-host")
    assert "auto-register-hosts" in ours.options
    assert ours.base == "ubuntu@24.04"
    assert resolved("../charms/masakari/masakari_ubuntu@22.04-amd64.charm").base == (
        "ubuntu@22.04"
    )
    # A directory, relative or absolute, is the charm too, built for no base in particular.
    assert resolved("./charms/pacemaker-remote", vb.ROOT).name == "pacemaker-remote"
    assert resolved(str(vb.ROOT / "charms" / "masakari-monitors")).base is None


def test_our_published_names_resolve_to_our_charms():
    for name in ("masakari", "masakari-monitors", "pacemaker-remote"):
        published = resolved(f"instance-ha-{name}")
        local = resolved(f"../charms/{name}")
        assert published.endpoints == local.endpoints and published.options == local.options
        assert published.subordinate == local.subordinate
        assert published.channels == ("latest/edge",)
        assert published.origin == f"store charm 'instance-ha-{name}' (built from charms/{name})"
    assert resolved("ch:instance-ha-masakari").name == "instance-ha-masakari"


@pytest.mark.parametrize(
    ("charm", "message"),
    [
        ("../charm/masakari", "local charm '../charm/masakari' (at charm/masakari) is none"),
        ("./masakari_ubuntu@24.04-amd64.charm", "(at overlays/masakari_ubuntu@24.04-amd64"),
        ("../charms/no-such-charm", "is none of our charms"),
        ("../charms/masakari/src/charm.py", "is none of our charms"),
        ("../charms/masakari/src", "tox -e build makes no src in charms/masakari"),
        (
            "../charms/masakari/masakari.charm",
            "tox -e build makes no masakari.charm in charms/masakari (it makes ",
        ),
        ("../charms/masakari/masakari.charm", " masakari_ubuntu@24.04-amd64.charm"),
        ("ch:no-such-charm", "store charm 'no-such-charm' is unknown"),
    ],
)
def test_unknown_charms_are_rejected(charm, message):
    found = vb.resolve_charm(charm, OVERLAYS, CATALOG)
    assert isinstance(found, str) and message in found, found


def test_a_local_path_is_relative_to_the_file_that_sets_it(tmp_path):
    base = vb.ROOT / "bundles" / "openstack-noble.yaml"
    moved = tmp_path / "masakari.yaml"
    moved.write_text((OVERLAYS / "masakari.yaml").read_text())
    found = vb.check_files([base, moved], CATALOG)
    assert len(found) == 3 and all("is none of our charms" in p for p in found), found
    # A later overlay's path resolves against its own directory, not the first one's.
    later = tmp_path / "later.yaml"
    later.write_text(
        "applications:\n"
        f"  masakari: {{charm: {vb.ROOT / 'charms' / 'masakari'}}}\n"
        "  masakari-monitors: {charm: ../charms/masakari-monitors}\n"
    )
    found = vb.check_files([base, OVERLAYS / "masakari.yaml", later], CATALOG)
    assert found == [
        "masakari-monitors: local charm '../charms/masakari-monitors' (at"
        f" {tmp_path.parent / 'charms' / 'masakari-monitors'}) is none of our charms: expected"
        " charms/<name> or a .charm file tox -e build makes there"
    ]


def test_a_bare_file_name_and_a_wrong_base_are_reported():
    directory = vb.ROOT / "charms" / "masakari"
    doc = app(charm="masakari_ubuntu@22.04-amd64.charm", base="ubuntu@24.04")
    assert vb.validate([doc], CATALOG, [directory]) == [
        "masakari: charm 'masakari_ubuntu@22.04-amd64.charm' reads as a store name to Juju:"
        " write ./masakari_ubuntu@22.04-amd64.charm",
        "masakari: masakari_ubuntu@22.04-amd64.charm is built for ubuntu@22.04, not the base"
        " ubuntu@24.04",
    ]
    noble = {"default-base": "ubuntu@24.04", **app(charm=f"./{MASAKARI_FILE[3:]}")}
    assert vb.validate([noble], CATALOG) == []


def test_the_charmhub_overlay_switches_to_our_published_charms():
    chain = [
        vb.ROOT / "bundles" / "openstack-noble.yaml",
        OVERLAYS / "masakari.yaml",
        OVERLAYS / "charmhub-charms.yaml",
    ]
    assert vb.check_files(chain, CATALOG) == []
    assert vb.OVERLAY_BASES["charmhub-charms.yaml"] == ["openstack-noble.yaml", "masakari.yaml"]
    import yaml

    merged = vb.merge([yaml.safe_load(p.read_text()) for p in chain])["applications"]
    for name in ("masakari", "masakari-monitors", "pacemaker-remote"):
        assert merged[name]["charm"] == f"instance-ha-{name}"
        assert merged[name]["channel"] == "latest/edge"
    assert merged["masakari"]["options"]["evacuation-delay"] == 60  # kept from masakari.yaml


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({}, "masakari: no channel, but store charm 'instance-ha-masakari'"),
        ({"channel": "latest/stable"}, "masakari: channel 'latest/stable', but store charm"),
    ],
)
def test_our_published_charms_need_their_channel(spec, message):
    found = vb.validate([app(charm="instance-ha-masakari", **spec)], CATALOG)
    assert len(found) == 1 and found[0].startswith(message), found
    assert found[0].endswith("(built from charms/masakari) is released to latest/edge only")


def test_recorded_copies_of_our_charms_are_refused(tmp_path):
    charm = tmp_path / "charms" / "masakari"
    charm.mkdir(parents=True)
    (charm / "charmcraft.yaml").write_text(
        (vb.ROOT / "charms/masakari/charmcraft.yaml").read_text()
    )
    (tmp_path / "bundles").mkdir()
    external = tmp_path / "bundles" / "external-charms.yaml"
    external.write_text("published: {built-from: charms/masakari, options: {vip: string}}\n")
    with pytest.raises(ValueError, match="must not be recorded here"):
        vb.load_catalog(tmp_path)
    external.write_text("published: {built-from: charms/nothing}\n")
    with pytest.raises(ValueError, match="charms/nothing is not one of our charms"):
        vb.load_catalog(tmp_path)
    external.write_text("published: {built-from: charms/masakari, channel: latest/edge}\n")
    with pytest.raises(ValueError, match=r"published: unknown keys \['channel'\]"):
        vb.load_catalog(tmp_path)
    external.write_text("masakari: {requires: {}}\n")
    catalog = vb.load_catalog(tmp_path)
    # Sharing a name with one of ours, but nothing published: only the local path helps.
    assert catalog.store["masakari"].hint == "; deploy the built charm (a local path)"


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


def zaza_overlay(tests_dir: Path, name: str, target: Path) -> Path:
    """Render ``name``'s overlay template as zaza's deploy phase does, into ``target``."""
    import jinja2

    templates = tests_dir / "bundles" / "overlays"
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates)))
    # zaza's context: charm_location is built from the absolute bundle directory.
    location = f"{os.path.abspath(tests_dir / 'bundles')}/../../../masakari"
    text = env.get_template(f"{name}.yaml.j2").render(
        charm_name="masakari", charm_location=location
    )
    rendered = target / f"{name}.yaml"
    rendered.write_text(text)
    return rendered


def test_zaza_deploys_the_validated_bundle_with_the_built_charms(tmp_path):
    import yaml

    tests_dir = FIXTURES.parent
    spec = yaml.safe_load((tests_dir / "tests.yaml").read_text())
    for name in spec["gate_bundles"] + spec["smoke_bundles"]:
        bundle = (tests_dir / "bundles" / f"{name}.yaml").resolve()
        assert bundle == vb.ROOT / "bundles" / f"{name}.yaml"
        overlay = zaza_overlay(tests_dir, name, tmp_path)
        assert vb.check_files([bundle, overlay], CATALOG) == []
        charms = {
            app: Path(os.path.normpath(spec["charm"]))
            for app, spec in yaml.safe_load(overlay.read_text())["applications"].items()
            if spec.get("charm", "").startswith("/")
        }
        built = vb.ROOT / "charms"
        assert charms == {
            c: built / c / f"{c}_ubuntu@24.04-amd64.charm"
            for c in ("masakari", "pacemaker-remote", "masakari-monitors")
        }
        # Everything else is overlays/masakari.yaml's own.
        operators = yaml.safe_load((vb.ROOT / "overlays" / "masakari.yaml").read_text())
        rendered = yaml.safe_load(overlay.read_text())
        assert rendered["relations"] == operators["relations"]
        for app, spec in operators["applications"].items():
            assert {k: v for k, v in rendered["applications"][app].items() if k != "charm"} == {
                k: v for k, v in spec.items() if k != "charm"
            }


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
        "x: store charm 'nothing' is unknown (not in bundles/external-charms.yaml)"
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
