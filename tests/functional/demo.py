#!/usr/bin/env python3
"""Watch a hypervisor fail over on this machine: ``tox -e demo`` (as root).

Brings up the end-to-end stack of the functional tests (real MariaDB, RabbitMQ,
keystone, masakari-api behind the charm's haproxy and Apache, masakari-engine, a
Pacemaker cluster with three pacemaker_remoted hypervisors in network namespaces, and
masakari-hostmonitor, all configured by the charms' files), lets the charms register the
hypervisors, puts two instances on one of them and kills it, printing the failover as a
timeline. The stack then stays up until Ctrl-C, for ``openstack`` commands (an openrc is
written) and the masakari charm's actions (``demo.py action NAME key=value ...``, run
through the charm as the tests run them). Ctrl-C stops every process by PID and deletes
the namespaces; a run killed before it could do so is cleaned up by the next one (or by
``demo.py cleanup``). Everything printed also goes to ``build/demo/demo.log``.

Usage: ``demo.py [--release R] [--no-wait]``, ``demo.py action NAME [key=value ...]``,
``demo.py cleanup``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import time
from pathlib import Path
from typing import TextIO

import demo_session
import release_matrix

MONITOR = "compute-0.maas"  # runs masakari-hostmonitor and survives
FAILING = "compute-1.maas"  # holds the instances, and dies
SPARE = "compute-2.maas"  # where nova may place them
INSTANCES = ("web-1", "db-1")
# Host monitoring tuned to see a death in seconds (the charm's defaults take a minute).
MONITOR_OPTIONS = {
    "host-monitoring-interval": 3,
    "host-monitoring-samples": 1,
    "host-stonith-wait": 1,
    "host-api-retry-interval": 2,
}
MASAKARI_CONFIG = {"evacuation-delay": 1}
RECOVERY_TIMEOUT = 240
LOG = demo_session.DEMO_DIR / "demo.log"
OPENRC = demo_session.DEMO_DIR / "openrc"


class Output:
    """Lines to the terminal and to the demo's log file alike."""

    def __init__(self, log: TextIO):
        self.log = log

    def write(self, text: str) -> None:
        for stream in (sys.stdout, self.log):
            stream.write(text)
            stream.flush()

    def line(self, text: str = "") -> None:
        self.write(text + "\n")


class StepTimer:
    """The stack's progress callback: each step on one line, with how long it took."""

    def __init__(self, out: Output, recorder: demo_session.Recorder):
        self.out = out
        self.recorder = recorder
        self.current: str | None = None
        self.started = 0.0

    def __call__(self, what: str, stack=None) -> None:
        if stack is not None:
            self.recorder.follow(stack)
            self.recorder.snapshot()
        self.finish()
        self.current, self.started = what, time.monotonic()
        self.out.write(f"  {what} ... ")

    def finish(self) -> None:
        if self.current is not None:
            self.out.line(f"{time.monotonic() - self.started:.1f}s")
            self.current = None


