"""Arbitrary config, keys and relation data never raise out of a hook."""

from __future__ import annotations

import tempfile

import charm
import ops
from conftest import PACKAGES, hacluster, state
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openstack_charm_testing import FakeHost
from ops import testing

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
CONFIG = st.fixed_dictionaries(
    {},
    optional={
        "enable-stonith": st.booleans(),
        "enable-resources": st.booleans(),
        "remote-hostname": TEXT,
        "stonith-hostname": TEXT,
    },
)
UNIT_BAG = st.dictionaries(st.sampled_from(["pacemaker-key", "clustered", "x"]), TEXT, max_size=3)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(config=CONFIG, units=st.dictionaries(st.integers(0, 3), UNIT_BAG, max_size=3))
def test_never_a_hook_error(monkeypatch, config, units):
    host = FakeHost(
        tempfile.mkdtemp(), available=PACKAGES, service_ports={"pacemaker_remote": [3121]}
    )
    host.installed.update(PACKAGES)
    monkeypatch.setattr(charm.PacemakerRemoteCharm, "_make_host", lambda self: host)
    ctx = testing.Context(charm.PacemakerRemoteCharm)
    out = ctx.run(ctx.on.config_changed(), state(config=config, relation=hacluster(units)))
    assert isinstance(out.unit_status, ops.StatusBase)
    assert out.unit_status.name in ("active", "blocked", "waiting")
