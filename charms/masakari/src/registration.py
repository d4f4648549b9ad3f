"""Automatic registration: bring masakari's segments and hosts to what the hypervisors ask.

The desired state comes from the masakari-host relation (one hypervisor per
masakari-monitors unit). The charm only ever changes what it created itself, which it
remembers in a :class:`Managed` record kept in the peer relation's application data
(so a new leader finds it): segments and hosts an operator created by hand are used,
never changed or removed. A host is the charm's when the charm added it: one found
already registered where its unit asks is not taken over, only reported (the active
status names it); once an operator removes it, the charm adds it and from then on it is
the charm's. One pass lists the segments once and the hosts of each relevant segment
once; with nothing to do it makes no other call.

Masakari and operators change what the charm registered, and the charm respects it:

- ``reserved`` is written when a host is registered and when its unit's ``reserved``
  changes, never otherwise: masakari-engine clears it on the spare it evacuates to (the
  spare is in use), and an operator may clear or set it; ``reserve-host`` makes a used
  spare a spare again. A host registered as reserved also gets its nova-compute service
  disabled (the scheduler would fill the spare otherwise), unless masakari already uses it.
- a segment's settings follow ``default-recovery-method``/``service-type`` when those
  change; an operator's edit of a segment the charm created is kept and reported as
  drift (the active status names it) until the options change or the edit is undone.
- a host an operator moved to another segment (or registered there first) is reported
  once found there, and not written again until it leaves that segment.

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
from nova_api import NovaApi, disabled_by_masakari
from openstack_charm_lib.relations.masakari_host import Hypervisor

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

    def fields(self) -> dict[str, str]:
        """The segment fields these settings give."""
        return {"recovery_method": self.recovery_method, "service_type": self.service_type}


def _strings(value: object) -> dict[str, str]:
    return {str(k): str(v) for k, v in dict(value).items()}  # type: ignore[call-overload]


@dataclasses.dataclass
class Managed:
    """What the charm created and last wrote.

    ``segments``: segment name -> the settings the charm last gave it ({} before the
    record kept them); ``hosts``: host name -> segment name of the hosts the charm
    added; ``uuids``: host name -> masakari's UUID of that host (a host of the same name
    an operator registered again by hand has another one; records of earlier charm
    versions have none until the next pass); ``reserved``: host name -> the unit's
    ``reserved`` the charm last applied; ``nova``: hosts whose nova-compute service still
    has to follow that; ``elsewhere``: host name -> the segment an operator holds it in,
    other than the one its unit asks for.
    """

    segments: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    hosts: dict[str, str] = dataclasses.field(default_factory=dict)
    reserved: dict[str, bool] = dataclasses.field(default_factory=dict)
    nova: set[str] = dataclasses.field(default_factory=set)
    elsewhere: dict[str, str] = dataclasses.field(default_factory=dict)
    uuids: dict[str, str] = dataclasses.field(default_factory=dict)

    def dumps(self) -> str:
        """Compact, stable JSON for the peer relation."""
        data: dict[str, object] = {
            "segments": {k: dict(sorted(v.items())) for k, v in sorted(self.segments.items())},
            "hosts": dict(sorted(self.hosts.items())),
        }
        if self.reserved:
            data["reserved"] = dict(sorted(self.reserved.items()))
        if self.nova:
            data["nova"] = sorted(self.nova)
        if self.elsewhere:
            data["elsewhere"] = dict(sorted(self.elsewhere.items()))
        if self.uuids:
            data["uuids"] = dict(sorted(self.uuids.items()))
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def loads(cls, text: str | None) -> Managed:
        """The record from the peer relation; an empty record when absent or unreadable.

        A list of segment names (the record's first form) reads as segments whose
        settings are not known yet.
        """
        try:
            data = json.loads(text or "{}")
            segments = data.get("segments", {})
            if isinstance(segments, list):
                segments = {str(s): {} for s in segments}
            return cls(
                segments={str(k): _strings(v) for k, v in dict(segments).items()},
                hosts=_strings(data.get("hosts", {})),
                reserved={
                    str(k): v
                    for k, v in dict(data.get("reserved", {})).items()
                    if isinstance(v, bool)
                },
                nova={str(h) for h in data.get("nova", [])},
                elsewhere=_strings(data.get("elsewhere", {})),
                uuids=_strings(data.get("uuids", {})),
            )
        except (ValueError, TypeError, AttributeError, RecursionError):
            return cls()

    def copy(self) -> Managed:
        """An independent copy."""
        return Managed.loads(self.dumps())

    def forget(self, host: str) -> None:
        """Drop everything recorded about ``host``."""
        for record in (self.hosts, self.reserved, self.elsewhere, self.uuids):
            record.pop(host, None)
        self.nova.discard(host)

    def owns(self, segment: str, host: dict) -> bool:
        """Whether ``host``, listed in ``segment``, is one the charm added there.

        A record without the host's UUID (kept by an earlier charm version) is trusted
        by name; the pass then records the UUID.
        """
        name, uuid = host["name"], host["uuid"]
        return self.hosts.get(name) == segment and self.uuids.get(name, uuid) == uuid


@dataclasses.dataclass
class Report:
    """What a pass did and what is left; ``blocked`` needs the operator, ``retry`` does not.

    ``drift`` lists operators' changes the pass kept and the hosts registered by hand
    it leaves alone (nothing to fix, but worth showing).
    """

    managed: Managed
    done: list[str] = dataclasses.field(default_factory=list)
    blocked: list[str] = dataclasses.field(default_factory=list)
    retry: list[str] = dataclasses.field(default_factory=list)
    drift: list[str] = dataclasses.field(default_factory=list)
    hosts: int = 0  # hosts the relation asks for, registered where asked (by anyone)
    segments: int = 0


class _Pass:
    """One reconcile pass; holds what it listed so each list happens once."""

    def __init__(self, api: MasakariApi, settings: Settings, managed: Managed):
        self.api = api
        self.nova = NovaApi(api)
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
        for name in set(self.managed.elsewhere) - set(desired):
            self.managed.forget(name)
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
        wanted = self.settings.fields()
        segment = self.segments.get(name)
        if segment is None:
            try:
                created = self.api.create_segment(name, description=SEGMENT_DESCRIPTION, **wanted)
            except ApiError as exc:
                self.report.retry.append(f"creating segment {name}: {exc}")
                return
            self.segments[name] = created
            self.hosts[name] = {}
            self.managed.segments[name] = dict(wanted)
            self.report.done.append(f"created segment {name} ({self.settings.recovery_method})")
            return
        if name not in self.managed.segments:
            return  # an operator's segment: used as it is
        applied = self.managed.segments[name] or dict(wanted)
        actual = {k: segment.get(k) for k in wanted}
        if applied == wanted:
            # The options did not change since the charm wrote them: whatever differs is
            # an operator's edit, kept.
            self.managed.segments[name] = applied
            drifted = [
                f"{k} {actual[k]} (the charm's: {v})" for k, v in wanted.items() if actual[k] != v
            ]
            if drifted:
                self.report.drift.append(
                    f"segment {name} changed by hand, kept: {', '.join(drifted)}"
                )
            return
        changes = {k: v for k, v in wanted.items() if actual[k] != v}
        if changes:
            try:
                self.segments[name] = self.api.update_segment(segment["uuid"], **changes)
            except ApiError as exc:
                self.report.retry.append(f"updating segment {name}: {exc}")
                return
            self.report.done.append(f"updated segment {name}: {', '.join(sorted(changes))}")
        self.managed.segments[name] = dict(wanted)

    def drop_empty_segments(self, wanted: set[str]) -> None:
        for name in sorted(set(self.managed.segments) - wanted):
            if name not in self.segments:
                self.managed.segments.pop(name, None)
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
            self.managed.segments.pop(name, None)
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
                self.managed.forget(name)
                continue
            try:
                host = self.listed_hosts(segment).get(name)
                if host is None or not self.managed.owns(segment, host):
                    # Gone, or registered again by hand since: not the charm's to remove.
                    self.managed.forget(name)
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
            self.managed.forget(name)
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
        """Bring a registered host in line; True when it must be added."""
        if wanted.segment not in self.segments:
            return False  # its segment could not be created; already reported
        try:
            present = self.listed_hosts(wanted.segment).get(wanted.name)
            if present is None:
                return not self.still_elsewhere(wanted)
        except ApiError as exc:
            self.report.retry.append(f"listing hosts of {wanted.segment}: {exc}")
            return False
        self.managed.elsewhere.pop(wanted.name, None)
        self.report.hosts += 1
        if not self.managed.owns(wanted.segment, present):
            self.leave_alone(wanted, present)
            return False
        self.managed.uuids[wanted.name] = present["uuid"]
        applied = self.managed.reserved.get(wanted.name)
        if applied is None:
            # Added by an earlier charm version that kept no reserved value: what
            # masakari holds stands.
            self.managed.reserved[wanted.name] = wanted.reserved
        elif applied != wanted.reserved:
            # The unit's reserved-host option changed: the one time it is written again.
            if bool(present.get("reserved")) != wanted.reserved:
                uuid = self.segments[wanted.segment]["uuid"]
                try:
                    present = self.api.update_host(uuid, present["uuid"], reserved=wanted.reserved)
                except ApiError as exc:
                    self.report.retry.append(f"setting reserved on {wanted.name}: {exc}")
                    return False
                self.hosts[wanted.segment][wanted.name] = present
                self.report.done.append(
                    f"set reserved={str(wanted.reserved).lower()} on {wanted.name}"
                )
            self.managed.reserved[wanted.name] = wanted.reserved
            self.managed.nova.add(wanted.name)
        if wanted.name in self.managed.nova:
            self.follow_in_nova(wanted, present)
        return False

    def leave_alone(self, wanted: Hypervisor, present: dict) -> None:
        """A host registered by hand where its unit asks: not touched, only reported.

        Nothing about it is recorded, so it is never changed, and never removed when its
        unit departs; removed by an operator, it is added by the charm and becomes the
        charm's.
        """
        self.managed.forget(wanted.name)
        asks = ""
        if bool(present.get("reserved")) != wanted.reserved:
            asks = f" (its unit asks for reserved={str(wanted.reserved).lower()})"
        self.report.drift.append(
            f"host {wanted.name} in segment {wanted.segment} registered by hand, left alone{asks}"
        )

    def still_elsewhere(self, wanted: Hypervisor) -> bool:
        """Whether an operator still holds ``wanted`` in another segment (reported then)."""
        segment = self.managed.elsewhere.get(wanted.name)
        if segment is None:
            return False
        if segment in self.segments and wanted.name in self.listed_hosts(segment):
            self.report.blocked.append(self._elsewhere_message(wanted, segment))
            return True
        self.managed.elsewhere.pop(wanted.name)
        return False

    def _elsewhere_message(self, wanted: Hypervisor, segment: str) -> str:
        return (
            f"host {wanted.name} is registered in segment {segment} by hand (its unit asks "
            f"for {wanted.segment}): remove it there, or set its masakari-monitors "
            f"segment-name to {segment}"
        )

    def follow_in_nova(self, wanted: Hypervisor, present: dict) -> None:
        """A spare's nova-compute service disabled; a former spare's enabled again.

        A spare masakari already evacuated to (reserved now false) is left as masakari
        made it; so is a service an operator disabled for another reason.
        """
        try:
            if wanted.reserved and present.get("reserved") is True:
                service = self.nova.compute_service(wanted.name)
                if service["status"] == "enabled":
                    self.nova.set_compute_service(service, enabled=False)
                    self.report.done.append(f"disabled nova-compute on spare {wanted.name}")
            elif not wanted.reserved:
                service = self.nova.compute_service(wanted.name)
                if disabled_by_masakari(service):
                    self.nova.set_compute_service(service, enabled=True)
                    self.report.done.append(f"enabled nova-compute on {wanted.name}")
        except ApiError as exc:
            self.report.retry.append(f"nova-compute service of {wanted.name}: {exc}")
            return
        self.managed.nova.discard(wanted.name)

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
            results = []
            for wanted, future in futures:
                try:
                    results.append((wanted, future.result()))
                except ApiError as exc:
                    self._add_failed(wanted, exc)
        for wanted, added in results:
            self.hosts[wanted.segment][wanted.name] = added
            self.managed.forget(wanted.name)
            self.managed.hosts[wanted.name] = wanted.segment
            self.managed.uuids[wanted.name] = added["uuid"]
            self.managed.reserved[wanted.name] = wanted.reserved
            self.report.done.append(f"added {wanted.name} to {wanted.segment}")
            self.report.hosts += 1
            if wanted.reserved:
                self.managed.nova.add(wanted.name)
                self.follow_in_nova(wanted, added)

    def _add_failed(self, wanted: Hypervisor, exc: ApiError) -> None:
        if exc.status == 409:
            # Host names are unique across segments: find the one that holds it, so
            # that the next passes look there instead of trying again.
            try:
                segment = self._segment_holding(wanted)
            except ApiError as error:
                self.report.retry.append(f"looking for {wanted.name}: {error}")
                return
            if segment is not None:
                self.managed.forget(wanted.name)
                self.managed.elsewhere[wanted.name] = segment
                self.report.blocked.append(self._elsewhere_message(wanted, segment))
                return
            self.report.retry.append(f"adding {wanted.name} to {wanted.segment}: {exc}")
        elif exc.status == 400:
            # masakari checks the name against nova's compute services; nova-compute may
            # not have registered yet on a new hypervisor.
            self.report.retry.append(f"adding {wanted.name}: {exc}")
        else:
            self.report.retry.append(f"adding {wanted.name} to {wanted.segment}: {exc}")

    def _segment_holding(self, wanted: Hypervisor) -> str | None:
        for name in sorted(self.segments):
            if name != wanted.segment and wanted.name in self.listed_hosts(name):
                return name
        return None


def reconcile(
    api: MasakariApi, desired: dict[str, Hypervisor], managed: Managed, settings: Settings
) -> Report:
    """One pass; ``Report.managed`` is the record to keep.

    Raises ApiError only when keystone or the segment list fails (nothing changed then).
    """
    return _Pass(api, settings, managed).run(desired)
