"""A real upgrade, release by release: caracal to noble's newest, driven by the charm.

The masakari unit is deployed at caracal through its charm's hooks, then
``openstack-origin`` moves one Cloud Archive release at a time (see
:mod:`upgrade_chain`): once as operators do with ``action-managed-upgrade=false``, once
with ``action-managed-upgrade=true`` and the ``openstack-upgrade`` action. After each
step the leader has migrated the real schema exactly once, no masakari-engine ever ran
on a schema older than its code, the API answers through haproxy from the new release's
code, every segment, host and notification is still there, and the new engine recovers
a failed instance. A downgrade is refused.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import failover_stack
import pytest
import release_matrix
import upgrade_chain as uc

MISSING = failover_stack.missing()
MISSING += [
    f"services venv of {r}"
    for r in uc.CHAIN
    if not (release_matrix.services_venv_path(r) / "bin" / "masakari-engine").exists()
]
pytestmark = pytest.mark.skipif(
    (bool(MISSING) or os.geteuid() != 0) and not os.environ.get("CI"),
    reason=f"needs root and {', '.join(MISSING) or 'nothing else'} (.ci/run installs them)",
)
FIGURES: list[str] = []


def deployed() -> uc.UpgradeChain:
    if MISSING:
        pytest.fail(f"missing (tox -e func builds and installs them): {', '.join(MISSING)}")
    chain = uc.UpgradeChain(
        Path(tempfile.mkdtemp(prefix="masakari-upgrade-")), {"evacuation-delay": 1}
    )
    try:
        chain.start()
        chain.populate()
    except BaseException:
        chain.close()
        raise
    return chain


@pytest.fixture(scope="module")
def by_action():
    """The unit upgraded with openstack-upgrade; kept for the downgrade test."""
    chain = deployed()
    yield chain
    chain.close()
    for line in FIGURES:
        print(line)


def check_deployed(chain: uc.UpgradeChain) -> dict:
    assert chain.status == "active: Unit is ready", chain.status
    assert chain.host.release == "caracal"
    assert chain.synced_release == "caracal"
    assert [e.kind for e in chain.host.events[:1]] == ["db sync"]
    return chain.records()


def check_step(chain: uc.UpgradeChain, step: uc.Step, before: dict, apache_pid: int) -> dict:
    """What must hold after each release: returns the records for the next step."""
    release = step.release
    assert step.status == "active: Unit is ready", step
    assert chain.host.release == release
    assert chain.unit_state.workload_version == release_matrix.RELEASES[release].masakari
    assert chain.synced_release == release
    syncs = [e for e in chain.host.events if e.kind == "db sync" and e.release == release]
    assert len(syncs) == 1, syncs  # once per release
    assert syncs[0].revision == syncs[0].head == uc.schema_head(chain.services.masakari_venv)
    # Every notification from before flamingo gets its segment, once, in flamingo's pass.
    backfills = [e.revision for e in chain.host.events if e.kind == "backfill"]
    from_flamingo = uc.CHAIN.index(release) - uc.CHAIN.index("flamingo")
    if from_flamingo == 0:
        assert backfills == [str(len(before["notifications"]))]
    elif from_flamingo > 0:
        assert backfills[from_flamingo] == "0", backfills
    else:
        assert backfills == []
    starts = [e for e in chain.host.events if e.kind == "engine start" and e.release == release]
    assert starts, f"no {release} engine ever started"
    # The API runs the new code (Apache restarted with it), through haproxy.
    assert chain.services.pids["apache2"] != apache_pid
    after = chain.records()
    assert chain.api_processes_run() == {release}
    for kind in ("segments", "hosts", "notifications"):
        assert after[kind] == before[kind], (release, kind)
    recovered = chain.instance_failure()  # the new engine works on the migrated schema
    after["notifications"][recovered] = chain.records()["notifications"][recovered]
    return after


def check_engines_never_ran_on_an_old_schema(chain: uc.UpgradeChain) -> None:
    starts = [e for e in chain.host.events if e.kind == "engine start"]
    early = [e for e in starts if e.revision != e.head]
    assert not early, early
    syncs = [e.release for e in chain.host.events if e.kind == "db sync"]
    assert syncs == list(uc.CHAIN), syncs


def run_chain(chain: uc.UpgradeChain, *, with_action: bool) -> None:
    records = check_deployed(chain)
    label = "openstack-upgrade" if with_action else "openstack-origin"
    previous = "caracal"
    for release in uc.CHAIN[1:]:
        apache = chain.services.pids["apache2"]
        step = chain.upgrade_to(release, with_action=with_action)
        if with_action:
            assert step.outcome == f"upgraded from {previous} to {release}", step
        records = check_step(chain, step, records, apache)
        FIGURES.append(
            f"upgrade ({label}) {previous} -> {release}: {step.seconds:.1f}s, "
            f"API back through haproxy {step.back_after:.1f}s later"
        )
        previous = release
    check_engines_never_ran_on_an_old_schema(chain)
    # A replayed hook at the newest release migrates and restarts nothing.
    events, apache = len(chain.host.events), chain.services.pids["apache2"]
    assert chain.hook("update_status") == "active: Unit is ready"
    assert len(chain.host.events) == events and chain.services.pids["apache2"] == apache


def test_upgrade_release_by_release_when_openstack_origin_changes():
    chain = deployed()
    try:
        run_chain(chain, with_action=False)
    finally:
        chain.close()


def test_upgrade_release_by_release_with_the_openstack_upgrade_action(by_action):
    run_chain(by_action, with_action=True)


def test_a_downgrade_is_refused_naming_the_option(by_action):
    chain = by_action
    newest = uc.CHAIN[-1]
    assert chain.host.release == newest, "runs after the upgrade by action"
    before = chain.records()
    events, apache = len(chain.host.events), chain.services.pids["apache2"]
    chain.host.clear()
    status = chain.hook("config_changed", **{"openstack-origin": f"cloud:noble-{uc.CHAIN[-2]}"})
    assert status == (
        f"blocked: openstack-origin cloud:noble-{uc.CHAIN[-2]} is older than the installed "
        f"{newest}: downgrades are not supported"
    )
    assert chain.host.release == newest and not chain.host.ran("apt-get", "dist-upgrade")
    assert len(chain.host.events) == events and chain.services.pids["apache2"] == apache
    assert chain.records() == before  # still serving, untouched
    status = chain.hook("config_changed", **{"openstack-origin": f"cloud:noble-{newest}"})
    assert status == "active: Unit is ready"
