"""Automatic registration: bring masakari's segments and hosts to what the hypervisors ask.

The desired state comes from the masakari-host relation (one hypervisor per
masakari-monitors unit). The charm only ever changes what it registered itself, which it
remembers in a :class:`Managed` record kept in the peer relation: segments and hosts an
operator created by hand are used, never changed or removed. One pass lists the
segments once and the hosts of each relevant segment once; with nothing to do it makes
no other call.

Removal is careful: a host whose unit went away is unregistered only when it is not on
maintenance (masakari just evacuated it, or an operator is working on it) and has no
unfinished notification. Problems never stop the pass: each is reported, the rest of
the work is done, and the next hook tries again.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json

from masakari_api import ApiError, MasakariApi
from openstack_charm_lib.hypervisors import Hypervisor

UNFINISHED = ("new", "running", "error")
# Free text for masakari (it stores it and never reads it); the API requires a value.
CONTROL_ATTRIBUTES = "SSH"
# Host registrations in flight at once: masakari-api serves them in parallel, and a few
# keep its workers busy without crowding out the monitors' notifications.
ADD_CONCURRENCY = 8
SEGMENT_DESCRIPTION = "Registered by the masakari charm from the masakari-host relation"


@dataclasses.dataclass(frozen=True)
class Settings:
    """What the operator chose for what the charm creates."""

    recovery_method: str
    service_type: str


@dataclasses.dataclass
class Managed:
    """What the charm registered: segment names, and host name -> segment name."""

    segments: set[str] = dataclasses.field(default_factory=set)
    hosts: dict[str, str] = dataclasses.field(default_factory=dict)

    def dumps(self) -> str:
        """Compact, stable JSON for the peer relation."""
        return json.dumps(
            {"segments": sorted(self.segments), "hosts": dict(sorted(self.hosts.items()))},
            separators=(",", ":"),
        )

    @classmethod
    def loads(cls, text: str | None) -> Managed:
        """The record from the peer relation; an empty record when absent or unreadable."""
        try:
            data = json.loads(text or "{}")
            segments = {str(s) for s in data.get("segments", [])}
            hosts = {str(k): str(v) for k, v in dict(data.get("hosts", {})).items()}
        except (ValueError, TypeError, AttributeError):
            return cls()
        return cls(segments, hosts)

    def copy(self) -> Managed:
        """An independent copy."""
        return Managed(set(self.segments), dict(self.hosts))


@dataclasses.dataclass
class Report:
    """What a pass did and what is left; ``blocked`` needs the operator, ``retry`` does not."""

    managed: Managed
    done: list[str] = dataclasses.field(default_factory=list)
    blocked: list[str] = dataclasses.field(default_factory=list)
    retry: list[str] = dataclasses.field(default_factory=list)
    hosts: int = 0  # registered hosts the relation asks for
    segments: int = 0


class _Pass:
    """One reconcile pass; holds what it listed so each list happens once."""

    def __init__(self, api: MasakariApi, settings: Settings, managed: Managed):
        self.api = api
        self.settings = settings
        self.report = Report(managed.copy())
        self.segments: dict[str, dict] = {}
        self.hosts: dict[str, dict[str, dict]] = {}  # segment name -> host name -> host

    @property
    def managed(self) -> Managed:
        return self.report.managed

    def listed_hosts(self, segment: str) -> dict[str, dict]:
        if segment not in self.hosts:
            uuid = self.segments[segment]["uuid"]
            self.hosts[segment] = {h["name"]: h for h in self.api.hosts(uuid)}
        return self.hosts[segment]

    def run(self, desired: dict[str, Hypervisor]) -> Report:
        self.segments = {s["name"]: s for s in self.api.segments()}
        for name in sorted({h.segment for h in desired.values()}):
            self.ensure_segment(name)
        moving = self.remove_departed(desired)
        missing = [
            host
            for host in sorted(desired.values(), key=lambda h: h.name)
            if host.name not in moving and self.ensure_host(host)
        ]
        self.add_hosts(missing)
        self.drop_empty_segments({h.segment for h in desired.values()})
        self.report.segments = len({h.segment for h in desired.values()} & set(self.segments))
        return self.report

    # -- segments -------------------------------------------------------------------
    def ensure_segment(self, name: str) -> None:
        wanted = {
            "recovery_method": self.settings.recovery_method,
            "service_type": self.settings.service_type,
        }
        segment = self.segments.get(name)
        if segment is None:
            try:
                created = self.api.create_segment(name, description=SEGMENT_DESCRIPTION, **wanted)
            except ApiError as exc:
                self.report.retry.append(f"creating segment {name}: {exc}")
                return
            self.segments[name] = created
            self.hosts[name] = {}
            self.managed.segments.add(name)
            self.report.done.append(f"created segment {name} ({self.settings.recovery_method})")
            return
        if name not in self.managed.segments:
            return  # an operator's segment: used as it is
        changes = {k: v for k, v in wanted.items() if segment.get(k) != v}
        if not changes:
            return
        try:
            self.segments[name] = self.api.update_segment(segment["uuid"], **changes)
        except ApiError as exc:
            self.report.retry.append(f"updating segment {name}: {exc}")
            return
        self.report.done.append(f"updated segment {name}: {', '.join(sorted(changes))}")

    def drop_empty_segments(self, wanted: set[str]) -> None:
        for name in sorted(self.managed.segments - wanted):
            if name not in self.segments:
                self.managed.segments.discard(name)
                continue
            if any(seg == name for seg in self.managed.hosts.values()):
                continue  # a host still waits for its removal
            try:
                if self.listed_hosts(name):
                    continue  # an operator added hosts to it: keep it for them
                self.api.delete_segment(self.segments[name]["uuid"])
            except ApiError as exc:
                self.report.retry.append(f"deleting segment {name}: {exc}")
                continue
            self.managed.segments.discard(name)
            self.report.done.append(f"deleted empty segment {name}")

    # -- hosts ------------------------------------------------------------------------
    def remove_departed(self, desired: dict[str, Hypervisor]) -> set[str]:
        """Unregister managed hosts no unit wants there; returns hosts still in the way."""
        in_the_way: set[str] = set()
        for name, segment in sorted(self.managed.hosts.items()):
            wanted = desired.get(name)
            if wanted is not None and wanted.segment == segment:
                continue
            if segment not in self.segments:
                del self.managed.hosts[name]
                continue
            try:
                host = self.listed_hosts(segment).get(name)
                if host is None:
                    del self.managed.hosts[name]
                    continue
                reason = self.removal_blocker(host)
                if reason:
                    self.report.retry.append(f"not removing {name} from {segment}: {reason}")
                    in_the_way.add(name)
                    continue
                self.api.remove_host(self.segments[segment]["uuid"], host["uuid"])
            except ApiError as exc:
                self.report.retry.append(f"removing {name} from {segment}: {exc}")
                in_the_way.add(name)
                continue
            del self.managed.hosts[name]
            del self.hosts[segment][name]
            self.report.done.append(f"removed {name} from {segment}")
        return in_the_way

    def removal_blocker(self, host: dict) -> str | None:
        if host.get("on_maintenance"):
            return "it is on maintenance (set-host-maintenance off, or remove-host, when done)"
        notifications = self.api.notifications(source_host_uuid=host["uuid"])
        unfinished = [n for n in notifications if n.get("status") in UNFINISHED]
        if unfinished:
            return (
                f"notification {unfinished[0]['notification_uuid']} is {unfinished[0]['status']}"
            )
        return None

    def ensure_host(self, wanted: Hypervisor) -> bool:
        """Bring a registered host's flags in line; True when it must be added."""
        if wanted.segment not in self.segments:
            return False  # its segment could not be created; already reported
        try:
            present = self.listed_hosts(wanted.segment).get(wanted.name)
        except ApiError as exc:
            self.report.retry.append(f"listing hosts of {wanted.segment}: {exc}")
            return False
        if present is None:
            return True
        self.managed.hosts[wanted.name] = wanted.segment
        self.report.hosts += 1
        if bool(present.get("reserved")) != wanted.reserved:
            uuid = self.segments[wanted.segment]["uuid"]
            try:
                self.api.update_host(uuid, present["uuid"], reserved=wanted.reserved)
            except ApiError as exc:
                self.report.retry.append(f"setting reserved on {wanted.name}: {exc}")
                return False
            present["reserved"] = wanted.reserved
            self.report.done.append(
                f"set reserved={str(wanted.reserved).lower()} on {wanted.name}"
            )
        return False

    def add_hosts(self, missing: list[Hypervisor]) -> None:
        """Register ``missing`` hosts, several requests at a time.

        Masakari looks every new host up in nova (authenticating to keystone each time),
        so one add takes a fraction of a second: a thousand new hypervisors would hold
        the hook for minutes one by one. Results are recorded in name order.
        """

        def add(wanted: Hypervisor) -> dict:
            return self.api.add_host(
                self.segments[wanted.segment]["uuid"],
                wanted.name,
                self.settings.service_type,
                wanted.reserved,
                CONTROL_ATTRIBUTES,
            )

        with concurrent.futures.ThreadPoolExecutor(max_workers=ADD_CONCURRENCY) as pool:
            futures = [(wanted, pool.submit(add, wanted)) for wanted in missing]
            for wanted, future in futures:
                try:
                    added = future.result()
                except ApiError as exc:
                    self._add_failed(wanted, exc)
                    continue
                self.hosts[wanted.segment][wanted.name] = added
                self.managed.hosts[wanted.name] = wanted.segment
                self.report.done.append(f"added {wanted.name} to {wanted.segment}")
                self.report.hosts += 1

    def _add_failed(self, wanted: Hypervisor, exc: ApiError) -> None:
        if exc.status == 409:
            self.report.blocked.append(
                f"host {wanted.name} is registered in another segment by hand: remove it there, "
                f"or set its masakari-monitors segment-name to that segment"
            )
        elif exc.status == 400:
            # masakari checks the name against nova's compute services; nova-compute may
            # not have registered yet on a new hypervisor.
            self.report.retry.append(f"adding {wanted.name}: {exc}")
        else:
            self.report.retry.append(f"adding {wanted.name} to {wanted.segment}: {exc}")


def reconcile(
    api: MasakariApi, desired: dict[str, Hypervisor], managed: Managed, settings: Settings
) -> Report:
    """One pass; ``Report.managed`` is the record to keep.

    Raises ApiError only when keystone or the segment list fails (nothing changed then).
    """
    return _Pass(api, settings, managed).run(desired)
