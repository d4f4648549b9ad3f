#!/usr/bin/env python3
"""Stage the shared library into each charm's ``lib/``.

``charmcraft pack`` builds from one charm's directory, so ``lib/openstack_charm_lib``
is copied into ``charms/<name>/lib/openstack_charm_lib`` before packing and before unit
tests run (tests import the staged copy, exactly as the packed charm does). The copies
are ignored by git. Usage: ``stage_lib.py [charm ...]`` (default: every charm).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "lib" / "openstack_charm_lib"


def charms() -> list[Path]:
    """Every charm directory of the suite."""
    return sorted(p.parent for p in (ROOT / "charms").glob("*/charmcraft.yaml"))


def stage(charm: Path) -> Path:
    """Replace the charm's copy of the library with the current one."""
    target = charm / "lib" / LIBRARY.name
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(LIBRARY, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


def main(argv: list[str]) -> int:
    """Stage into the named charms, or all of them."""
    selected = [ROOT / "charms" / name for name in argv] if argv else charms()
    for charm in selected:
        if not (charm / "charmcraft.yaml").exists():
            print(f"not a charm: {charm}", file=sys.stderr)
            return 2
        print(f"staged {stage(charm).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
