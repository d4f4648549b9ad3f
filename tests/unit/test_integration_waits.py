"""The integration tests' wait predicates (tests/integration/waits.py) on recorded statuses.

juju_status/suite-active.json is ``juju status --format json`` of the deployed minimal
bundle once every unit is active; each case changes the workload status of the units a
stage of the integration tests changes, and checks the predicate ends the wait there
and not at the statuses around it.
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Mapping
from pathlib import Path

import jubilant
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[0] / "integration"))

import waits  # noqa: E402

ACTIVE = json.loads((HERE / "juju_status" / "suite-active.json").read_text())
LEADER = "masakari/1"  # masakari's leader in the recording
REFUSED = (
    "host registration: adding juju-5a1e0c-8.lxd: POST /segments/{id}/hosts: HTTP 400: "
    "Compute service with name juju-5a1e0c-8.lxd could not be found. "
    "(+1 more, see juju debug-log) (retrying)"
)
UPGRADE = "Unit is ready (run openstack-upgrade for dalmatian)"


def unit_entry(document: dict, name: str) -> dict:
    """The status entry of unit ``name``, a principal or a subordinate."""
    for app in document["applications"].values():
        for unit, entry in app.get("units", {}).items():
            if unit == name:
                return entry
            if name in entry.get("subordinates", {}):
                return entry["subordinates"][name]
    raise KeyError(name)


def status(changes: Mapping[str, tuple[str, str] | None] | None = None) -> jubilant.Status:
    """The recorded active suite with each named unit's workload status changed.

    ``None`` removes the unit: a subordinate Juju has not created yet.
    """
    document = copy.deepcopy(ACTIVE)
    for name, workload in (changes or {}).items():
        if workload is None:
            for app in document["applications"].values():
                for entry in app.get("units", {}).values():
                    entry.get("subordinates", {}).pop(name, None)
            continue
        current, message = workload
        entry = unit_entry(document, name)
        entry["workload-status"] = {**entry["workload-status"], "current": current}
        entry["workload-status"]["message"] = message
    return jubilant.Status._from_dict(document)


NOVA_WAIT = ("waiting", waits.NOVA_CONF_WAIT)
EMPTY_MODEL = jubilant.Status._from_dict({**ACTIVE, "machines": {}, "applications": {}})
MONITORS = ("masakari-monitors/0", "masakari-monitors/1")


def test_the_recording_is_the_active_suite_that_all_active_accepts():
    recorded = status()
    assert jubilant.all_active(recorded)
    assert waits.leader(recorded, "masakari") == LEADER
    assert sorted(waits.monitors_units(recorded)) == list(MONITORS)
    assert not jubilant.all_active(status({"masakari-monitors/1": NOVA_WAIT}))


def test_the_deployment_settles_with_every_monitors_unit_waiting_for_nova_conf():
    assert waits.monitors_wait_for_nova_conf(status(dict.fromkeys(MONITORS, NOVA_WAIT)))
    assert not waits.monitors_wait_for_nova_conf(EMPTY_MODEL)


@pytest.mark.parametrize(
    "changes",
    [
        {},  # nova.conf written: active
        {"masakari-monitors/0": NOVA_WAIT},  # the other one is active
        {"masakari-monitors/0": NOVA_WAIT, "masakari-monitors/1": None},  # not there yet
        {
            "masakari-monitors/0": NOVA_WAIT,
            "masakari-monitors/1": ("maintenance", "Installing masakari-host-monitor"),
        },
        {"masakari-monitors/0": NOVA_WAIT, "masakari-monitors/1": ("blocked", NOVA_WAIT[1])},
        {
            "masakari-monitors/0": NOVA_WAIT,
            "masakari-monitors/1": (
                "waiting",
                "identity-credentials: waiting for keystone to create the user",
            ),
        },
    ],
)
def test_no_nova_conf_wait_while_some_monitors_unit_is_elsewhere(changes):
    assert not waits.monitors_wait_for_nova_conf(status(changes))


def test_the_leader_reports_the_refused_hosts_as_a_registration_it_retries():
    assert waits.leader_retries_host_registration(status({LEADER: ("waiting", REFUSED)}))


@pytest.mark.parametrize(
    "changes",
    [
        {},  # auto-register-hosts off: nothing to register
        {"masakari/0": ("waiting", REFUSED)},  # not the leader
        {LEADER: ("blocked", REFUSED)},  # the words alone are not the status
        # The API did not answer: no segment listed, none created.
        {
            LEADER: (
                "waiting",
                "host registration: 10.76.1.100:15868 did not answer (timed out); "
                "retrying on the next hook",
            )
        },
        {LEADER: ("waiting", "host registration: creating segment rack-1: HTTP 503 (retrying)")},
        {
            LEADER: (
                "blocked",
                "host registration: hosts relation: masakari-monitors/1 sent an invalid "
                "segment name ''",
            )
        },
    ],
)
def test_no_registration_wait_on_other_statuses(changes):
    assert not waits.leader_retries_host_registration(status(changes))


def test_pause_shows_maintenance_on_the_paused_unit():
    paused = waits.paused("masakari", "masakari/0")
    assert paused(status({"masakari/0": ("maintenance", waits.PAUSED)}))
    assert not paused(status())
    assert not paused(status({"masakari/0": ("maintenance", "Installing packages")}))
    assert not paused(status({"masakari/0": ("blocked", waits.PAUSED)}))
    assert not paused(status({"masakari/2": ("maintenance", waits.PAUSED)}))
    assert not waits.paused("nova-compute", "nova-compute/0")(status())


def test_the_upgrade_is_offered_once_every_unit_saw_the_new_origin():
    offered = waits.upgrade_offered("masakari", "dalmatian")
    every_unit = {f"masakari/{i}": ("active", UPGRADE) for i in range(3)}
    assert offered(status(every_unit))
    assert not offered(status())
    assert not offered(status({**every_unit, "masakari/2": ("active", "Unit is ready")}))
    assert not offered(status({**every_unit, "masakari/2": ("blocked", UPGRADE)}))
    assert not waits.upgrade_offered("masakari", "epoxy")(status(every_unit))
    assert not waits.upgrade_offered("nova-cloud-controller", "dalmatian")(status())
