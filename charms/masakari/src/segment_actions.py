"""The day-2 actions on masakari's segments, hosts and notifications.

Each function takes the API client and the action's parameters and returns the action
results as readable text, or raises :class:`ActionRefusedError` with the reason. Every
parameter is checked here for its type and form (Juju's schema check is not the only
caller), so a bad one is a refusal naming it, never an exception. Nothing here prints a
credential: results hold names, states and UUIDs only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from masakari_api import ApiError, MasakariApi
from nova_api import DISABLED_REASON, NovaApi
from openstack_charm_lib.actions import ActionRefusedError
from openstack_charm_lib.hypervisors import Hypervisor, valid_segment_name
from openstack_charm_lib.network import is_hostname
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


def list_segments(api: MasakariApi, managed: Managed) -> dict[str, str]:
    """One line per segment, then its hosts; ``auto`` marks what the charm registered."""
    lines = []
    segments = sorted(api.segments(), key=lambda s: s["name"])
    for segment in segments:
        hosts = sorted(api.hosts(segment["uuid"]), key=lambda h: h["name"])
        origin = "auto" if segment["name"] in managed.segments else "by hand"
        lines.append(
            f"{segment['name']}: {segment['recovery_method']}, {segment['service_type']}, "
            f"{len(hosts)} hosts, {origin} ({segment['uuid']})"
        )
        lines.extend(f"  {h['name']}{_flags(segment, h, managed)}" for h in hosts)
    return {"count": str(len(segments)), "segments": "\n".join(lines) or "no segments"}


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


def list_notifications(api: MasakariApi, params: Mapping[str, object]) -> dict[str, str]:
    """Newest first: time, type, status, host, UUID."""
    limit = params.get("limit", 20)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise ActionRefusedError(
            f"limit must be a whole number from 1 to 1000, not {_shown(limit)}"
        )
    filters: dict[str, str] = {}
    status = _choice(params, "status", NOTIFICATION_STATUSES)
    if status:
        filters["status"] = status
    wanted = _hostname(params) if params.get("hostname") not in (None, "") else ""
    names = {host["uuid"]: host["name"] for _, host in _registered_hosts(api, api.segments())}
    if wanted:
        uuids = [uuid for uuid, name in names.items() if name == wanted]
        if not uuids:
            raise ActionRefusedError(f"host {wanted} is not registered in any segment")
        filters["source_host_uuid"] = uuids[0]
    found = api.recent_notifications(limit, **filters)
    lines = []
    for n in found:
        source = str(n.get("source_host_uuid", "?"))
        lines.append(
            f"{n.get('created_at', '?')}  {n.get('type', '?')!s:<12} {n['status']:<9} "
            f"{names.get(source, source)}  {n['notification_uuid']}"
        )
    return {"count": str(len(found)), "notifications": "\n".join(lines) or "no notifications"}


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
