#!/usr/bin/env python3
"""Stage the shared library into each charm's ``lib/``: the one way it reaches a charm.

``charmcraft pack`` builds from one charm's directory and its uv plugin copies that
directory's ``src/`` and ``lib/`` into the charm, so ``lib/openstack_charm_lib`` is
copied into ``charms/<name>/lib/openstack_charm_lib`` before packing and before unit
tests run (tests import the staged copy, exactly as the packed charm does). The copies
are ignored by git.

Each charm records the library version it is written against in its
``pyproject.toml`` (``[tool.openstack-charm-lib] version``); staging refuses a charm
whose record differs from the library's ``__version__``, so a library change that
needs charm changes is a deliberate bump. The copy gets a ``STAGED`` file with the
version and a digest of the library's files, so a packed charm says which library it
carries.
Usage: ``stage_lib.py [charm ...]`` (default: every charm).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, as a package
    import tomli as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "lib" / "openstack_charm_lib"
STAMP = "STAGED"
_IGNORED = ("__pycache__", "*.pyc", STAMP)


class StagingError(Exception):
    """The charm cannot take the library as it is; the message says why."""


def charms() -> list[Path]:
    """Every charm directory of the suite."""
    return sorted(p.parent for p in (ROOT / "charms").glob("*/charmcraft.yaml"))


def library_version() -> str:
    """``__version__`` of the library."""
    text = (LIBRARY / "__init__.py").read_text()
    match = re.search(r'^__version__ = "([^"]+)"$', text, re.MULTILINE)
    if match is None:
        raise StagingError(f"{LIBRARY}/__init__.py has no __version__")
    return match[1]


def recorded_version(charm: Path) -> str | None:
    """The library version ``charm`` records in its pyproject.toml."""
    project = tomllib.loads((charm / "pyproject.toml").read_text())
    return project.get("tool", {}).get("openstack-charm-lib", {}).get("version")


def digest(library: Path | None = None) -> str:
    """sha256 over the library's file names and contents (caches and the stamp left out)."""
    library = library or LIBRARY
    sha = hashlib.sha256()
    for path in sorted(library.rglob("*")):
        relative = path.relative_to(library)
        if path.is_dir() or "__pycache__" in relative.parts or path.suffix == ".pyc":
            continue
        if relative.name == STAMP:
            continue
        sha.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    return sha.hexdigest()


def stamp_text() -> str:
    """What ``STAGED`` holds for the library as it is now."""
    return f"openstack_charm_lib {library_version()} sha256:{digest()}\n"


def stage(charm: Path) -> Path:
    """Replace the charm's copy of the library with the current one."""
    version, wanted = library_version(), recorded_version(charm)
    if wanted != version:
        raise StagingError(
            f"{charm.name}/pyproject.toml records openstack-charm-lib {wanted}, the library "
            f"is {version}: update the charm for the library's changes, then its record"
        )
    target = charm / "lib" / LIBRARY.name
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(LIBRARY, target, ignore=shutil.ignore_patterns(*_IGNORED))
    (target / STAMP).write_text(stamp_text())
    return target


def main(argv: list[str]) -> int:
    """Stage into the named charms, or all of them."""
    selected = [ROOT / "charms" / name for name in argv] if argv else charms()
    for charm in selected:
        if not (charm / "charmcraft.yaml").exists():
            print(f"not a charm: {charm}", file=sys.stderr)
            return 2
        try:
            print(f"staged {stage(charm).relative_to(ROOT)}")
        except StagingError as exc:
            print(exc, file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
