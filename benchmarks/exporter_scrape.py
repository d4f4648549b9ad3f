#!/usr/bin/env python3
"""The masakari state exporter's cost per scrape with 10, 100 and 1,000 hosts.

Against the unit tests' in-memory Masakari API (no network, no root): 10 hosts in 1
segment, 100 in 2, 1,000 in 10, with a tenth of them on maintenance, a tenth reserved,
and one notification per ten hosts (of every type and status) in the last day. For each
size it prints, side by side, the API calls and wall time of the first collection (with
the keystone token and the version document), of a later one (median of the rounds),
of a scrape over HTTP that collects, and of a second scrape within ``min_interval``
(served from the cache: no API call). No assertion about time.
Usage: ``python3 benchmarks/exporter_scrape.py [--rounds N]`` (after
``python tools/stage_lib.py``).
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in ("charms/masakari/src", "charms/masakari/tests/unit", "charms/masakari/lib"):
    sys.path.insert(0, str(ROOT / path))

import masakari_exporter as mx  # noqa: E402
from fake_masakari_api import KEYSTONE, FakeMasakari  # noqa: E402
from masakari_api import Credentials, MasakariApi  # noqa: E402
from openstack_charm_lib.exporter import MetricsServer  # noqa: E402

SIZES = ((10, 1), (100, 2), (1000, 10))  # (hosts, segments)
NOW = datetime.datetime(2026, 11, 22, 12, 0, tzinfo=datetime.timezone.utc).timestamp()


def deployment(hosts: int, segments: int) -> FakeMasakari:
    """``hosts`` spread over ``segments``, some flagged, a notification per ten hosts."""
    fake = FakeMasakari()
    groups = [fake.add_segment(f"az{i}") for i in range(segments)]
    for i in range(hosts):
        host = fake.add_host(
            groups[i % segments], f"cmp-{i:04d}", reserved=i % 10 == 1, maintenance=i % 10 == 2
        )
        if i % 10 == 0:
            notification = fake.add_notification(host, mx.NOTIFICATION_STATUSES[i // 10 % 6])
            when = datetime.datetime.fromtimestamp(NOW - 60 * i, datetime.timezone.utc)
            notification.update(
                type=mx.NOTIFICATION_TYPES[i // 10 % 3],
                created_at=when.strftime("%Y-%m-%dT%H:%M:%S.%f"),
                generated_time=when.strftime("%Y-%m-%dT%H:%M:%S.%f"),
                updated_at=when.strftime("%Y-%m-%dT%H:%M:%S.%f"),
            )
    return fake


def client(fake: FakeMasakari) -> MasakariApi:
    """The exporter's API client, talking to ``fake``."""
    credentials = Credentials(
        keystone_url=KEYSTONE,
        username="masakari",
        password=fake.password,
        user_domain="service_domain",
        project="services",
        project_domain="service_domain",
        region="RegionOne",
        interface="internal",
    )
    return MasakariApi(credentials, page_size=mx.PAGE_SIZE, transport=fake)


def timed_collection(fake: FakeMasakari, api: MasakariApi) -> tuple[int, float]:
    """(API calls, ms) of one collection; fails loudly if it did not succeed."""
    before = len(fake.calls)
    start = time.perf_counter()
    families = mx.collect(api, NOW)
    elapsed = (time.perf_counter() - start) * 1000
    up = next(f for f in families if f.name == "masakari_api_up")
    assert up.samples == (((), 1.0),), "the collection failed"
    return len(fake.calls) - before, elapsed


def timed_scrape(url: str) -> tuple[float, int]:
    """(ms, bytes) of one GET /metrics."""
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as resp:
        body = resp.read()
    return (time.perf_counter() - start) * 1000, len(body)


def measure(hosts: int, segments: int, rounds: int) -> dict[str, object]:
    """One row of the table: collections in process, then scrapes over HTTP."""
    fake = deployment(hosts, segments)
    api = client(fake)
    first_calls, first_ms = timed_collection(fake, api)
    steady = [timed_collection(fake, api) for _ in range(rounds)]
    server = MetricsServer("127.0.0.1", 0, lambda: mx.collect(api, NOW), min_interval=30)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        before = len(fake.calls)
        fresh_ms, size = timed_scrape(url)
        fresh_calls = len(fake.calls) - before
        before = len(fake.calls)
        cached_ms = statistics.median(timed_scrape(url)[0] for _ in range(rounds))
        cached_calls = len(fake.calls) - before
    finally:
        server.shutdown()
        thread.join(5)
    return {
        "hosts": hosts,
        "segments": segments,
        "first": f"{first_calls} / {first_ms:.1f}",
        "steady": f"{steady[0][0]} / {statistics.median(ms for _, ms in steady):.1f}",
        "scrape": f"{fresh_calls} / {fresh_ms:.1f}",
        "cached": f"{cached_calls} / {cached_ms:.2f}",
        "bytes": size,
    }


def main(argv: list[str] | None = None) -> int:
    """Measure every size, then print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5, help="steady collections per size")
    args = parser.parse_args(argv)
    rows = [measure(hosts, segments, args.rounds) for hosts, segments in SIZES]
    columns = ("hosts", "segments", "first", "steady", "scrape", "cached", "bytes")
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    print("API calls / ms per collection (first: with token and version document; steady:")
    print(f"median of {args.rounds}; scrape: GET /metrics that collects; cached: a second")
    print(f"scrape within min_interval, median of {args.rounds}); bytes of the exposition")
    print("  ".join(c.rjust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row[c]).rjust(widths[c]) for c in columns))
    return 0


if __name__ == "__main__":
    sys.exit(main())
