"""Integration tests run only where a Juju controller is reachable; elsewhere they skip."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _why_no_juju() -> str | None:
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


SKIP_REASON = _why_no_juju()


def pytest_collection_modifyitems(config, items):
    if SKIP_REASON:
        for item in items:
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


@pytest.fixture(scope="module")
def juju():
    import jubilant

    with jubilant.temp_model() as juju:
        juju.wait_timeout = 45 * 60
        yield juju
