"""What a running demo leaves on the machine, recorded so that any later run can undo it.

The demo (``demo.py``) records, in ``build/demo/session.json`` (root-only: it holds the
stack's passwords), every process the stack has started (PID and kernel start time, so
that a PID reused by another process is never signalled), the network namespaces it
created and its state directory; a thread keeps the record current while the stack
starts. A run that ends normally removes the record; one killed before it could clean
up leaves it, and the next run (or ``demo.py cleanup``) stops those processes by PID,
deletes those namespaces and the state directory. The record also holds what
``demo.py action`` needs to run a masakari action against the running stack.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

from pacemaker_cluster import stop_pid

ROOT = Path(__file__).resolve().parents[2]
DEMO_DIR = ROOT / "build" / "demo"
SESSION = DEMO_DIR / "session.json"


def start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses; fields after it do not.
    return stat.rsplit(")", 1)[1].split()[19]


def stack_pids(stack) -> list[int]:
    """Every PID the stack has started so far, services and namespaced nodes alike."""
    services, topology = stack.services, stack.topology
    pids = list(services.pids.values()) + services._extra_pids("rabbitmq")
    pids += [proc.pid for proc, _ in list(topology.extra)]
    for node in list(topology.nodes):
        node.read_pids()
        pids += list(node.pids.values())
        if node.holder is not None:
            pids.append(node.holder.pid)
    return pids


def write(record: dict) -> None:
    """Replace the session record atomically, readable by root only."""
    DEMO_DIR.mkdir(parents=True, exist_ok=True)
    partial = SESSION.with_suffix(".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(record, handle, indent=1)
    partial.replace(SESSION)


def read() -> dict | None:
    """The session record of a running (or killed) demo, None if there is none."""
    try:
        return json.loads(SESSION.read_text())
    except (OSError, ValueError):
        return None


class Recorder:
    """Keeps the session record current with what the stack has started.

    :meth:`snapshot` is called by the stack's progress callback and, while the stack
    starts, every half second by a thread, so that even a run killed in the middle of a
    step leaves its processes recorded.
    """

    def __init__(self, release: str):
        self.record: dict = {
            "release": release,
            "pid": os.getpid(),
            "pid-start": start_time(os.getpid()),
            "pids": {},
        }
        self.stack = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def follow(self, stack) -> None:
        """Record ``stack`` from now on (its first progress call)."""
        if self.stack is None:
            self.stack = stack
            self.snapshot()
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            self.snapshot()

    def snapshot(self, **extra) -> None:
        """Record the stack's PIDs, namespaces and state directory, plus ``extra``."""
        with self._lock:
            self.record.update(extra)
            if self.stack is not None:
                try:
                    pids = stack_pids(self.stack)
                except RuntimeError:  # a dict grew while we read it; the next pass has it
                    return
                for pid in pids:
                    started = start_time(pid)
                    if started is not None:
                        self.record["pids"][str(pid)] = started
                self.record["namespaces"] = list(self.stack.topology.namespaces)
                self.record["tag"] = self.stack.topology.tag
                self.record["state"] = str(self.stack.root)
            write(self.record)

    def stop_following(self) -> None:
        """The stack is up (or gone): the record only changes on explicit snapshots."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)


def list_namespaces() -> list[str]:
    """The network namespaces of this machine."""
    done = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    return [line.split()[0] for line in done.stdout.splitlines() if line.strip()]


def namespace_pids(netns: str) -> list[int]:
    """The processes inside network namespace ``netns`` (all of them the stack's)."""
    done = subprocess.run(
        ["ip", "netns", "pids", netns], capture_output=True, text=True, check=False
    )
    return [int(p) for p in done.stdout.split() if p.isdigit()]


def clean_up(record: dict) -> tuple[int, int]:
    """Stop what ``record`` lists by PID, delete its namespaces and state; (pids, netns)."""
    stopped = 0
    namespaces = list(record.get("namespaces", []))
    # One being created when the demo was killed is not recorded yet, but carries the
    # stack's tag in its name.
    tag = record.get("tag")
    if tag:
        namespaces += [
            n for n in list_namespaces() if n.endswith(f"-{tag}") and n not in namespaces
        ]
    for netns in namespaces:
        for pid in namespace_pids(netns):
            stop_pid(pid, timeout=10)
            stopped += 1
    for pid, started in record.get("pids", {}).items():
        if start_time(int(pid)) == started:  # the same process, not a reuse of its PID
            stop_pid(int(pid), timeout=20)
            stopped += 1
    for netns in reversed(namespaces):
        subprocess.run(["ip", "netns", "delete", netns], capture_output=True, check=False)
    if record.get("state"):
        shutil.rmtree(record["state"], ignore_errors=True)
    return stopped, len(namespaces)


def clean_up_leftovers() -> str | None:
    """Undo what an earlier demo that could not clean up left; what was done, or None.

    A demo that is still running (its PID alive with its start time) is refused: two
    stacks cannot share the ports.
    """
    record = read()
    if record is None:
        return None
    owner = record.get("pid")
    if owner and owner != os.getpid() and start_time(owner) == record.get("pid-start"):
        raise SystemExit(
            f"a demo is running (PID {owner}); stop it with Ctrl-C in its terminal "
            f"or `kill -INT {owner}`"
        )
    stopped, namespaces = clean_up(record)
    SESSION.unlink(missing_ok=True)
    return (
        f"cleaned up what an interrupted demo left: {stopped} processes stopped, "
        f"{namespaces} network namespaces deleted"
    )


def finish(record: dict) -> None:
    """The stack closed itself: remove its state directory and the record."""
    if record.get("state"):
        shutil.rmtree(record["state"], ignore_errors=True)
    SESSION.unlink(missing_ok=True)
