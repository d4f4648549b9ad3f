"""How the charms are built and declared: bases, plugin, locks, library, action schemas."""

from __future__ import annotations

import ast
import re
import shutil
import sys
from pathlib import Path

import pack_charms
import pytest
import stage_lib
import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

CHARMS = [c.name for c in stage_lib.charms()]
BASES = {
    "22.04": {"amd64"},
    "24.04": {"amd64", "arm64", "ppc64el", "s390x"},
    "26.04": {"amd64", "arm64", "ppc64el", "s390x"},
}


def charmcraft(name: str) -> dict:
    return yaml.safe_load((stage_lib.ROOT / "charms" / name / "charmcraft.yaml").read_text())


def pyproject(name: str) -> dict:
    return tomllib.loads((stage_lib.ROOT / "charms" / name / "pyproject.toml").read_text())


@pytest.mark.parametrize("name", CHARMS)
def test_every_charm_declares_the_supported_bases_and_juju_36(name):
    meta = charmcraft(name)
    declared: dict[str, set[str]] = {}
    for platform, spec in meta["platforms"].items():
        base, arch = re.fullmatch(r"ubuntu@([\d.]+):(\w+)", platform).groups()
        assert spec == {"build-on": [platform], "build-for": [platform]}
        declared.setdefault(base, set()).add(arch)
    assert declared == BASES
    assert meta["assumes"] == ["juju >= 3.6"]


@pytest.mark.parametrize("name", CHARMS)
def test_every_charm_builds_with_the_uv_plugin_from_its_lock(name):
    part = charmcraft(name)["parts"]["charm"]
    assert part["plugin"] == "uv" and part["source"] == "."
    assert "astral-uv" in part["build-snaps"]
    assert "charm-binary-python-packages" not in part
    charm = stage_lib.ROOT / "charms" / name
    assert (charm / "uv.lock").exists()
    assert not (charm / "requirements.txt").exists()
    project = pyproject(name)
    assert project["tool"]["uv"]["package"] is False
    assert {"unit", "lint", "integration"} <= set(project["dependency-groups"])
    # The shared library's own imports are the charm's runtime dependencies too.
    runtime = {re.split(r"[<>=~!\[ ]", d)[0].lower() for d in project["project"]["dependencies"]}
    assert set(stage_lib_runtime_dependencies()) <= runtime
    # What charmcraft copies: src/ and lib/; the templates live under src/.
    assert not (charm / "templates").exists()


def stage_lib_runtime_dependencies() -> tuple[str, ...]:
    text = (stage_lib.LIBRARY / "__init__.py").read_text()
    match = re.search(r"^RUNTIME_DEPENDENCIES = (\(.*\))$", text, re.MULTILINE)
    assert match
    return ast.literal_eval(match[1])


@pytest.mark.parametrize("name", CHARMS)
def test_every_action_refuses_parameters_it_does_not_declare(name):
    """Juju rejects a mistyped parameter up front instead of the action ignoring it."""
    actions = charmcraft(name)["actions"]
    lax = [a for a, s in actions.items() if (s or {}).get("additionalProperties") is not False]
    assert not lax


def test_the_masakari_charm_defaults_to_the_series_own_release():
    option = charmcraft("masakari")["config"]["options"]["openstack-origin"]
    assert option["default"] == "distro"
    assert "gazpacho on 26.04" in " ".join(option["description"].split())


@pytest.fixture
def library_copy(tmp_path, monkeypatch):
    """A copy of the library and a charm that records its version."""
    library = tmp_path / "lib" / "openstack_charm_lib"
    shutil.copytree(stage_lib.LIBRARY, library)
    monkeypatch.setattr(stage_lib, "LIBRARY", library)
    charm = tmp_path / "charm"
    charm.mkdir()
    version = stage_lib.library_version()
    (charm / "pyproject.toml").write_text(f'[tool.openstack-charm-lib]\nversion = "{version}"\n')
    return library, charm


def test_staging_records_the_version_and_a_digest_of_what_it_copied(library_copy):
    library, charm = library_copy
    staged = stage_lib.stage(charm)
    stamp = (staged / "STAGED").read_text()
    assert (
        stamp == f"openstack_charm_lib {stage_lib.library_version()} sha256:{stage_lib.digest()}\n"
    )
    assert stamp == stage_lib.stamp_text()
    assert stage_lib.digest(staged) == stage_lib.digest(library)
    (library / "status.py").write_text((library / "status.py").read_text() + "\n# changed\n")
    assert (staged / "STAGED").read_text() != stage_lib.stamp_text()  # the copy is stale
    stage_lib.stage(charm)
    assert (staged / "STAGED").read_text() == stage_lib.stamp_text()


def test_staging_refuses_a_charm_written_for_another_library_version(library_copy):
    _, charm = library_copy
    (charm / "pyproject.toml").write_text('[tool.openstack-charm-lib]\nversion = "0.1"\n')
    with pytest.raises(stage_lib.StagingError, match="records openstack-charm-lib 0.1"):
        stage_lib.stage(charm)
    assert not (charm / "lib").exists()


def test_no_test_double_is_staged():
    for name in CHARMS:
        staged = stage_lib.stage(stage_lib.ROOT / "charms" / name)
        assert not list(staged.rglob("testing*.py"))
        assert not any("class FakeHost" in p.read_text() for p in staged.rglob("*.py"))


@pytest.fixture
def fake_charmcraft(tmp_path, monkeypatch):
    """A charmcraft on PATH that records where and how it ran."""
    log = tmp_path / "calls"
    tool = tmp_path / "bin" / "charmcraft"
    tool.parent.mkdir()
    tool.write_text(f'#!/bin/sh\necho "$(basename "$PWD") $*" >> {log}\n')
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tool.parent}:{Path(sys.executable).parent}:/usr/bin:/bin")
    return log


def test_build_arguments_reach_charmcraft(fake_charmcraft):
    argv = ["--destructive-mode", "--platform", "ubuntu@26.04:amd64", "pacemaker-remote"]
    assert pack_charms.main(argv) == 0
    assert fake_charmcraft.read_text().splitlines() == [
        "pacemaker-remote pack --verbose --destructive-mode --platform ubuntu@26.04:amd64"
    ]


def test_without_charm_names_every_charm_is_packed(fake_charmcraft):
    assert pack_charms.main(["--destructive-mode"]) == 0
    packed = [line.split()[0] for line in fake_charmcraft.read_text().splitlines()]
    assert packed == CHARMS


def test_missing_charmcraft_is_reported(monkeypatch, capsys):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert pack_charms.main([]) == 2
    assert "charmcraft is not installed" in capsys.readouterr().err
