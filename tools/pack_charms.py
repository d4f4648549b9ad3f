#!/usr/bin/env python3
"""Pack every charm (or the named ones) with ``charmcraft pack``, after staging the library.

Runs on an Ubuntu host with charmcraft installed (charmcraft refuses other build hosts).
The ``.charm`` files are left in each charm's directory. Usage: ``pack_charms.py [charm ...]``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

from stage_lib import ROOT, charms, stage


def main(names: list[str]) -> int:
    """Stage and pack; non-zero when charmcraft is missing or a pack fails."""
    charmcraft = shutil.which("charmcraft")
    if charmcraft is None:
        print(
            "charmcraft is not installed: 'sudo snap install charmcraft --classic'",
            file=sys.stderr,
        )
        return 2
    selected = [ROOT / "charms" / n for n in names] if names else charms()
    for charm in selected:
        stage(charm)
        print(f"packing {charm.name}", flush=True)
        if subprocess.call([charmcraft, "pack", "--verbose"], cwd=charm):
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
