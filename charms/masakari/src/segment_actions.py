"""The day-2 actions on masakari's segments, hosts and notifications.

Each function takes the API client and the action's parameters and returns the action
results as readable text, or raises :class:`ActionRefusedError` with the reason;
:data:`HANDLERS` maps each action's name to its function. Every parameter is checked
here for its type and form (Juju's schema check is not the only caller), so a bad one
is a refusal naming it, never an exception. Nothing here prints a credential: results
hold names, states and UUIDs only.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from collections.abc import Callable, Iterator, Mapping

from masakari_api import ApiError, MasakariApi, UnsupportedError
from nova_api import DISABLED_REASON, NovaApi
from openstack_charm_lib.actions import ActionRefusedError
from openstack_charm_lib.network import is_hostname
from openstack_charm_lib.relations.masakari_host import Hypervisor, valid_segment_name
from registration import CONTROL_ATTRIBUTES, Managed

RECOVERY_METHODS = ("auto", "reserved_host", "auto_priority", "rh_priority")
NOTIFICATION_STATUSES = ("new", "running", "error", "failed", "ignored", "finished")
MAX_TEXT = 255  # masakari's String(255) columns


def _shown(value: object) -> str:
    """A parameter's value for a message: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _text(params: Mapping[str, object], key: str, *, required: bool = False) -> str:
    """A printable string parameter of at most MAX_TEXT characters ("" when absent)."""
    value = params.get(key)
    if value is None or value == "":
        if required:
            raise ActionRefusedError(f"the {key} parameter is required")
        return ""
    if not isinstance(value, str):
        raise ActionRefusedError(f"{key} must be a string, not {_shown(value)}")
    value = value.strip()
    if len(value) > MAX_TEXT or not value.isprintable():
        raise ActionRefusedError(
            f"{key} {_shown(value)} must be printable text of at most {MAX_TEXT} characters"
        )
    return value


def _hostname(params: Mapping[str, object]) -> str:
    hostname = _text(params, "hostname", required=True)
    if not is_hostname(hostname):
        raise ActionRefusedError(f"{hostname!r} is not a valid host name")
    return hostname


def _segment_param(params: Mapping[str, object], *, required: bool = False) -> str:
    name = _text(params, "segment", required=required)
    if name and not valid_segment_name(name):
        raise ActionRefusedError(f"{name!r} is not a valid segment name")
    return name


def _choice(params: Mapping[str, object], key: str, choices: tuple[str, ...]) -> str:
    value = params.get(key)
    if value is None or value == "":
        return ""
    if value not in choices:
        raise ActionRefusedError(f"{key} {_shown(value)} must be one of {', '.join(choices)}")
    return str(value)


def _flag(params: Mapping[str, object], key: str) -> bool:
    value = params.get(key, False)
    if not isinstance(value, bool):
        raise ActionRefusedError(f"{key} must be true or false, not {_shown(value)}")
    return value


def _segment_by_name(api: MasakariApi, name: str) -> dict:
    for segment in api.segments():
        if segment["name"] == name:
            return segment
    raise ActionRefusedError(f"no segment named {name!r} (see list-segments)")


def _registered_hosts(api: MasakariApi, segments: list[dict]) -> Iterator[tuple[dict, dict]]:
    """(segment, host) for every host of ``segments``."""
    for segment in segments:
        for host in api.hosts(segment["uuid"]):
            yield segment, host


def _find_host(api: MasakariApi, hostname: str, segment_name: str) -> tuple[dict, dict]:
    """(segment, host) for ``hostname``, in ``segment_name`` when given."""
    segments = [_segment_by_name(api, segment_name)] if segment_name else api.segments()
    for segment, host in _registered_hosts(api, segments):
        if host["name"] == hostname:
            return segment, host
    where = f"segment {segment_name}" if segment_name else "any segment"
    raise ActionRefusedError(f"host {hostname} is not registered in {where}")


def _flags(segment: dict, host: dict, managed: Managed) -> str:
    flags = [
        label
        for label, on in (
            ("reserved", host.get("reserved")),
            ("maintenance", host.get("on_maintenance")),
            ("auto", managed.owns(segment["name"], host)),
        )
        if on
    ]
    return f" [{', '.join(flags)}]" if flags else ""


