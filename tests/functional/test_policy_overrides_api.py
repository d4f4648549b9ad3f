"""A policy override the masakari charm writes changes what the real Masakari API answers.

The stack is :mod:`failover_stack` without hypervisors: keystone, MariaDB, RabbitMQ and
the unit's haproxy, Apache and mod_wsgi serving masakari. The charm runs on the unit's
files with ``use-policyd-override`` and a ZIP resource; its ``policy.d`` file is put in
the config directory the API reads (``OS_MASAKARI_CONFIG_DIR``) with the owner and mode
the charm gave it, and Apache restarts when the charm restarted it.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import zipfile

import charm_runs
import failover_stack
import pytest
import service_stack as ss
from ops import testing

MISSING = failover_stack.missing()
pytestmark = pytest.mark.skipif(
    (bool(MISSING) or os.geteuid() != 0) and not os.environ.get("CI"),
    reason=f"needs root and {', '.join(MISSING) or 'nothing else'} (.ci/run installs them)",
)
RULE = "os_masakari_api:segments:index"


@pytest.fixture(scope="module")
def stack():
    if MISSING:
        pytest.fail(f"missing (bash .ci/run installs them): {', '.join(MISSING)}")
    stack = failover_stack.start([])
    try:
        yield stack
    finally:
        stack.close()


def charm_pass(stack, tmp_path, enabled: bool) -> testing.State:
    """One masakari hook on the unit's files; its policy.d copied where the API reads."""
    assert stack.unit is not None
    archive = tmp_path / "overrides.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("deny-segments.yaml", f'"{RULE}": "!"\n')
    host = charm_runs._masakari_host(stack.unit.root)
    ctx = charm_runs.masakari_context(host)
    state = charm_runs.new_masakari_state(
        stack.facts,
        {"config-flags": stack.services.masakari_flags(), "use-policyd-override": enabled},
    )
    state = dataclasses.replace(
        state, resources={testing.Resource(name="policyd-override", path=archive)}
    )
    out = ctx.run(ctx.on.upgrade_charm(), state)
    served = stack.services.state / "masakari-etc" / "policy.d"
    shutil.rmtree(served, ignore_errors=True)
    served.mkdir()
    for path in (stack.unit.root / "etc" / "masakari" / "policy.d").glob("*"):
        # As the charm left it: the test host records owners instead of setting them.
        owner, group, mode = host.owner_of(f"/etc/masakari/policy.d/{path.name}")
        shutil.copyfile(path, served / path.name)
        shutil.chown(served / path.name, owner, group)
        (served / path.name).chmod(mode)
    if "apache2" in host.restarted():
        stack.services.stop("apache2")
        stack.services.start_apache(stack.unit.root)
    return out


def test_an_override_denies_what_the_api_allowed_and_turning_it_off_restores_it(stack, tmp_path):
    status, body = stack.masakari("GET", "/segments")
    assert status == 200 and "segments" in body
    on = charm_pass(stack, tmp_path, enabled=True)
    assert on.unit_status.message.startswith("PO: "), on.unit_status
    ss.wait_until(lambda: stack.masakari("GET", "/segments")[0] == 403, 10, "policy reload")
    assert stack.masakari("GET", "/notifications")[0] == 200  # the other rules as they were
    off = charm_pass(stack, tmp_path, enabled=False)
    assert not off.unit_status.message.startswith("PO: "), off.unit_status
    ss.wait_until(lambda: stack.masakari("GET", "/segments")[0] == 200, 10, "policy reload")
