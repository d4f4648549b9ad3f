#!/usr/bin/env python3
"""Scale: the masakari leader's hook time with 10, 100 and 1,000 units of relation data.

Two series, each through the charm's real dispatch against the fake agent (as in
hook_cost.py): N peers on ``cluster`` (haproxy backends), and N hypervisors on
``hosts`` (automatic registration, against an in-memory Masakari API served on the
sandbox's own loopback). Each N is measured in the steady state (its first passes,
which write the files and register the hosts, are not timed) with the baseline
charm alternating. Prints median ms, ms per unit above the baseline, the marginal cost
per added unit (constant when the cost is linear) and the hook tools used.
The subordinates see a fixed number of remote units (3 hacluster, 3 masakari, 1
keystone), so they have no such series.
Usage: ``sudo python3 benchmarks/scale.py [--rounds N]``.
"""

from __future__ import annotations

import argparse
import http.server
import statistics
import sys
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "charms" / "masakari" / "src"))
sys.path.insert(0, str(HERE.parent / "charms" / "masakari" / "tests" / "unit"))

import charm_runner  # noqa: E402
import sandbox  # noqa: E402
import steady_states  # noqa: E402

SIZES = (10, 100, 1000)


def serve_fake_masakari(box: sandbox.Sandbox):
    """The unit tests' in-memory keystone and Masakari API, over HTTP on the loopback."""
    sys.path.insert(0, str(charm_runner.ROOT / "charms" / "masakari" / "lib"))
    from fake_masakari_api import ENDPOINT, KEYSTONE, FakeMasakari, http_handler

    fake = FakeMasakari()

    def origin_of(handler) -> str:
        keystone = getattr(handler.server, "server_port", 0) == 35357
        return (KEYSTONE if keystone else ENDPOINT).split("/v1")[0]

    Handler = http_handler(fake, origin_of)  # noqa: N806 - a class
    for url in (KEYSTONE, ENDPOINT):
        host, port = url.split("//")[1].split("/")[0].split(":")
        box.add_address(host)
        server = http.server.ThreadingHTTPServer((host, int(port)), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
    return fake


def series(name: str, make_model, rounds: int, box: sandbox.Sandbox, reset) -> list[dict]:
    """Median steady-state update-status per size, ours against the baseline."""
    rows = []
    for n in SIZES:
        reset()
        model = make_model(n)
        ours = charm_runner.Unit(
            charm_runner.TREES / "masakari", model, box.workdir / f"{name}{n}"
        )
        base = charm_runner.Unit(
            charm_runner.TREES / "masakari-baseline", model, box.workdir / f"{name}{n}b"
        )
        for _ in range(2):
            ours.run("config-changed")
        base.run("update-status")
        times: dict[str, list[float]] = {"ours": [], "base": []}
        last = None
        for i in range(rounds):
            pair = [("ours", ours), ("base", base)]
            for label, unit in pair if i % 2 == 0 else reversed(pair):
                run = unit.run("update-status")
                times[label].append(run.seconds)
                if label == "ours":
                    last = run
        assert last is not None
        ours.stop()
        base.stop()
        rows.append(
            {
                "n": n,
                "ours": statistics.median(times["ours"]) * 1000,
                "base": statistics.median(times["base"]) * 1000,
                "tools": last.counts.hook_tools,
                "status": last.counts.status,
            }
        )
    return rows


def main() -> int:
    """Build the trees, enter the sandbox, run both series and print them."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=11)
    args = parser.parse_args()
    if sandbox.os.environ.get(sandbox.INSIDE) != "1":
        charm_runner.prepare_trees(["masakari"])
        sandbox.enter()
    box = sandbox.Sandbox(Path("/run/charm-bench"))
    box.listen(15868, 15858, 11211)
    fake = serve_fake_masakari(box)
    print(f"scale: masakari leader update-status, median of {args.rounds} (wall ms)")
    print(
        f"{'relation data':24} {'N':>5} {'charm':>7} {'minimal':>7} {'extra/unit':>10} "
        f"{'marginal/unit':>13} {'tools':>6}  status"
    )
    for label, make in (
        ("N peers (cluster)", lambda n: steady_states.masakari(peers=n)),
        (
            "N hypervisors (hosts)",
            lambda n: steady_states.masakari(hypervisors=n, segments=max(1, n // 100)),
        ),
    ):
        rows = series(label.split()[1], make, args.rounds, box, fake.__init__)
        previous = None
        for row in rows:
            extra = (row["ours"] - row["base"]) / row["n"]
            marginal = (
                f"{(row['ours'] - previous['ours']) / (row['n'] - previous['n']):13.3f}"
                if previous
                else f"{'':>13}"
            )
            print(
                f"{label:24} {row['n']:5d} {row['ours']:7.0f} {row['base']:7.0f} "
                f"{extra:10.3f} {marginal} {row['tools']:6d}  "
                f"{row['status'][0]}: {row['status'][1]}"
            )
            previous = row
    print(f"hosts registered in the fake API by the last size: {len(fake.hosts)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