# Masakari keeps no reason for a disabled segment: disable-segment appends it to the
# segment's description (which `openstack segment show` prints too) and
# enable-segment takes it off again.
REASON_OPEN = " [disabled: "
REASON_CLOSE = "]"


def _split_reason(description: object) -> tuple[str, str]:
    """(the description an operator wrote, the reason disable-segment added)."""
    text = description if isinstance(description, str) else ""
    start = text.rfind(REASON_OPEN)
    if start < 0 or not text.endswith(REASON_CLOSE):
        return text, ""
    return text[:start], text[start + len(REASON_OPEN) : -len(REASON_CLOSE)]


def _state(segment: dict) -> str:
    """``, disabled (reason)`` for a segment masakari ignores; nothing when enabled."""
    if segment.get("enabled", True) is not False:
        return ""
    reason = _split_reason(segment.get("description"))[1]
    return f", DISABLED ({reason})" if reason else ", DISABLED"


def list_segments(api: MasakariApi, managed: Managed) -> dict[str, str]:
    """One line per segment, then its hosts; ``auto`` marks what the charm registered."""
    lines = []
    segments = sorted(api.segments(), key=lambda s: s["name"])
    for segment in segments:
        hosts = sorted(api.hosts(segment["uuid"]), key=lambda h: h["name"])
        origin = "auto" if segment["name"] in managed.segments else "by hand"
        lines.append(
            f"{segment['name']}: {segment['recovery_method']}, {segment['service_type']}, "
            f"{len(hosts)} hosts, {origin}{_state(segment)} ({segment['uuid']})"
        )
        lines.extend(f"  {h['name']}{_flags(segment, h, managed)}" for h in hosts)
    return {"count": str(len(segments)), "segments": "\n".join(lines) or "no segments"}


def set_segment_enabled(
    api: MasakariApi, params: Mapping[str, object], enabled: bool
) -> dict[str, str]:
    """Enable a segment, or disable it with an optional reason (API 1.2)."""
    action = "enable-segment" if enabled else "disable-segment"
    name = _segment_param(params, required=True)
    reason = "" if enabled else _text(params, "reason")
    if REASON_CLOSE in reason:
        raise ActionRefusedError(f"reason must not contain {REASON_CLOSE!r}")
    api.require((1, 2), action)
    segment = _segment_by_name(api, name)
    written, old_reason = _split_reason(segment.get("description"))
    was_enabled = segment.get("enabled", True) is not False
    if was_enabled == enabled and (enabled or reason == old_reason):
        return {"segment": f"{name} is already {'enabled' if enabled else 'disabled'}"}
    description = written
    if reason:
        # masakari's description is a String(255): the reason gives way, not the text.
        room = MAX_TEXT - len(written) - len(REASON_OPEN) - len(REASON_CLOSE)
        if room < 1:
            raise ActionRefusedError(
                f"segment {name}'s description leaves no room for a reason: disable it without one"
            )
        description = f"{written}{REASON_OPEN}{reason[:room]}{REASON_CLOSE}"
    fields: dict[str, object] = {"enabled": enabled}
    if description != (segment.get("description") or ""):
        fields["description"] = description
    try:
        api.update_segment(segment["uuid"], **fields)
    except ApiError as exc:
        raise ActionRefusedError(f"could not {action.split('-')[0]} {name}: {exc}") from None
    if enabled:
        return {"segment": f"{name} is enabled: masakari recovers its hosts' failures again"}
    because = f" ({reason})" if reason else ""
    return {
        "segment": f"{name} is disabled{because}: masakari ignores its hosts' notifications "
        "until enable-segment"
    }


def create_segment(
    api: MasakariApi, params: Mapping[str, object], recovery_method: str, service_type: str
) -> dict[str, str]:
    """A segment created by hand."""
    name = _text(params, "name", required=True)
    if not valid_segment_name(name):
        raise ActionRefusedError(f"{name!r} is not a valid segment name")
    method = _choice(params, "recovery-method", RECOVERY_METHODS) or recovery_method
    stype = _text(params, "service-type") or service_type
    description = _text(params, "description")
    try:
        segment = api.create_segment(name, method, stype, description)
    except ApiError as exc:
        raise ActionRefusedError(f"could not create segment {name}: {exc}") from None
    return {"uuid": segment["uuid"], "segment": f"{name}: {method}, {stype}"}


