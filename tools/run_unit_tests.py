#!/usr/bin/env python3
"""Run the unit tests of the shared library and of every charm, with coverage.

Each charm's tests run in their own pytest process (every charm has a ``charm.py``),
against the library staged into that charm's ``lib/`` exactly as it is packed. A charm's
line coverage of ``src/`` plus its staged library must reach 90 %.
Usage: ``run_unit_tests.py [pytest args]``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from stage_lib import ROOT, charms, stage  # noqa: E402

FAIL_UNDER = "90"


def run(argv: list[str], pythonpath: list[Path]) -> int:
    """Run a command with ``PYTHONPATH`` set; return its exit code."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in pythonpath)}
    print("+", " ".join(argv), flush=True)
    return subprocess.call(argv, cwd=ROOT, env=env)


def main(pytest_args: list[str]) -> int:
    """Test the library, then each charm; non-zero when any suite or coverage fails."""
    failures = []
    lib_tests = ROOT / "lib" / "tests"
    if lib_tests.exists():
        if run(
            [sys.executable, "-m", "pytest", "-q", str(lib_tests), *pytest_args], [ROOT / "lib"]
        ):
            failures.append("lib")
    for charm in charms():
        tests = charm / "tests" / "unit"
        if not tests.exists():
            continue
        staged = stage(charm)
        data = ROOT / f".coverage.{charm.name}"
        cov = [sys.executable, "-m", "coverage"]
        sources = f"--source={charm / 'src'},{staged}"
        omit = f"--omit={staged / 'testing.py'}"
        path = [charm / "lib", charm / "src"]
        code = run(
            [
                *cov,
                "run",
                f"--data-file={data}",
                sources,
                omit,
                "-m",
                "pytest",
                "-q",
                str(tests),
                *pytest_args,
            ],
            path,
        )
        if code == 0:
            code = run([*cov, "report", f"--data-file={data}", f"--fail-under={FAIL_UNDER}"], path)
        if code:
            failures.append(charm.name)
    if failures:
        print(f"unit tests failed: {', '.join(failures)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
