#!/usr/bin/env python3
"""Convergence: replay deployments' event orders and count file writes and restarts.

Each charm's real code runs through ``ops.testing`` on a FakeHost (files written for
real under a temporary root, services simulated) for the event orders Juju produces:
install, leader-elected, config-changed, start, then every relation joined and changed,
with the remote side answering later (keystone after the endpoints are published,
hacluster clustering after the resources are sent), in fixed and shuffled orders. For
each service it prints restarts, how many came after its final inputs (target <= 1)
and restarts without an input change (target 0); then every event is replayed on the
final state (target: 0 writes, 0 restarts).
Usage: ``python3 benchmarks/convergence.py [--shuffles N]`` (no root needed).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import random
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHARMS = ("masakari", "pacemaker-remote", "masakari-monitors")


@dataclasses.dataclass
class Step:
    """One event; ``data`` replaces a relation's remote unit data before it runs."""

    label: str
    event: Callable  # (ctx.on, relations by endpoint) -> event
    endpoint: str = ""
    data: dict | None = None


def relation_block(endpoint: str, answers: list[dict], unit: int = 0) -> list[Step]:
    """joined, then one changed per answer (the remote side's successive bags)."""
    steps = [
        Step(f"{endpoint}-joined", lambda on, r: on.relation_joined(r[endpoint], remote_unit=unit))
    ]
    for i, answer in enumerate(answers):
        steps.append(
            Step(
                f"{endpoint}-changed{i}",
                lambda on, r: on.relation_changed(r[endpoint], remote_unit=unit),
                endpoint,
                {unit: answer},
            )
        )
    return steps


def lifecycle() -> list[Step]:
    """The events every unit sees before its relations."""
    return [
        Step("install", lambda on, r: on.install()),
        Step("leader-elected", lambda on, r: on.leader_elected()),
        Step("config-changed", lambda on, r: on.config_changed()),
        Step("start", lambda on, r: on.start()),
    ]


class Replay:
    """Runs steps in order, carrying the charm's stored state and its own relation data."""

    def __init__(self, recorder: Recorder, ctx, host, state, relations: dict, readers=None):
        self.recorder = recorder
        self.ctx, self.host, self.state, self.relations = ctx, host, state, relations
        # Files a charm writes itself (not through apply_files) -> services that read them.
        self.readers: dict[str, list[str]] = readers or {}
        self.events: list[dict] = []

    def run(self, step: Step) -> dict:
        """Run one step; returns what it changed, restarted and the status it left."""
        if step.data is not None:
            rel = self.relations[step.endpoint]
            field = (
                "peers_data"
                if hasattr(rel, "peers_data")
                else (
                    "remote_unit_data" if hasattr(rel, "remote_unit_data") else "remote_units_data"
                )
            )
            value = step.data[0] if field == "remote_unit_data" else step.data
            self.relations[step.endpoint] = dataclasses.replace(rel, **{field: value})
        state = dataclasses.replace(self.state, relations=list(self.relations.values()))
        self.host.commands.clear()
        self.recorder.clear()
        written: list[str] = []
        write_file = self.host.write_file

        def recording_write(path, content, **kwargs):
            outcome = write_file(path, content, **kwargs)
            if outcome.content_changed:
                written.append(str(path))
            return outcome

        self.host.write_file = recording_write
        try:
            out = self.ctx.run(step.event(self.ctx.on, self.relations), state)
        finally:
            del self.host.write_file
        direct = [p for p in written if p in self.readers]
        for rel in out.relations:
            for key, current in self.relations.items():
                if current.id == rel.id:
                    self.relations[key] = rel
        self.state = dataclasses.replace(out, relations=[])
        record = {
            "label": step.label,
            "changed": list(self.recorder.changed) + direct,
            "inputs": list(self.recorder.restarts) + [s for p in direct for s in self.readers[p]],
            "restarts": self.host.restarted(),
            "starts": [c[-1] for c in self.host.ran("systemctl", "enable", "--now")],
            "status": out.unit_status,
        }
        self.events.append(record)
        return record


