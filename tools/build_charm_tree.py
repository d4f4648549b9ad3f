#!/usr/bin/env python3
"""Build a charm's unpacked tree as ``charmcraft pack`` lays it out, on any host.

The tree holds ``dispatch`` (running ``src/charm.py`` with the venv's interpreter and
``lib`` and ``src`` on the path, as charmcraft's uv plugin lays it out), ``metadata.yaml``,
``config.yaml`` and ``actions.yaml`` split out of ``charmcraft.yaml``, ``src/`` (with
the charm's templates), the staged ``lib/`` and a ``venv/`` synced from the charm's
``uv.lock`` without any dependency group, exactly the runtime the charm ships. It is
what Juju runs, so the benchmarks time it as a whole process; it is not a release
artifact (the venv is built for this machine's Python). Usage:
``build_charm_tree.py <charm dir> <destination>``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from stage_lib import ROOT, stage

DISPATCH = """#!/bin/sh
JUJU_DISPATCH_PATH="${JUJU_DISPATCH_PATH:-$0}" PYTHONPATH=lib:src:$PYTHONPATH \\
    exec ./venv/bin/python ./src/charm.py
"""
METADATA_KEYS = (
    "name",
    "summary",
    "description",
    "subordinate",
    "requires",
    "provides",
    "peers",
    "extra-bindings",
    "assumes",
)
VENVS = ROOT / "build" / "charm-venvs"


def split_charmcraft_yaml(charmcraft: dict) -> dict[str, dict]:
    """metadata.yaml, config.yaml and actions.yaml content, as charmcraft writes them."""
    metadata = {k: charmcraft[k] for k in METADATA_KEYS if k in charmcraft}
    if "title" in charmcraft:
        metadata["display-name"] = charmcraft["title"]
    files = {"metadata.yaml": metadata}
    if "config" in charmcraft:
        files["config.yaml"] = charmcraft["config"]
    if "actions" in charmcraft:
        files["actions.yaml"] = charmcraft["actions"]
    return files


def venv_for(charm: Path) -> Path:
    """The charm's locked runtime venv (``uv sync --locked --no-dev``), built once per lock."""
    lock = (charm / "uv.lock").read_bytes()
    target = VENVS / f"{charm.name}-{hashlib.sha256(lock).hexdigest()[:12]}"
    if (target / "bin" / "python").exists():
        return target
    if target.exists():
        shutil.rmtree(target)
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(target)}
    argv = ["uv", "sync", "-q", "--locked", "--no-dev", "--python", sys.executable]
    subprocess.run(argv, cwd=charm, env=env, check=True)
    return target


def build(charm: Path, destination: Path) -> Path:
    """The tree of ``charm`` in ``destination`` (replaced); returns ``destination``."""
    if (charm / "lib").exists() and charm.parent == ROOT / "charms":
        stage(charm)
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    charmcraft = yaml.safe_load((charm / "charmcraft.yaml").read_text())
    for name, content in split_charmcraft_yaml(charmcraft).items():
        (destination / name).write_text(yaml.safe_dump(content, sort_keys=False))
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for part in ("src", "lib"):
        if (charm / part).exists():
            shutil.copytree(charm / part, destination / part, ignore=ignore)
    shutil.copytree(venv_for(charm), destination / "venv", ignore=ignore, symlinks=True)
    dispatch = destination / "dispatch"
    dispatch.write_text(DISPATCH)
    dispatch.chmod(0o755)
    (destination / "src" / "charm.py").chmod(0o755)
    return destination


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    print(build(Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()))