def add_host(api: MasakariApi, params: Mapping[str, object], service_type: str) -> dict[str, str]:
    """A host registered by hand."""
    hostname = _hostname(params)
    segment = _segment_by_name(api, _segment_param(params, required=True))
    reserved = _flag(params, "reserved")
    try:
        host = api.add_host(segment["uuid"], hostname, service_type, reserved, CONTROL_ATTRIBUTES)
    except ApiError as exc:
        raise ActionRefusedError(f"could not add {hostname}: {exc}") from None
    kind = "reserved host" if reserved else "host"
    return {"uuid": host["uuid"], "host": f"{hostname} is a {kind} of {segment['name']}"}


def remove_host(
    api: MasakariApi,
    params: Mapping[str, object],
    desired: Mapping[str, Hypervisor],
    managed: Managed,
    auto_register: bool,
) -> dict[str, str]:
    """Unregister a host (one automatic registration does not keep).

    Automatic registration keeps the hosts it added for a related unit. A host registered
    by hand can be removed even when a unit asks for it: that is how an operator hands
    it over to the charm, which adds it on its next pass.
    """
    hostname = _hostname(params)
    segment, host = _find_host(api, hostname, _segment_param(params))
    wanted = desired.get(hostname) if auto_register else None
    if wanted is not None and managed.owns(segment["name"], host):
        raise ActionRefusedError(
            f"automatic registration keeps {hostname} in {segment['name']}: remove "
            "its masakari-monitors unit, or set auto-register-hosts=false first"
        )
    try:
        api.remove_host(segment["uuid"], host["uuid"])
    except ApiError as exc:
        raise ActionRefusedError(f"could not remove {hostname}: {exc}") from None
    results = {"removed": f"{hostname} from {segment['name']}"}
    if wanted is not None:
        results["registration"] = (
            f"its masakari-monitors unit asks for {hostname} in {wanted.segment}: the "
            "leader adds it there on its next hook"
        )
    return results


def set_host_maintenance(api: MasakariApi, params: Mapping[str, object]) -> dict[str, str]:
    """Put a host on maintenance, or take it off."""
    hostname = _hostname(params)
    state = _choice(params, "state", ("on", "off"))
    if not state:
        raise ActionRefusedError("the state parameter is required (on or off)")
    on = state == "on"
    segment, host = _find_host(api, hostname, _segment_param(params))
    if bool(host.get("on_maintenance")) == on:
        state = "already on maintenance" if on else "already in service (not on maintenance)"
        return {"host": f"{hostname} is {state}"}
    try:
        api.update_host(segment["uuid"], host["uuid"], on_maintenance=on)
    except ApiError as exc:
        raise ActionRefusedError(f"could not update {hostname}: {exc}") from None
    state = "on maintenance" if on else "off maintenance: masakari acts on its failures again"
    return {"host": f"{hostname} is {state}"}


SPAN = re.compile(r"([0-9]{1,6})([mhd])")
SPAN_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def _since(params: Mapping[str, object], now: datetime.datetime) -> str:
    """Masakari's ``generated-since`` for a ``since`` span such as ``12h`` ("" when absent)."""
    span = _text(params, "since")
    if not span:
        return ""
    match = SPAN.fullmatch(span)
    if not match:
        raise ActionRefusedError(f"since {_shown(span)} must be a span such as 30m, 12h or 7d")
    delta = datetime.timedelta(**{SPAN_UNITS[match[2]]: int(match[1])})
    return (now - delta).strftime("%Y-%m-%dT%H:%M:%S")