class Recorder:
    """Wraps rendering.apply_files to learn which files changed and which services read them."""

    def __init__(self):
        self.changed: list[str] = []
        self.restarts: list[str] = []
        rendering = importlib.import_module("openstack_charm_lib.rendering")
        original = rendering.apply_files

        def recording(host, files):
            applied = original(host, files)
            self.changed.extend(applied.changed)
            self.restarts.extend(applied.restarts)
            return applied

        setattr(rendering, "apply_files", recording)  # noqa: B010 - patching a module

    def clear(self) -> None:
        """Forget the last event's changes."""
        self.changed.clear()
        self.restarts.clear()


def masakari_scenario(tmp: Path, shuffles: int):
    """The masakari charm: its test fixtures' relation data, several arrival orders."""
    conftest = importlib.import_module("conftest")
    charm = importlib.import_module("charm")
    wl = importlib.import_module("masakari_workload")
    from openstack_charm_testing import FakeHost
    from ops import testing

    peer_data = {
        "private-address": "10.5.0.51",
        **{f"{e}-address": "10.5.0.51" for e in ("public", "internal", "admin")},
    }
    blocks = {
        "cluster": relation_block("cluster", [peer_data], unit=1),
        "shared-db": relation_block("shared-db", [{}, conftest.DB_DATA]),
        "amqp": relation_block("amqp", [conftest.AMQP_UNITS[0]]),
        "identity-service": relation_block("identity-service", [{}, conftest.KEYSTONE_DATA]),
        "ha": relation_block("ha", [{}, {"clustered": "yes"}]),
    }
    orders = {
        "database first": ["cluster", "shared-db", "amqp", "identity-service", "ha"],
        "keystone first": ["identity-service", "amqp", "ha", "shared-db", "cluster"],
    }
    sequences = {name: [s for b in order for s in blocks[b]] for name, order in orders.items()}
    rng = random.Random(20261122)
    for i in range(shuffles):
        queues = [list(b) for b in blocks.values()]
        merged = []
        while any(queues):
            queue = rng.choice([q for q in queues if q])
            merged.append(queue.pop(0))
        sequences[f"shuffle {i + 1}"] = merged

    def start(path: Path):
        host = FakeHost(
            path,
            fqdn="juju-m-0.maas",
            available=conftest.PACKAGE_VERSIONS,
            service_ports=conftest.SERVICE_PORTS,
        )
        host.depends["masakari-api"] = ["masakari-common"]
        charm.MasakariCharm._make_host = lambda self: host
        ctx = testing.Context(charm.MasakariCharm)
        relations = {
            "cluster": testing.PeerRelation("cluster", "openstack-ha", peers_data={1: {}}),
            "shared-db": conftest.db_relation({}),
            "amqp": conftest.amqp_relation({0: {}}),
            "identity-service": conftest.keystone_relation({}),
            "ha": testing.SubordinateRelation("ha", "hacluster", remote_app_name="hacluster"),
        }
        state = testing.State(
            leader=True, config={"vip": "10.5.0.100"}, networks=conftest.networks()
        )
        return ctx, host, state, relations

    return wl.SERVICES, sequences, start


def pacemaker_remote_scenario(tmp: Path, shuffles: int):
    """pacemaker-remote: the principal, then hacluster's units sending the key."""
    conftest = importlib.import_module("conftest")
    charm = importlib.import_module("charm")
    pr = importlib.import_module("pacemaker_remote")
    from openstack_charm_testing import FakeHost
    from ops import testing

    key = {"pacemaker-key": conftest.KEY_B64}
    steps = relation_block("pacemaker-remote", [{}, key]) + relation_block(
        "pacemaker-remote", [key], unit=1
    )
    sequences = {"hacluster after the principal": steps}

    def start(path: Path):
        host = FakeHost(
            path,
            fqdn=conftest.FQDN,
            available=conftest.PACKAGES,
            service_ports={"pacemaker_remote": [3121]},
        )
        charm.PacemakerRemoteCharm._make_host = lambda self: host
        ctx = testing.Context(charm.PacemakerRemoteCharm)
        relations = {
            "juju-info": conftest.container(),
            "pacemaker-remote": conftest.hacluster({0: {}, 1: {}}),
        }
        state = testing.State(leader=True, networks=[conftest.remote_network()])
        return ctx, host, state, relations, {pr.AUTHKEY: [pr.SERVICE]}

    return ("pacemaker_remote",), sequences, start


