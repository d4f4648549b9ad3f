#!/usr/bin/env python3
"""Run the unit tests of the shared library and of every charm, with coverage.

Each charm's tests run in their own pytest process (every charm has a ``charm.py``),
against the library staged into that charm's ``lib/`` exactly as it is packed. Coverage:
each charm's ``src/`` must reach 90 %, and so must the shared library, measured over
its own tests and every charm's (staged copies are mapped back to ``lib/``).
Usage: ``run_unit_tests.py [pytest args]``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from stage_lib import LIBRARY, ROOT, charms, stage  # noqa: E402

FAIL_UNDER = "90"
COVERAGE = [sys.executable, "-m", "coverage"]


def run(argv: list[str], pythonpath: list[Path]) -> int:
    """Run a command from the repository root with ``PYTHONPATH`` set; return its exit code."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in pythonpath)}
    print("+", " ".join(argv), flush=True)
    return subprocess.call(argv, cwd=ROOT, env=env)


def test_suite(
    name: str, tests: Path, sources: list[Path], path: list[Path], args: list[str]
) -> int:
    """Run one suite under coverage into ``.coverage.<name>``."""
    source = "--source=" + ",".join(str(s) for s in sources)
    data = f"--data-file={ROOT / f'.coverage.{name}'}"
    return run([*COVERAGE, "run", data, source, "-m", "pytest", "-q", str(tests), *args], path)


def report(data_file: Path, include: str) -> int:
    """Coverage report of ``include``; fails under the threshold."""
    return run(
        [
            *COVERAGE,
            "report",
            f"--data-file={data_file}",
            f"--include={include}",
            "--omit=*/testing.py",
            f"--fail-under={FAIL_UNDER}",
        ],
        [],
    )


def main(args: list[str]) -> int:
    """Test the library, then each charm; non-zero when any suite or coverage fails."""
    failures = []
    data_files = []
    if test_suite("lib", ROOT / "lib" / "tests", [LIBRARY], [ROOT / "lib"], args):
        failures.append("lib tests")
    data_files.append(ROOT / ".coverage.lib")
    suite_tests = ROOT / "tests" / "unit"
    tools = ROOT / "tools"
    if test_suite("suite", suite_tests, [tools], [tools], args):
        failures.append("suite tests")
    elif report(ROOT / ".coverage.suite", str(tools / "validate_bundles.py")):
        failures.append("bundle validator coverage")
    for charm in charms():
        tests = charm / "tests" / "unit"
        staged = stage(charm)
        path = [charm / "lib", charm / "src"]
        if test_suite(charm.name, tests, [charm / "src", staged], path, args):
            failures.append(f"{charm.name} tests")
            continue
        data_files.append(ROOT / f".coverage.{charm.name}")
        if report(data_files[-1], f"{charm / 'src'}/*"):
            failures.append(f"{charm.name} coverage")
    combined = ROOT / ".coverage.combined"
    combine = [*COVERAGE, "combine", "--keep", f"--data-file={combined}", *map(str, data_files)]
    if run(combine, []) or report(combined, f"{LIBRARY}/*"):
        failures.append("shared library coverage")
    if failures:
        print(f"FAILED: {', '.join(failures)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
