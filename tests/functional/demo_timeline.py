"""The failover the demo plays, reported as it happens, each event once.

:class:`FailoverWatch` polls what an operator could look at after a hypervisor died:
the cluster's view of the remote node, the host monitor's log, masakari's notification
and the recovery steps its engine reports (``recovery_workflow_details``, API
microversion 1.1), where nova places the instances, and the host's maintenance flag.
Each new fact becomes one line stamped with the time since the kill; the lines are
plain text, so the terminal and the demo's log file read the same.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

# The first microversion whose notification detail carries the recovery steps.
WORKFLOW_DETAILS = {"OpenStack-API-Version": "instance-ha 1.1"}
FINAL = ("finished", "failed", "ignored")
# oslo.log's prefix: date, time, PID, level, logger and request context.
_LOG_PREFIX = re.compile(r"^\S+ \S+ \d+ (?P<level>[A-Z]+) \S+ (?:\[[^\]]*\] )?")


def shorten(text: str, width: int = 100) -> str:
    """``text`` cut before the object dump a long log line ends with."""
    if len(text) <= width:
        return text
    cuts = [i for i in (text.find(" {", 10), text.find("(", 10)) if i > 0]
    return text[: min(cuts) if cuts else width].rstrip(" .:") + " ..."


def monitor_lines(log_dir: Path, host: str, seen: set[str]) -> list[str]:
    """New lines of the monitors' logs under ``log_dir`` about ``host``, prefix removed."""
    found = []
    for log in sorted(log_dir.glob("*.log")):
        for line in log.read_text(errors="replace").splitlines():
            if host not in line or line in seen:
                continue
            seen.add(line)
            match = _LOG_PREFIX.match(line)
            text = shorten(line[match.end() :] if match else line)
            level = match["level"] if match else ""
            found.append(f"{text} ({level.lower()})" if level not in ("", "INFO") else text)
    return found


class FailoverWatch:
    """Reports the failover of ``host`` from the moment :meth:`kill_time` says it died."""

    def __init__(self, stack, host: str, servers: dict[str, str], say: Callable[[str], None]):
        self.stack = stack
        self.host = host
        self.servers = servers  # id -> name of the instances on the failing host
        self.say = say
        self.killed = time.monotonic()
        self.offline = False
        self.log_seen: set[str] = set()
        self.host_uuid: str | None = None
        self.notification: str | None = None
        self.status: str | None = None
        self.progress_seen: set[tuple[str, str]] = set()
        self.moved: dict[str, str] = {}
        self.on_maintenance = False

    def event(self, source: str, text: str) -> None:
        self.say(f"+{time.monotonic() - self.killed:5.1f}s  {source:<11} {text}")

    def kill_time(self) -> None:
        """The hypervisor dies now: the time every later line counts from."""
        self.host_uuid = self._find_host()["uuid"]
        self.killed = time.monotonic()
        log_dir = self.stack.root / "hostmonitor-logs"
        monitor_lines(log_dir, self.host, self.log_seen)  # what it said before the kill

    def done(self) -> bool:
        """The notification ended, and if it finished, its effects were all seen."""
        if self.status in ("failed", "ignored"):
            return True
        return (
            self.status == "finished"
            and self.on_maintenance
            and (len(self.moved) == len(self.servers))
        )

    def poll(self) -> None:
        """Look at everything once and report what changed."""
        stack = self.stack
        if not self.offline and not stack.topology.remote_online(stack.cluster, self.host):
            self.offline = True
            self.event("pacemaker", f"the cluster sees {self.host} offline")
        for line in monitor_lines(stack.root / "hostmonitor-logs", self.host, self.log_seen):
            self.event("hostmonitor", line)
        self._poll_notification()
        self._poll_servers()
        self._poll_maintenance()

    def _poll_notification(self) -> None:
        stack = self.stack
        if self.notification is None:
            mine = [
                n
                for n in stack.notifications()
                if n["type"] == "COMPUTE_HOST" and n["source_host_uuid"] == self.host_uuid
            ]
            if not mine:
                return
            self.notification = mine[0]["notification_uuid"]
        status, body = stack.services.call(
            "GET",
            f"{stack.api}/notifications/{self.notification}",
            stack.token(),
            headers=WORKFLOW_DETAILS,
        )
        if status != 200:
            return
        notification = body["notification"]
        if notification["status"] != self.status:
            self.status = notification["status"]
            self.event(
                "masakari",
                f"notification {self.notification[:8]} (COMPUTE_HOST {self.host}): {self.status}",
            )
        for step in notification.get("recovery_workflow_details") or []:
            for detail in step.get("progress_details") or []:
                key = (step["name"], detail["message"])
                if key not in self.progress_seen:
                    self.progress_seen.add(key)
                    self.event("engine", f"{step['name']}: {detail['message'].strip()}")

    def _poll_servers(self) -> None:
        if len(self.moved) == len(self.servers):
            return
        for server in self.stack.services.nova("GET", "/_double/servers")["servers"]:
            sid = server["id"]
            if sid in self.servers and sid not in self.moved and server["host"] != self.host:
                self.moved[sid] = server["host"]
                self.event(
                    "nova",
                    f"instance {self.servers[sid]} is {server['vm_state']} on {server['host']}",
                )

    def _find_host(self) -> dict:
        """The failing host as masakari lists it, with its segment's name added."""
        for segment in self.stack.masakari("GET", "/segments")[1]["segments"]:
            _, body = self.stack.masakari("GET", f"/segments/{segment['uuid']}/hosts")
            for host in body["hosts"]:
                if host["name"] == self.host:
                    return {**host, "segment_name": segment["name"]}
        raise LookupError(f"{self.host} is not registered in masakari")

    def _poll_maintenance(self) -> None:
        if self.on_maintenance or self.status is None:
            return
        host = self._find_host()
        if host["on_maintenance"]:
            self.on_maintenance = True
            self.event(
                "masakari",
                f"{self.host} is on maintenance in segment {host['segment_name']} "
                "(kept out of later recoveries until an operator puts it back)",
            )