def list_notifications(
    api: MasakariApi, params: Mapping[str, object], now: datetime.datetime | None = None
) -> dict[str, str]:
    """Newest first: time, type, status, host, UUID, and masakari's message if any."""
    limit = params.get("limit", 20)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise ActionRefusedError(
            f"limit must be a whole number from 1 to 1000, not {_shown(limit)}"
        )
    filters: dict[str, str] = {}
    status = _choice(params, "status", NOTIFICATION_STATUSES)
    if status:
        filters["status"] = status
    since = _since(params, now or datetime.datetime.now(datetime.timezone.utc))
    if since:
        filters["generated-since"] = since
    wanted = _hostname(params) if params.get("hostname") not in (None, "") else ""
    segment_name = _segment_param(params)
    segments = [_segment_by_name(api, segment_name)] if segment_name else api.segments()
    names = {host["uuid"]: host["name"] for _, host in _registered_hosts(api, segments)}
    if wanted:
        uuids = [uuid for uuid, name in names.items() if name == wanted]
        if not uuids:
            where = f"segment {segment_name}" if segment_name else "any segment"
            raise ActionRefusedError(f"host {wanted} is not registered in {where}")
        filters["source_host_uuid"] = uuids[0]
    if segment_name and not wanted:
        # masakari filters by one host only: the segment's are picked from a full page.
        found = [
            n
            for n in api.recent_notifications(1000, **filters)
            if n.get("source_host_uuid") in names
        ][:limit]
    else:
        found = api.recent_notifications(limit, **filters)
    lines = []
    for n in found:
        source = str(n.get("source_host_uuid", "?"))
        message = f"  ({_line(n['message'])})" if n.get("message") else ""
        lines.append(
            f"{n.get('created_at', '?')}  {n.get('type', '?')!s:<12} {n['status']:<9} "
            f"{names.get(source, source)}  {n['notification_uuid']}{message}"
        )
    return {"count": str(len(found)), "notifications": "\n".join(lines) or "no notifications"}


UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _notification_uuid(params: Mapping[str, object]) -> str:
    uuid = _text(params, "notification", required=True)
    if not UUID.fullmatch(uuid):
        raise ActionRefusedError(
            f"notification {_shown(uuid)} is not a UUID (see list-notifications)"
        )
    return uuid.lower()


def _line(value: object) -> str:
    """A value of masakari's for one line of output (printable, at most 200 characters)."""
    text = "".join(c if c.isprintable() else " " for c in str(value)).strip()
    return text if len(text) <= 200 else f"{text[:199]}…"


def _vmove_lines(moves: list[dict]) -> list[str]:
    lines = []
    for move in moves:
        where = f"{_line(move.get('source_host') or '?')} -> {_line(move.get('dest_host') or '?')}"
        message = f" ({_line(move['message'])})" if move.get("message") else ""
        lines.append(
            f"{_line(move.get('instance_name') or '?')} {_line(move['instance_uuid'])}: {where}, "
            f"{_line(move.get('type') or '?')} {_line(move.get('status') or '?')}{message}"
        )
    return lines


def _get_notification(api: MasakariApi, uuid: str) -> dict:
    try:
        return api.notification(uuid)
    except ApiError as exc:
        if exc.status == 404:
            raise ActionRefusedError(f"no notification {uuid} (see list-notifications)") from None
        raise


def show_notification(api: MasakariApi, params: Mapping[str, object]) -> dict[str, str]:
    """A notification, its recovery's progress (API 1.1) and its VM moves (API 1.3)."""
    uuid = _notification_uuid(params)
    n = _get_notification(api, uuid)
    names = {host["uuid"]: host["name"] for _, host in _registered_hosts(api, api.segments())}
    source = str(n.get("source_host_uuid", "?"))
    results = {
        "notification": (
            f"{uuid}: {_line(n.get('type', '?'))} {n['status']}, host "
            f"{_line(names.get(source, source))}, generated {_line(n.get('generated_time', '?'))}"
        )
    }
    if n.get("message"):  # masakari 2025.2 and later say why a recovery stopped
        results["message"] = _line(n["message"])
    steps = n.get("recovery_workflow_details")
    if isinstance(steps, list):
        lines = []
        for step in (s for s in steps if isinstance(s, dict)):
            lines.append(f"{_line(step.get('name', '?'))}: {_line(step.get('state', '?'))}")
            details = step.get("progress_details")
            for detail in details if isinstance(details, list) else []:
                if isinstance(detail, dict):
                    when, text = detail.get("timestamp", ""), detail.get("message", "")
                    lines.append(f"  {_line(when)} {_line(text)}")
        results["recovery"] = "\n".join(lines) or "no recovery steps recorded"
    else:
        results["recovery"] = "needs masakari API 1.1 (stein) for the recovery's progress"
    if n.get("type") == "COMPUTE_HOST":
        try:
            results["vmoves"] = "\n".join(_vmove_lines(api.vmoves(uuid))) or "no VM moves"
        except UnsupportedError as exc:
            results["vmoves"] = str(exc)
    return results