def monitors_scenario(tmp: Path, shuffles: int):
    """masakari-monitors: keystone answering late, then masakari on registration."""
    conftest = importlib.import_module("conftest")
    charm = importlib.import_module("charm")
    from openstack_charm_testing import FakeHost
    from ops import testing

    steps = relation_block("identity-credentials", [{}, conftest.CREDENTIALS]) + relation_block(
        "registration", [{}]
    )
    sequences = {"keystone, then masakari": steps}

    def start(path: Path):
        host = FakeHost(path, fqdn=conftest.FQDN, available=conftest.PACKAGES)
        host.unit_groups = {"masakari-host-monitor": "masakari"}
        host.write_file("/etc/nova/nova.conf", conftest.NOVA_CONF_FQDN)
        host.running.add("pacemaker_remote")
        charm.MasakariMonitorsCharm._make_host = lambda self: host
        ctx = testing.Context(charm.MasakariMonitorsCharm)
        relations = {
            "container": testing.SubordinateRelation("container", remote_app_name="nova-compute"),
            "identity-credentials": conftest.keystone({}),
            "registration": testing.Relation("registration", remote_app_name="masakari"),
        }
        return ctx, host, testing.State(leader=True), relations

    monitors = ("masakari-host-monitor", "masakari-instance-monitor")
    return monitors, sequences, start


SCENARIOS = {
    "masakari": masakari_scenario,
    "pacemaker-remote": pacemaker_remote_scenario,
    "masakari-monitors": monitors_scenario,
}


def summarise(service: str, events: list[dict]) -> tuple[int, int, int]:
    """(restarts, restarts at or after its final input change, restarts with no change)."""
    changes = [i for i, e in enumerate(events) if service in e["inputs"]]
    restarts = [i for i, e in enumerate(events) for s in e["restarts"] if s == service]
    final = changes[-1] if changes else len(events)
    after_final = sum(1 for i in restarts if i >= final)
    # A restart answers an input change in its own event or a deferred one (the unit was
    # waiting for the database schema); none may happen without any change before it.
    unexplained = max(0, len(restarts) - len(changes))
    return len(restarts), after_final, unexplained


def run_charm(name: str, shuffles: int) -> int:
    """Every sequence of one charm (this process imports only that charm)."""
    charm_dir = ROOT / "charms" / name
    for path in (charm_dir / "tests" / "unit", charm_dir / "src", charm_dir / "lib"):
        sys.path.insert(0, str(path))
    sys.path.append(str(ROOT / "lib"))  # the fake machine, after the staged library
    recorder = Recorder()
    with tempfile.TemporaryDirectory() as tmp:
        services, sequences, start = SCENARIOS[name](Path(tmp), shuffles)
        prefix = lifecycle()
        for index, (label, steps) in enumerate(sequences.items()):
            replay = Replay(recorder, *start(Path(tmp) / str(index)))
            for step in prefix + steps:
                replay.run(step)
            events = list(replay.events)
            replay.events.clear()
            for step in prefix + steps:
                replay.run(dataclasses.replace(step, data=None))
            replayed = replay.events
            writes = sum(len(e["changed"]) for e in events)
            cells = []
            for service in services:
                total, after, unexplained = summarise(service, events)
                cells.append(f"{service} {total}/{after}/{unexplained}")
            status = events[-1]["status"]
            print(
                f"{name:18} {label:30} {len(events):3d} {writes:6d}  {'  '.join(cells)}  "
                f"replay {sum(len(e['changed']) for e in replayed)}w/"
                f"{sum(len(e['restarts']) for e in replayed)}r  "
                f"[{status.name}: {status.message}]"
            )
    return 0


def main() -> int:
    """Run each charm in its own process (each has a module named ``charm``)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--shuffles", type=int, default=3)
    parser.add_argument("--charm", choices=CHARMS)
    args = parser.parse_args()
    if args.charm:
        return run_charm(args.charm, args.shuffles)
    subprocess.run([sys.executable, str(ROOT / "tools" / "stage_lib.py")], check=True)
    print("convergence: per service restarts total/after final inputs/without a change")
    print(f"{'charm':18} {'event order':30} {'ev':>3} {'writes':>6}  services ...  replay")
    for charm in CHARMS:
        code = subprocess.call(
            [sys.executable, __file__, "--charm", charm, "--shuffles", str(args.shuffles)]
        )
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
