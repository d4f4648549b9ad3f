"""What ``tox -e func`` runs on which release (tests/functional/run_releases.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

FUNCTIONAL = Path(__file__).resolve().parents[1] / "functional"
sys.path.insert(0, str(FUNCTIONAL))

import release_matrix  # noqa: E402
import run_releases  # noqa: E402


def test_the_default_release_runs_everything_and_the_others_the_day_2_features():
    runs, rest = run_releases.plan(["-x"])
    assert runs[0] == ("caracal", [str(FUNCTIONAL)])
    scenarios = [
        str(FUNCTIONAL / "test_failover.py"),
        str(FUNCTIONAL / "test_policy_overrides_api.py"),
        "-k",
        "not thousand",
    ]
    assert runs[1:] == [(r, scenarios) for r in ("epoxy", "gazpacho", "hibiscus")]
    assert rest == ["-x"]


def test_named_releases_run_everything():
    runs, rest = run_releases.plan(["--release", "hibiscus", "--release=epoxy", "-k", "kill"])
    assert runs == [("hibiscus", [str(FUNCTIONAL)]), ("epoxy", [str(FUNCTIONAL)])]
    assert rest == ["-k", "kill"]


def test_an_unknown_release_is_refused():
    with pytest.raises(SystemExit, match="--release 'yoga': one of caracal, epoxy"):
        run_releases.plan(["--release", "yoga"])


def test_each_stack_release_has_a_unit_on_a_series_that_offers_it():
    sys.path.insert(0, str(FUNCTIONAL.parents[1] / "lib"))
    from openstack_charm_lib.releases import parse_origin

    for release, (series, origin) in release_matrix.STACK_RELEASES.items():
        assert parse_origin(origin, series).release == release
    assert release_matrix.stack_release() in release_matrix.STACK_RELEASES


SLOW_RUN = """
import pathlib, time
import pytest

@pytest.fixture(scope="module")
def stack():
    try:
        yield
    finally:
        pathlib.Path(__file__).parent.joinpath("torn-down").write_text("yes")

def test_long(stack):
    pathlib.Path(__file__).parent.joinpath("running").write_text("")
    time.sleep(60)
"""


def test_a_terminated_run_tears_its_stacks_down_and_ends_the_runner(tmp_path):
    import os
    import signal
    import subprocess
    import time

    (tmp_path / "test_slow.py").write_text(SLOW_RUN)
    pytest_argv = [sys.executable, "-m", "pytest", "-q", "-p", "sigterm_teardown"]
    runner = (
        "import sys, run_releases\n"
        f"run_releases.run_forwarding_sigterm({pytest_argv!r} + [sys.argv[1]], None)\n"
        "print('the runner went on')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(FUNCTIONAL)}
    proc = subprocess.Popen(
        [sys.executable, "-c", runner, str(tmp_path / "test_slow.py")],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (tmp_path / "running").exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert (tmp_path / "torn-down").read_text() == "yes"
    assert proc.returncode != 0
    assert "terminated (pytest exit 2)" in out
    assert "the runner went on" not in out
