#!/usr/bin/env python3
"""Pack every charm (or the named ones) with ``charmcraft pack``, after staging the library.

Packing runs on an Ubuntu host with charmcraft installed (charmcraft refuses other build
hosts); the ``.charm`` files are left in each charm's directory. ``--check`` validates
each ``charmcraft.yaml`` against charmcraft's own project model instead, offline and on
any host (``charmcraft expand-extensions``); ``tox -e lint`` runs it.
Usage: ``pack_charms.py [--check] [charm ...]``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from stage_lib import ROOT, charms, stage


def main(args: list[str]) -> int:
    """Stage and pack (or, with --check, validate); non-zero on any failure."""
    check = "--check" in args
    names = [a for a in args if a != "--check"]
    charmcraft = shutil.which("charmcraft")
    if charmcraft is None:
        print("charmcraft is not installed: 'snap install charmcraft --classic'", file=sys.stderr)
        return 2
    selected = [ROOT / "charms" / n for n in names] if names else charms()
    if check:
        return validate(charmcraft, selected)
    for charm in selected:
        stage(charm)
        print(f"packing {charm.name}", flush=True)
        if subprocess.call([charmcraft, "pack", "--verbose"], cwd=charm):
            return 1
    return 0


def validate(charmcraft: str, selected: list[Path]) -> int:
    """Load each charmcraft.yaml with charmcraft's project model; non-zero on any error."""
    with tempfile.TemporaryDirectory() as runtime:
        os.chmod(runtime, 0o700)
        env = {**os.environ, "XDG_RUNTIME_DIR": runtime}
        for charm in selected:
            proc = subprocess.run(
                [charmcraft, "expand-extensions"],
                cwd=charm,
                env=env,
                capture_output=True,
                text=True,
            )
            if proc.returncode:
                print(f"{charm.name}/charmcraft.yaml is invalid:\n{proc.stderr}", file=sys.stderr)
                return 1
            print(f"{charm.name}/charmcraft.yaml is valid")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
