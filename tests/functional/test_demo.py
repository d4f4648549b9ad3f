"""``tox -e demo`` as a newcomer runs it: interrupted, run again, tried, stopped with Ctrl-C.

The demo's own entry point (``demo.py``, what ``tox -e demo`` runs) in a subprocess:
a first run killed with SIGKILL while it starts leaves processes and namespaces, which
the next run cleans up before it plays the failover (``--no-wait``); its timeline must
show each step in order. A run that waits then answers the openstack client through the
openrc it wrote and runs the charm's actions (``demo.py action``), refuses a second
demo, and stops everything on SIGINT.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import demo_session
import failover_stack
import pytest
import service_stack as ss

MISSING = failover_stack.missing()
pytestmark = pytest.mark.skipif(
    (bool(MISSING) or os.geteuid() != 0) and not os.environ.get("CI"),
    reason=f"needs root and {', '.join(MISSING) or 'nothing else'} (.ci/run installs them)",
)
DEMO = [sys.executable, str(Path(__file__).with_name("demo.py"))]
STACK_NETNS = re.compile(r"^mk(hub|\d+)-[0-9a-f]{6}$")  # pacemaker_cluster.Topology's
TIMELINE = re.compile(r"^\+\s*(?P<t>\d+\.\d)s  (?P<source>\S+)\s+(?P<text>.*)$")


def demo_env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


def wait_for_line(log: Path, text: str, proc: subprocess.Popen, timeout: float) -> str:
    """The demo's output once it holds ``text`` (failing if the demo exits first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = log.read_text() if log.exists() else ""
        if text in out:
            return out
        assert proc.poll() is None, f"the demo exited ({proc.returncode}):\n{out}"
        time.sleep(0.5)
    raise AssertionError(f"no {text!r} within {timeout}s:\n{log.read_text()}")


def netns_names() -> set[str]:
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in listing.splitlines() if line.strip()}


def assert_everything_stopped(record: dict) -> None:
    """No process, namespace or port of the record's stack is left, nor the record."""
    alive = [
        pid
        for pid, started in record["pids"].items()
        if demo_session.start_time(int(pid)) == started
    ]
    assert not alive, alive
    assert not netns_names() & set(record["namespaces"])
    assert all(ss.port_free(port) for port in ss.PORTS.values())
    assert not demo_session.SESSION.exists()


@pytest.fixture(autouse=True)
def no_demo_left():
    assert not demo_session.SESSION.exists(), "a demo is running: stop it first"
    yield
    subprocess.run([*DEMO, "cleanup"], env=demo_env(), timeout=300, check=False)


def test_a_killed_demo_is_cleaned_up_by_the_next_which_plays_the_failover(tmp_path):
    first_log = tmp_path / "first.log"
    with open(first_log, "w") as out:
        first = subprocess.Popen(
            [*DEMO, "--no-wait"], stdout=out, stderr=subprocess.STDOUT, env=demo_env()
        )
    try:
        # Killed while the cluster starts: services running, namespaces made.
        wait_for_line(first_log, "pacemaker_remoted on compute-0.maas", first, 600)
    finally:
        first.kill()
        first.wait(timeout=30)
    left = json.loads(demo_session.SESSION.read_text())
    assert left["namespaces"] and left["namespaces"][0] in netns_names()
    assert any(demo_session.start_time(int(p)) == s for p, s in left["pids"].items())

    second = subprocess.run(
        [*DEMO, "--no-wait"],
        capture_output=True,
        text=True,
        env=demo_env(),
        timeout=900,
    )
    out = second.stdout
    assert second.returncode == 0, out + second.stderr
    cleaned = re.search(r"(\d+) processes stopped, (\d+) network namespaces deleted", out)
    assert cleaned and int(cleaned[1]) > 0 and int(cleaned[2]) >= len(left["namespaces"])
    assert_everything_stopped(left)

    # The progress: each part of the stack on its line, with how long it took.
    for part in ("MariaDB", "keystone", "masakari: db sync", "pacemaker_remoted on compute-2"):
        assert re.search(rf"^  {re.escape(part)}.* \.\.\. \d+\.\ds$", out, re.M), part
    assert "the masakari leader: Unit is ready; hosts registered: 3, segments: 1" in out
    assert "    compute-1.maas [auto]" in out

    events = [m.groupdict() for m in map(TIMELINE.match, out.splitlines()) if m]
    times = [float(e["t"]) for e in events]
    assert times == sorted(times)
    said = [f"{e['source']}: {e['text']}" for e in events]

    def first_index(pattern: str) -> int:
        found = [i for i, line in enumerate(said) if re.search(pattern, line)]
        assert found, f"{pattern!r} not in the timeline:\n" + "\n".join(said)
        return found[0]

    order = [
        first_index(r"^kill: compute-1.maas: pacemaker_remoted killed"),
        first_index(r"^pacemaker: the cluster sees compute-1.maas offline"),
        first_index(r"^hostmonitor: .*compute-1.maas"),
        first_index(r"^masakari: notification \w+ \(COMPUTE_HOST compute-1.maas\): (new|running)"),
        first_index(r"^engine: DisableComputeServiceTask: "),
        first_index(r"^engine: EvacuateInstancesTask: "),
        first_index(r"^masakari: notification \w+ \(COMPUTE_HOST compute-1.maas\): finished"),
    ]
    assert order == sorted(order), said
    first_index(r"^masakari: compute-1.maas is on maintenance in segment default")
    for vm in ("web-1", "db-1"):
        first_index(rf"^nova: instance {vm} is active on compute-[02].maas")
    assert re.search(r"^Recovered: 2 instances moved off compute-1.maas", out, re.M)
    # Everything printed went to the log too.
    assert (demo_session.DEMO_DIR / "demo.log").read_text() == out
    # Its own stack is gone as well: no namespace of the suite is left.
    assert not [n for n in netns_names() if STACK_NETNS.match(n)]
    assert not demo_session.SESSION.exists()
    assert all(ss.port_free(port) for port in ss.PORTS.values())


