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
