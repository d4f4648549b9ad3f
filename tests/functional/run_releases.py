#!/usr/bin/env python3
"""Run the functional tests on every release of the end-to-end stack (``tox -e func``).

The default release (caracal) runs everything: the rendered-file checks, the
pacemaker_remoted checks, the WSGI entry on every release's masakari, the end-to-end
scenarios, and the upgrade chain from caracal to noble's newest (whose releases' venvs
are built first). Each other release of :data:`release_matrix.STACK_RELEASES` (epoxy, gazpacho,
hibiscus) then runs the end-to-end scenarios and the policy overrides against its own
API again, with its own services, its unit on its own series and origin: every day-2
feature meets each release's masakari. The 1,000-hypervisor registration is left out
there: it measures the charm rather than the release and would double CI's time. Each
release's services venv is built first. ``--release R`` (repeatable) runs only the named
releases, each with everything; other arguments go to pytest.
Usage: ``run_releases.py [--release R ...] [pytest args]``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import release_matrix

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE / "test_failover.py"
POLICY = HERE / "test_policy_overrides_api.py"  # rule names and defaults are per release
RELEASE_INDEPENDENT = "not thousand"  # -k for the releases after the default one


def plan(args: list[str]) -> tuple[list[tuple[str, list[str]]], list[str]]:
    """The (release, pytest selection) runs asked for, and the other pytest arguments."""
    named, rest = [], []
    it = iter(args)
    for arg in it:
        if arg == "--release":
            named.append(next(it, ""))
        elif arg.startswith("--release="):
            named.append(arg.split("=", 1)[1])
        else:
            rest.append(arg)
    for release in named:
        if release not in release_matrix.STACK_RELEASES:
            known = ", ".join(release_matrix.STACK_RELEASES)
            raise SystemExit(f"--release {release!r}: one of {known}")
    if named:
        return [(r, [str(HERE)]) for r in named], rest
    default = release_matrix.DEFAULT_STACK_RELEASE
    runs = [(default, [str(HERE)])]
    runs += [
        (r, [str(SCENARIOS), str(POLICY), "-k", RELEASE_INDEPENDENT])
        for r in release_matrix.STACK_RELEASES
        if r != default
    ]
    return runs, rest


def run_forwarding_sigterm(argv: list[str], env: dict[str, str]) -> int:
    """Run ``argv``, passing on a SIGTERM (after which the runner ends); its exit code.

    The stacks of a terminated run tear down only if pytest hears of it
    (:mod:`sigterm_teardown`); the next release's run would then find their ports taken.
    """
    child = subprocess.Popen(argv, env=env)
    terminated = []

    def forward(_signum, _frame):
        terminated.append(True)
        child.send_signal(signal.SIGTERM)

    previous = signal.signal(signal.SIGTERM, forward)
    try:
        code = child.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
    if terminated:
        raise SystemExit(f"terminated (pytest exit {code})")
    return code


def main(args: list[str]) -> int:
    """Build each release's venv, run its tests; non-zero when any run fails."""
    runs, rest = plan(args)
    results = []
    for release, selection in runs:
        started = time.monotonic()
        print(f"== {release}: building its services venv", flush=True)
        release_matrix.services_venv(release)
        if selection == [str(HERE)]:  # everything, the upgrade chain included
            import upgrade_chain

            print("== the upgrade chain: building each release's venv", flush=True)
            for step in upgrade_chain.CHAIN:
                release_matrix.services_venv(step)
        env = {**os.environ, "MASAKARI_RELEASE": release}
        argv = [sys.executable, "-m", "pytest", "-q", "-s", *selection, *rest]
        print(f"== {release}: {' '.join(argv[3:])}", flush=True)
        code = run_forwarding_sigterm(argv, env)
        results.append((release, code, time.monotonic() - started))
    for release, code, seconds in results:
        outcome = "passed" if code == 0 else f"FAILED (pytest exit {code})"
        print(f"{release}: {outcome} in {seconds:.0f}s")
    failed = sum(1 for _, code, _ in results if code)
    print(f"releases: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
