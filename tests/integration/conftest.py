"""Integration tests run only where all they need is there; elsewhere each one skips.

They need the juju CLI and a reachable controller, MASAKARI_VIP (a free address of the
model's network, for masakari's vip) and the charm files bundles/masakari-minimal.yaml
deploys, built by ``tox -e build``. The skip reason names everything missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import jubilant
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "bundles" / "masakari-minimal.yaml"
VIP_VARIABLE = "MASAKARI_VIP"


def _why_no_controller() -> str | None:
    juju = shutil.which("juju")
    if juju is None:
        return "juju CLI not found on PATH"
    try:
        subprocess.run(
            [juju, "show-controller", "--format", "json"],
            check=True,
            capture_output=True,
            timeout=60,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        return f"no reachable Juju controller ({type(exc).__name__})"
    return None


def unbuilt_charms(bundle: Path) -> list[str]:
    """The local charm files ``bundle`` names that do not exist, relative to the repository."""
    applications = yaml.safe_load(bundle.read_text())["applications"].values()
    charms = (str(app.get("charm", "")) for app in applications)
    paths = [(bundle.parent / c).resolve() for c in charms if c.startswith(".")]
    return [str(p.relative_to(ROOT)) for p in paths if not p.exists()]


def why_skip() -> list[str]:
    """Every missing prerequisite, for the skip reason; empty when the tests can run."""
    reasons = []
    controller = _why_no_controller()
    if controller:
        reasons.append(controller)
    if not os.environ.get(VIP_VARIABLE):
        reasons.append(f"{VIP_VARIABLE} not set (a free address of the model's network)")
    unbuilt = unbuilt_charms(BUNDLE)
    if unbuilt:
        reasons.append(f"charms not built (tox -e build): {', '.join(unbuilt)}")
    return reasons


def pytest_collection_modifyitems(config, items):
    reasons = why_skip()
    if reasons:
        skip = pytest.mark.skip(reason="; ".join(reasons))
        for item in items:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def bundle() -> Path:
    return BUNDLE


@pytest.fixture(scope="module")
def vip() -> str:
    return os.environ[VIP_VARIABLE]


@pytest.fixture(scope="module")
def juju() -> Iterator[jubilant.Juju]:
    with jubilant.temp_model() as juju:
        juju.wait_timeout = 45 * 60
        yield juju