def interrupt_on_sigterm() -> None:
    """``kill PID`` stops the demo the way Ctrl-C does, cleaning up."""

    def handler(_signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def write_openrc(services) -> None:
    """An openrc for the stack's keystone (the admin user), readable by root only."""
    values = {
        "OS_AUTH_URL": services.keystone_url,
        "OS_IDENTITY_API_VERSION": "3",
        "OS_USERNAME": "admin",
        "OS_PASSWORD": services.passwords["admin"],
        "OS_PROJECT_NAME": "admin",
        "OS_USER_DOMAIN_NAME": "Default",
        "OS_PROJECT_DOMAIN_NAME": "Default",
        "OS_REGION_NAME": "RegionOne",
        "OS_INTERFACE": "public",
    }
    text = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in values.items())
    fd = os.open(OPENRC, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def check_machine(out: Output) -> None:
    """Root, the tools, free ports: refuse with what to do, before anything starts."""
    import failover_stack
    import service_stack as ss

    if os.geteuid() != 0:
        raise SystemExit("the demo runs real daemons in network namespaces: run it as root")
    missing = failover_stack.missing()
    if missing:
        raise SystemExit(
            f"missing: {', '.join(missing)} (tests/functional/install-prerequisites.sh "
            "installs them; tox -e demo runs it)"
        )
    taken = [f"{name} {port}" for name, port in ss.PORTS.items() if not ss.port_free(port)]
    if taken:
        raise SystemExit(f"ports in use on 127.0.0.1: {', '.join(taken)}; stop what holds them")
    out.line(f"masakari {ss.RELEASE}: the services' venv is {ss.SERVICES_VENV.name}")


def register(stack, out: Output) -> dict[str, str]:
    """Nova knows the hypervisors, the charms register them; the instances' ids."""
    import charm_runs

    nova = stack.services.nova
    for host in (MONITOR, FAILING, SPARE):
        nova("POST", "/_double/service", {"host": host})
    servers = {
        nova("POST", "/_double/server", {"name": name, "host": FAILING})["id"]: name
        for name in INSTANCES
    }
    for host in (MONITOR, FAILING, SPARE):
        # Each hypervisor's masakari-monitors unit, with the charm's default config.
        _, bag = charm_runs.run_masakari_monitors(
            stack.root / f"registration-{host}", stack.facts, host, {}
        )
        stack.registration_bags[host] = bag
    run = stack.register()
    out.line(f"the masakari leader: {run.status.message}")
    for line in stack.action("list-segments")["segments"].splitlines():
        out.line(f"  {line}")
    out.line(f"nova: instances {', '.join(INSTANCES)} run on {FAILING}")
    return servers


def how_to_reach(out: Output) -> None:
    demo = "tox -e demo --"
    out.line()
    out.line(f"The stack's keystone: {OPENRC.relative_to(demo_session.ROOT)} (admin). Try:")
    out.line(f"  . {OPENRC.relative_to(demo_session.ROOT)}")
    out.line("  .tox/demo/bin/openstack segment list")
    out.line("  .tox/demo/bin/openstack notification list")
    out.line(f"  {demo} action list-segments")
    out.line(f"  {demo} action list-notifications")
    out.line(f"  {demo} action set-host-maintenance hostname={FAILING} state=off")
    out.line()


def play_failover(stack, servers: dict[str, str], out: Output) -> bool:
    """Kill the failing hypervisor and print what follows; whether it recovered."""
    import demo_timeline

    watch = demo_timeline.FailoverWatch(stack, FAILING, servers, out.line)
    node = stack.remotes[FAILING]
    node.read_pids()
    out.line(f"Killing pacemaker_remoted on {FAILING} (SIGKILL): the hypervisor is gone.")
    watch.kill_time()
    os.kill(node.pids["pacemaker-remoted"], signal.SIGKILL)
    watch.event("kill", f"{FAILING}: pacemaker_remoted killed")
    deadline = time.monotonic() + RECOVERY_TIMEOUT
    while not watch.done():
        if time.monotonic() > deadline:
            out.line(f"no recovery within {RECOVERY_TIMEOUT}s; logs in {stack.services.logs}")
            return False
        watch.poll()
        time.sleep(0.5)
    if watch.status != "finished":
        out.line(f"the recovery ended {watch.status}; logs in {stack.services.logs}")
        return False
    out.line(
        f"Recovered: {len(servers)} instances moved off {FAILING}, with nobody paged "
        f"({time.monotonic() - watch.killed:.1f}s after the kill)."
    )
    return True


def run(release: str, wait: bool) -> int:
    """The demo itself; its exit code."""
    # Before the log is opened: a demo still running keeps its log.
    cleaned = demo_session.clean_up_leftovers()
    demo_session.DEMO_DIR.mkdir(parents=True, exist_ok=True)
    with open(LOG, "w") as log:
        out = Output(log)
        if cleaned:
            out.line(cleaned)
        check_machine(out)
        out.line(f"Building (or reusing) the services' venv of {release} ...")
        release_matrix.services_venv(release)
        import failover_stack

        recorder = demo_session.Recorder(release)
        recorder.snapshot()
        timer = StepTimer(out, recorder)
        stack = None
        began = time.monotonic()
        try:
            out.line("Starting the stack (each part as the charms configure it):")
            stack = failover_stack.start(
                [MONITOR, FAILING, SPARE], masakari_config=MASAKARI_CONFIG, progress=timer
            )
            timer(f"masakari-hostmonitor on {MONITOR}", stack)
            failover_stack.start_hostmonitor(stack, MONITOR, MONITOR_OPTIONS)
            timer.finish()
            recorder.stop_following()
            recorder.snapshot()
            out.line(f"The stack is up ({time.monotonic() - began:.0f}s).")
            servers = register(stack, out)
            recorder.snapshot(
                facts=stack.facts, managed=stack.managed, related=stack.related, ready=True
            )
            write_openrc(stack.services)
            how_to_reach(out)
            recovered = play_failover(stack, servers, out)
            recorder.snapshot(managed=stack.managed)
            if wait:
                out.line()
                out.line("The stack stays up for the commands above; Ctrl-C stops it.")
                while True:
                    time.sleep(3600)
            return 0 if recovered else 1
        except KeyboardInterrupt:
            timer.finish()
            out.line()
            return 0 if stack is not None else 130
        finally:
            recorder.stop_following()
            stopping = time.monotonic()
            out.line("Stopping every process by PID and deleting the namespaces ...")
            if stack is not None:
                stack.close()
            # Whatever start() had begun when it was interrupted, and the record itself.
            stopped, _ = demo_session.clean_up(recorder.record)
            demo_session.finish(recorder.record)
            OPENRC.unlink(missing_ok=True)
            left = f", and {stopped} it had not stopped yet" if stopped else ""
            out.line(f"Stopped in {time.monotonic() - stopping:.0f}s{left}.")


def parse_params(pairs: list[str]) -> dict:
    """``key=value`` arguments as the action's params: integers and booleans typed."""
    params: dict = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"{pair!r}: parameters are key=value")
        if value.lower() in ("true", "false"):
            params[key] = value.lower() == "true"
        elif value.lstrip("-").isdigit():
            params[key] = int(value)
        else:
            params[key] = value
    return params