def list_vmoves(api: MasakariApi, params: Mapping[str, object]) -> dict[str, str]:
    """The instance moves of a host recovery: which instance went where, and how it ended."""
    uuid = _notification_uuid(params)
    api.require((1, 3), "list-vmoves")
    n = _get_notification(api, uuid)
    if n.get("type") != "COMPUTE_HOST":
        raise ActionRefusedError(
            f"notification {uuid} is of type {_line(n.get('type', '?'))}: only host "
            "(COMPUTE_HOST) recoveries move instances"
        )
    moves = api.vmoves(uuid)
    return {"count": str(len(moves)), "vmoves": "\n".join(_vmove_lines(moves)) or "no VM moves"}


def reserve_host(api: MasakariApi, params: Mapping[str, object]) -> dict[str, str]:
    """Make a host a spare again: nova-compute disabled, then ``reserved`` set in masakari.

    Masakari clears ``reserved`` on the spare it evacuates to, and the charm does not set
    it back (the spare is in use). Refused while nova still places instances on it: a
    spare is an empty host. The service is disabled before instances are counted, so none
    can land between the count and the flag; refused, it is enabled again.
    """
    hostname = _hostname(params)
    segment, host = _find_host(api, hostname, _segment_param(params))
    nova = NovaApi(api)
    try:
        service = nova.compute_service(hostname)
        disabled_here = service["status"] == "enabled"
        if disabled_here:
            nova.set_compute_service(service, enabled=False)
        try:
            servers = nova.servers_on(hostname)
        except ApiError:
            if disabled_here:
                nova.set_compute_service(service, enabled=True)
            raise
        if servers:
            if disabled_here:
                nova.set_compute_service(service, enabled=True)
            shown = ", ".join(servers[:3]) + (", ..." if len(servers) > 3 else "")
            raise ActionRefusedError(
                f"{hostname} still hosts {len(servers)} instances ({shown}): migrate them "
                "away first (openstack server migrate --live-migration), then run "
                "reserve-host again"
            )
        if not host.get("reserved"):
            api.update_host(segment["uuid"], host["uuid"], reserved=True)
    except ApiError as exc:
        raise ActionRefusedError(f"could not reserve {hostname}: {exc}") from None
    state = (
        f"nova-compute disabled ({DISABLED_REASON})"
        if disabled_here or service.get("disabled_reason") == DISABLED_REASON
        else "nova-compute was already disabled"
    )
    maintenance = (
        "; it is on maintenance: masakari uses it once set-host-maintenance sets it off"
        if host.get("on_maintenance")
        else ""
    )
    return {"host": f"{hostname} is a reserved host of {segment['name']}: {state}{maintenance}"}


@dataclasses.dataclass(frozen=True)
class Deployment:
    """What the charm knows besides the API that some actions need."""

    managed: Managed  # what automatic registration manages
    related_hosts: Mapping[str, Hypervisor]  # hypervisors the hosts relation asks for
    auto_register: bool
    recovery_method: str  # the defaults of create-segment and add-host
    service_type: str


Handler = Callable[[MasakariApi, Mapping[str, object], Deployment], dict[str, str]]

HANDLERS: dict[str, Handler] = {
    "list-segments": lambda api, _, d: list_segments(api, d.managed),
    "create-segment": lambda api, p, d: create_segment(api, p, d.recovery_method, d.service_type),
    "add-host": lambda api, p, d: add_host(api, p, d.service_type),
    "remove-host": lambda api, p, d: remove_host(
        api, p, d.related_hosts, d.managed, d.auto_register
    ),
    "set-host-maintenance": lambda api, p, _: set_host_maintenance(api, p),
    "list-notifications": lambda api, p, _: list_notifications(api, p),
    "reserve-host": lambda api, p, _: reserve_host(api, p),
    "enable-segment": lambda api, p, _: set_segment_enabled(api, p, True),
    "disable-segment": lambda api, p, _: set_segment_enabled(api, p, False),
    "show-notification": lambda api, p, _: show_notification(api, p),
    "list-vmoves": lambda api, p, _: list_vmoves(api, p),
}


def run(
    action: str, api: MasakariApi, params: Mapping[str, object], deployment: Deployment
) -> dict[str, str]:
    """Run the action named ``action``; a name without a handler is refused, never guessed."""
    handler = HANDLERS.get(action)
    if handler is None:
        raise ActionRefusedError(f"{action} is not an action on segments, hosts or notifications")
    return handler(api, params, deployment)
