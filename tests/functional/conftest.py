"""Render the charms' files through their real code, for checks by the real software.

The masakari charm's unit-test fixtures (relation data of a full deployment) are loaded
as ``masakari_unit_fixtures`` so that these tests drive the charm the same way.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_FIXTURES = ROOT / "charms" / "masakari" / "tests" / "unit" / "conftest.py"
_spec = importlib.util.spec_from_file_location("masakari_unit_fixtures", _FIXTURES)
assert _spec is not None and _spec.loader is not None
masakari_unit_fixtures = importlib.util.module_from_spec(_spec)
sys.modules["masakari_unit_fixtures"] = masakari_unit_fixtures
_spec.loader.exec_module(masakari_unit_fixtures)

from sigterm_teardown import pytest_configure  # noqa: E402, F401  (kill PID tears down)