def openrc_env(path: Path) -> dict[str, str]:
    """The variables the openrc exports, as a shell sourcing it gets them."""
    env = dict(os.environ)
    for line in path.read_text().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = shlex.split(value)[0]
    return env


def openstack(env: dict[str, str], *args: str):
    client = Path(sys.executable).with_name("openstack")
    done = subprocess.run(
        [str(client), *args, "-f", "json"], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def action(*args: str) -> str:
    done = subprocess.run(
        [*DEMO, "action", *args], capture_output=True, text=True, env=demo_env(), timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_waiting_demo_serves_the_client_and_the_actions_until_ctrl_c(tmp_path):
    log = tmp_path / "demo.log"
    with open(log, "w") as out:
        demo = subprocess.Popen(DEMO, stdout=out, stderr=subprocess.STDOUT, env=demo_env())
    try:
        wait_for_line(log, "Ctrl-C stops it", demo, 900)
        record = json.loads(demo_session.SESSION.read_text())
        openrc = demo_session.DEMO_DIR / "openrc"
        assert openrc.stat().st_mode & 0o777 == 0o600

        env = openrc_env(openrc)
        segments = openstack(env, "segment", "list")
        assert [(s["name"], s["recovery_method"]) for s in segments] == [("default", "auto")]
        notifications = openstack(env, "notification", "list")
        assert [(n["type"], n["status"]) for n in notifications] == [("COMPUTE_HOST", "finished")]

        assert "    compute-1.maas [maintenance, auto]" in action("list-segments")
        assert action("set-host-maintenance", "hostname=compute-1.maas", "state=off") == (
            "host: compute-1.maas is off maintenance: masakari acts on its failures again\n"
        )
        assert "    compute-1.maas [auto]" in action("list-segments")
        refused = action_failure("set-host-maintenance", "hostname=nowhere.maas", "state=off")
        assert refused.startswith("action set-host-maintenance failed: ")

        # A second demo would need the same ports: it refuses, and leaves this one alone.
        second = subprocess.run(
            [*DEMO, "--no-wait"], capture_output=True, text=True, env=demo_env(), timeout=120
        )
        assert second.returncode != 0
        assert f"a demo is running (PID {demo.pid})" in second.stderr
        assert demo.poll() is None
    finally:
        demo.send_signal(signal.SIGINT)
        code = demo.wait(timeout=300)
    out = log.read_text()
    assert code == 0, out
    assert re.search(r"^Stopped in \d+s\.$", out, re.M), out
    assert_everything_stopped(record)
    assert not openrc.exists()


def action_failure(*args: str) -> str:
    done = subprocess.run(
        [*DEMO, "action", *args], capture_output=True, text=True, env=demo_env(), timeout=120
    )
    assert done.returncode == 1, done.stdout + done.stderr
    return done.stdout
