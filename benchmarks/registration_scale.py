#!/usr/bin/env python3
"""Automatic registration against the real Masakari API: 10, 100 and 1,000 hypervisors.

The services of the functional stack (keystone, MariaDB, RabbitMQ, masakari api and
engine, nova double) run on loopback; the masakari charm's leader runs one hook with N
masakari-monitors units related (ten monitors applications, one per segment, from 100
hosts up). For each N it prints API calls, writes and wall time of the first pass (all
registered), a pass with nothing to do, and the pass after every unit departed (all
removed), and the cost per host.
Usage: ``sudo python3 benchmarks/registration_scale.py`` (after ``bash .ci/run`` or
``tox -e func`` installed the services).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT / "tests" / "functional", ROOT / "charms" / "masakari" / "lib"):
    sys.path.insert(0, str(path))
sys.path.append(str(ROOT / "lib"))  # the fake machine, after the staged library

SIZES = (10, 100, 1000)


def _terminate(*_) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # let the clean-up finish
    sys.exit(143)


def main() -> int:
    """Start the services, run the passes per size, print the table, stop by PID."""
    import charm_runs
    import failover_stack

    missing = failover_stack.missing()
    if missing or os.geteuid() != 0:
        sys.exit(f"needs root and {', '.join(missing) or 'nothing else'} (bash .ci/run)")
    # A terminated run must still stop what it started (the finally below), once.
    signal.signal(signal.SIGTERM, _terminate)
    stack = failover_stack.start([])
    rows = []
    try:
        for n in SIZES:
            segments = max(1, n // 100)
            bags: dict[str, list[dict]] = {}
            for i in range(n):
                name = f"n{n}-{i:04d}.maas"
                stack.services.nova("POST", "/_double/service", {"host": name})
                segment = f"scale{n}-{i % segments}"
                bags.setdefault(segment, []).append(
                    {"hostname": name, "segment": segment, "reserved": "false"}
                )
            root = stack.root / f"leader-{n}"
            first = charm_runs.register_hypervisors(root, stack.facts, bags)
            again = charm_runs.register_hypervisors(
                root, stack.facts, bags, app_data=first.app_data
            )
            gone = charm_runs.register_hypervisors(root, stack.facts, {}, app_data=first.app_data)
            assert again.writes == 0, again
            rows.append((n, segments, first, again, gone))
    finally:
        stack.close()
    print(f"automatic registration, masakari of {charm_runs.RELEASE}: calls, writes, seconds")
    print(
        f"{'hosts':>5} {'segs':>4}  {'first pass':>22}  {'no-change pass':>22}  "
        f"{'all departed':>22}  {'ms/host first':>13}"
    )
    for n, segments, first, again, gone in rows:
        cells = [
            f"{sum(r.calls.values()):5d} calls {r.writes:5d} w {r.seconds:5.1f}s"
            for r in (first, again, gone)
        ]
        print(
            f"{n:5d} {segments:4d}  {cells[0]:>22}  {cells[1]:>22}  {cells[2]:>22}  "
            f"{first.seconds * 1000 / n:13.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
