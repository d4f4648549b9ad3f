#!/usr/bin/env python3
"""The upgrade, release by release: time per step and API unavailability per step.

The functional test's chain (tests/functional/upgrade_chain.py: real MariaDB, RabbitMQ,
keystone, each release's masakari under the charm's Apache and haproxy, the charm's
hooks doing the upgrade) runs caracal -> noble's newest twice: moving
``openstack-origin`` alone, and with ``action-managed-upgrade`` and the
``openstack-upgrade`` action. While each step runs, a client asks the unit's haproxy
frontend for masakari's version document every 20 ms (each request waits up to 10 s);
the table gives the step's duration, the requests made, those that failed (connection
refused or reset, 5xx, timeout), the slowest answer, and for how long the API did not
answer (the longest run of failures, from the first failed request to the next answer;
after the step ends it waits up to a minute for that answer). Measured and printed,
never asserted.
Usage: ``sudo python3 benchmarks/upgrade_steps.py`` (.ci/run's packages; the services
venvs are built as ``tox -e func`` builds them).
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT / "tests" / "functional", ROOT / "charms" / "masakari" / "lib"):
    sys.path.insert(0, str(path))
sys.path.append(str(ROOT / "lib"))  # the fake machine, after the staged library

INTERVAL = 0.02
TIMEOUT = 10.0


@dataclasses.dataclass
class Probe:
    """One request through haproxy: when it started and whether masakari answered."""

    at: float
    ok: bool
    seconds: float  # until the answer (or the failure)


class Prober(threading.Thread):
    """Asks ``url`` every :data:`INTERVAL` seconds until stopped; keeps every answer."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url = url
        self.probes: list[Probe] = []
        self.done = threading.Event()

    def run(self) -> None:
        """Probe until :attr:`done` is set."""
        while not self.done.is_set():
            started = time.monotonic()
            try:
                with urllib.request.urlopen(self.url, timeout=TIMEOUT) as answer:
                    ok = answer.status < 500
            except urllib.error.HTTPError as err:
                ok = err.code < 500
            except OSError:
                ok = False
            self.probes.append(Probe(started, ok, time.monotonic() - started))
            self.done.wait(max(0.0, INTERVAL - (time.monotonic() - started)))

    def between(self, start: float, end: float) -> list[Probe]:
        """The probes started in [start, end)."""
        return [p for p in self.probes if start <= p.at < end]


def outage(probes: list[Probe]) -> tuple[float, bool]:
    """The longest run of failures, ended by the next success; False when none ended it."""
    longest, began = 0.0, None
    for probe in probes:
        if not probe.ok and began is None:
            began = probe.at
        elif probe.ok and began is not None:
            longest = max(longest, probe.at - began)
            began = None
    if began is not None:
        return max(longest, probes[-1].at + probes[-1].seconds - began), False
    return longest, True


def answered_after(prober: Prober, since: float, within: float) -> None:
    """Wait until a request started after ``since`` succeeds, or ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if any(p.ok for p in prober.between(since, time.monotonic())):
            return
        time.sleep(0.1)


def run_mode(with_action: bool) -> list[tuple]:
    """Deploy, populate and upgrade; a row per step."""
    import upgrade_chain as uc

    chain = uc.UpgradeChain(
        Path(tempfile.mkdtemp(prefix="masakari-upgrade-bench-")), {"evacuation-delay": 1}
    )
    rows = []
    try:
        chain.start()
        chain.populate()
        prober = Prober(chain.url("/"))
        prober.start()
        previous = uc.CHAIN[0]
        for release in uc.CHAIN[1:]:
            start = time.monotonic()
            step = chain.upgrade_to(release, with_action=with_action)
            end = time.monotonic()
            answered_after(prober, end, 60)
            probes = prober.between(start, end)
            failed = sum(1 for p in probes if not p.ok)
            slowest = max((p.seconds for p in probes if p.ok), default=0.0)
            down, ended = outage(prober.between(start, time.monotonic()))
            step_name = f"{previous} -> {release}"
            rows.append((step_name, step.seconds, len(probes), failed, slowest, down, ended))
            assert step.status == "active: Unit is ready", step
            previous = release
        prober.done.set()
        prober.join()
    finally:
        chain.close()
    return rows


def main() -> int:
    """Build the chain's venvs, run both modes, print the table."""
    import release_matrix
    import upgrade_chain as uc

    for release in uc.CHAIN:
        release_matrix.services_venv(release)
    print("upgrade chain on the functional stack (haproxy -> Apache mod_wsgi -> masakari)")
    header = f"{'mode':18} {'step':22} {'time':>7} {'requests':>9} {'failed':>7}"
    print(f"{header} {'slowest':>8} {'down':>8}")
    for label, with_action in (("openstack-origin", False), ("openstack-upgrade", True)):
        rows = run_mode(with_action)
        for step, seconds, requests, failed, slowest, down, ended in rows:
            mark = "" if ended else ">"  # still down when the bench stopped waiting
            print(
                f"{label:18} {step:22} {seconds:6.1f}s {requests:9} {failed:7} "
                f"{slowest:7.2f}s {mark}{down:6.2f}s"
            )
        total = sum(r[1] for r in rows)
        print(f"{label:18} {'whole chain':22} {total:6.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