def action(name: str, pairs: list[str]) -> int:
    """Run a masakari action through the charm against the running demo."""
    record = demo_session.read()
    if not record or not record.get("ready"):
        raise SystemExit("no demo is running: start one with `tox -e demo` in another terminal")
    os.environ["MASAKARI_RELEASE"] = record["release"]
    import charm_runs
    from ops import testing

    try:
        results = charm_runs.run_masakari_action(
            Path(record["state"]) / "masakari-actions",
            record["facts"],
            name,
            parse_params(pairs),
            record.get("managed"),
            record.get("related"),
        )
    except testing.ActionFailed as failed:
        print(f"action {name} failed: {failed.message}")
        return 1
    for key, value in sorted(results.items()):
        text = str(value)
        if "\n" in text:
            print(f"{key}:")
            print("\n".join(f"  {line}" for line in text.splitlines()))
        else:
            print(f"{key}: {text}")
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["action"]:
        if len(argv) < 2:
            raise SystemExit("usage: demo.py action NAME [key=value ...]")
        return action(argv[1], argv[2:])
    if argv[:1] == ["cleanup"]:
        print(demo_session.clean_up_leftovers() or "nothing to clean up")
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--release",
        default=release_matrix.DEFAULT_STACK_RELEASE,
        choices=release_matrix.STACK_RELEASES,
        help="the OpenStack release the stack runs (default: %(default)s)",
    )
    parser.add_argument(
        "--no-wait", action="store_true", help="stop the stack once the failover is over"
    )
    args = parser.parse_args(argv)
    # service_stack reads the release when it is first imported.
    os.environ["MASAKARI_RELEASE"] = args.release
    interrupt_on_sigterm()
    return run(args.release, wait=not args.no_wait)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
