#!/usr/bin/env python3
"""Failover latency on the functional stack: kill -> notification -> finished, per profile.

One stack (tests/functional/failover_stack.py: real keystone, masakari api/engine,
corosync/pacemaker and pacemaker_remoted hypervisors in namespaces, nova double) with
masakari at the charm's defaults (evacuation-delay 60). For each monitor profile in
turn, masakari-hostmonitor runs on one hypervisor with the masakari-monitors charm's
file for that profile, and ``--kills`` other hypervisors have pacemaker_remoted killed
one after another; masakari's own timestamps give kill -> notification and
-> finished. Profiles: the old reactive charm's hard-coded [host] settings, this
charm's defaults, and the fast profile the README recommends.
Usage: ``sudo python3 benchmarks/failover_latency.py [--kills N]`` (.ci/run's packages
and the services venv of ``tox -e func`` must be installed).
"""

from __future__ import annotations

import argparse
import datetime
import functools
import os
import signal
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT / "tests" / "functional", ROOT / "charms" / "masakari" / "lib"):
    sys.path.insert(0, str(path))
sys.path.append(str(ROOT / "lib"))  # the fake machine, after the staged library

PROFILES = {
    # What the old charm rendered: [host] all hard-coded, upstream's timing defaults.
    # (It left pacemaker_node_type at autodetect, which asks systemd; the namespaces
    # here have no systemd, so the node type is given. It does not change the timing.)
    "old charm (hard-coded)": {
        "host-monitoring-interval": 60,
        "host-monitoring-samples": 1,
        "host-stonith-wait": 30,
        "host-restrict-to-remotes": True,
        "host-disable-ipmi-check": True,
    },
    "this charm's defaults": {},
    # Checks every 10 s, two consecutive offline samples (a single missed corosync beat
    # is not a failure). host-stonith-wait 20 is what the README's profile sets; on a
    # pacemaker-remote node, as here, the host monitor never waits for it.
    "fast (README)": {
        "host-monitoring-interval": 10,
        "host-monitoring-samples": 2,
        "host-stonith-wait": 20,
    },
}
MONITOR = "compute-0.maas"


def sees_online(log: Path, hosts: list[str]) -> bool:
    """Whether the host monitor's log shows its first look found ``hosts`` online."""
    text = log.read_text() if log.exists() else ""
    return all(
        f"Recognized '{h}' as a new member of cluster. Host status is 'online'" in text
        for h in hosts
    )


def measure(stack, failing: str, timeout: float = 600) -> tuple[float, float]:
    """Kill ``failing``'s pacemaker_remoted; seconds to its notification and to finished."""
    import service_stack as ss
    from failover_stack import masakari_time

    uuid = next(h["uuid"] for h in stack.hosts("auto").values() if h["name"] == failing)
    node = stack.remotes[failing]
    node.read_pids()
    killed = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    os.kill(node.pids["pacemaker-remoted"], signal.SIGKILL)

    def finished():
        # The host's failure: a COMPUTE_HOST "STOPPED" event after the kill (the monitor
        # also reports hosts coming back, as "STARTED").
        found = [
            n
            for n in stack.notifications()
            if n["type"] == "COMPUTE_HOST"
            and n.get("source_host_uuid") == uuid
            and (n.get("payload") or {}).get("event") == "STOPPED"
            and masakari_time(n["created_at"]) >= killed.replace(microsecond=0)
        ]
        if found and found[0]["status"] in ("failed", "ignored"):
            raise RuntimeError(f"notification for {failing} ended {found[0]['status']}")
        return found[0] if found and found[0]["status"] == "finished" else None

    done = ss.wait_until(finished, timeout, f"{failing}'s recovery", interval=1)
    return (
        (masakari_time(done["created_at"]) - killed).total_seconds(),
        (masakari_time(done["updated_at"]) - killed).total_seconds(),
    )


def _terminate(*_) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # let the clean-up finish
    sys.exit(143)


def main() -> int:
    """Start the stack, run every profile, print the table; stop everything by PID."""
    import failover_stack
    import pacemaker_cluster as pc
    import service_stack as ss

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--kills", type=int, default=2)
    args = parser.parse_args()
    missing = failover_stack.missing()
    if missing or os.geteuid() != 0:
        sys.exit(f"needs root and {', '.join(missing) or 'nothing else'} (bash .ci/run)")
    # A terminated run must still stop what it started (the finally below), once.
    signal.signal(signal.SIGTERM, _terminate)
    victims = [f"compute-{i}.maas" for i in range(1, 1 + args.kills * len(PROFILES))]
    stack = failover_stack.start([MONITOR, *victims])
    results: dict[str, list[tuple[float, float]]] = {}
    try:
        nova = stack.services.nova
        for host in [MONITOR, *victims]:
            nova("POST", "/_double/service", {"host": host})
            nova("POST", "/_double/server", {"name": f"vm-{host}", "host": host})
        stack.registration_bags = {
            h: {"hostname": h, "segment": "segment-auto", "reserved": "false"}
            for h in [MONITOR, *victims]
        }
        stack.register()
        _, body = stack.masakari("GET", "/segments")
        stack.segments["auto"] = body["segments"][0]["uuid"]
        queue = list(victims)
        for name, options in PROFILES.items():
            process = f"hostmonitor-{len(results)}"
            monitor = failover_stack.start_hostmonitor(stack, MONITOR, options, name=process)
            log = stack.root / f"{process}-logs" / "masakari-hostmonitor.log"
            try:
                # Kill only once the monitor has seen the next victims online.
                check = functools.partial(sees_online, log, queue[: args.kills])
                ss.wait_until(check, 120, f"{process} to see the cluster")
                results[name] = []
                for _ in range(args.kills):
                    victim = queue.pop(0)
                    results[name].append(measure(stack, victim))
                    notify, finish = results[name][-1]
                    print(f"{name}: {victim} {notify:.0f}s / {finish:.0f}s", flush=True)
            finally:
                pc.stop_pid(monitor.pid)
                monitor.wait(timeout=30)
    finally:
        stack.close()
    print("failover latency (s), masakari's timestamps (1 s resolution), evacuation-delay 60")
    print(f"{'profile':26} {'kill->notification':>20} {'kill->finished':>16}  samples")
    baseline = statistics.median(n for n, _ in next(iter(results.values())))
    for name, samples in results.items():
        notify = statistics.median(n for n, _ in samples)
        finish = statistics.median(f for _, f in samples)
        print(
            f"{name:26} {notify:20.1f} {finish:16.1f}  "
            f"{', '.join(f'{n:.0f}/{f:.0f}' for n, f in samples)}  "
            f"(detection x{notify / baseline:.2f} of the old charm)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
