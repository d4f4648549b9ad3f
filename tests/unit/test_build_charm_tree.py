"""The charm tree builder lays a charm out as charmcraft does (without building a venv)."""

from __future__ import annotations

import build_charm_tree as bct
import stage_lib
import yaml


def test_charmcraft_yaml_splits_into_the_files_juju_reads(tmp_path, monkeypatch):
    venv = tmp_path / "venv-src"
    (venv / "ops").mkdir(parents=True)
    monkeypatch.setattr(bct, "venv_for", lambda charm: venv)
    tree = bct.build(bct.ROOT / "charms" / "masakari-monitors", tmp_path / "tree")
    metadata = yaml.safe_load((tree / "metadata.yaml").read_text())
    assert metadata["name"] == "masakari-monitors"
    assert metadata["display-name"] == "Masakari monitors"
    assert metadata["subordinate"] is True
    assert metadata["provides"]["registration"]["interface"] == "masakari-host"
    config = yaml.safe_load((tree / "config.yaml").read_text())
    assert config["options"]["segment-name"]["default"] == "default"
    actions = yaml.safe_load((tree / "actions.yaml").read_text())
    assert set(actions) == {"pause", "resume", "restart-services"}
    assert (tree / "dispatch").read_text() == bct.DISPATCH
    assert (tree / "dispatch").stat().st_mode & 0o111
    assert (tree / "src" / "charm.py").stat().st_mode & 0o111
    assert (tree / "lib" / "openstack_charm_lib" / "relations" / "masakari_host.py").exists()
    assert (tree / "venv" / "ops").is_dir()
    # What the uv plugin copies, and nothing the tests or the build use.
    assert sorted(p.name for p in tree.iterdir()) == [
        "actions.yaml",
        "config.yaml",
        "dispatch",
        "lib",
        "metadata.yaml",
        "src",
        "venv",
    ]
    assert sorted(p.name for p in (tree / "lib").iterdir()) == ["openstack_charm_lib"]
    staged = tree / "lib" / "openstack_charm_lib"
    assert not (staged / "testing.py").exists()
    assert (
        (staged / "STAGED")
        .read_text()
        .startswith(f"openstack_charm_lib {stage_lib.library_version()} sha256:")
    )


def test_the_masakari_tree_carries_its_templates_under_src(tmp_path, monkeypatch):
    monkeypatch.setattr(bct, "venv_for", lambda charm: tmp_path / "venv-src")
    (tmp_path / "venv-src").mkdir()
    tree = bct.build(bct.ROOT / "charms" / "masakari", tmp_path / "tree")
    templates = {p.name for p in (tree / "src" / "templates").iterdir()}
    assert {"masakari-api.wsgi.j2", "masakari-api-site.conf.j2"} <= templates
