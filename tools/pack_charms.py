#!/usr/bin/env python3
"""Pack every charm (or the named ones) with ``charmcraft pack``, after staging the library.

Packing runs on an Ubuntu host with charmcraft installed (charmcraft refuses other build
hosts); the ``.charm`` files are left in each charm's directory. Arguments that are not
charm names go to charmcraft unchanged (``tox -e build -- --destructive-mode
--platform ubuntu@26.04:amd64 masakari``). Each charm is staged first, so it packs the
library as it is now; a charm recording another library version is not packed.
``--check`` validates each ``charmcraft.yaml`` against charmcraft's own project model
instead, offline and on any host (``charmcraft expand-extensions``); ``tox -e lint``
runs it.
Usage: ``pack_charms.py [--check] [charm ...] [charmcraft pack arguments ...]``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from stage_lib import StagingError, charms, stage


def split_args(args: list[str]) -> tuple[bool, list[Path], list[str]]:
    """(--check given, the charms named, the arguments for charmcraft)."""
    known = {c.name: c for c in charms()}
    selected = [known[a] for a in args if a in known]
    passed = [a for a in args if a not in known and a != "--check"]
    return "--check" in args, selected or list(known.values()), passed


def pack(charmcraft: str, selected: list[Path], passed: list[str]) -> int:
    """Stage and pack each charm; non-zero at the first failure."""
    for charm in selected:
        try:
            stage(charm)
        except StagingError as exc:
            print(exc, file=sys.stderr)
            return 1
        argv = [charmcraft, "pack", "--verbose", *passed]
        print(f"packing {charm.name}: {' '.join(argv[1:])}", flush=True)
        if subprocess.call(argv, cwd=charm):
            return 1
    return 0


def main(args: list[str]) -> int:
    """Stage and pack (or, with --check, validate); non-zero on any failure."""
    check, selected, passed = split_args(args)
    charmcraft = shutil.which("charmcraft")
    if charmcraft is None:
        print("charmcraft is not installed: 'snap install charmcraft --classic'", file=sys.stderr)
        return 2
    if check:
        return validate(charmcraft, selected)
    return pack(charmcraft, selected, passed)


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
