"""The day-2 actions on masakari's segments, hosts and notifications.

Each function takes the API client and the action's parameters and returns the action
results as readable text, or raises :class:`ActionRefusedError` with the reason.
Nothing here prints a credential: results hold names, states and UUIDs only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from masakari_api import ApiError, MasakariApi
from openstack_charm_lib.actions import ActionRefusedError
from openstack_charm_lib.hypervisors import Hypervisor, valid_segment_name
from openstack_charm_lib.network import is_hostname
from registration import CONTROL_ATTRIBUTES, Managed


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


def _flags(host: dict, managed: Managed) -> str:
    flags = [
        label
        for label, on in (
            ("reserved", host.get("reserved")),
            ("maintenance", host.get("on_maintenance")),
            ("auto", managed.hosts.get(host["name"]) is not None),
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
        lines.extend(f"  {h['name']}{_flags(h, managed)}" for h in hosts)
    return {"count": str(len(segments)), "segments": "\n".join(lines) or "no segments"}


def create_segment(
    api: MasakariApi, params: Mapping[str, object], recovery_method: str, service_type: str
) -> dict[str, str]:
    """A segment created by hand."""
    name = str(params["name"]).strip()
    if not valid_segment_name(name):
        raise ActionRefusedError(f"{name!r} is not a valid segment name")
    method = str(params.get("recovery-method") or recovery_method)
    stype = str(params.get("service-type") or service_type)
    try:
        segment = api.create_segment(name, method, stype, str(params.get("description") or ""))
    except ApiError as exc:
        raise ActionRefusedError(f"could not create segment {name}: {exc}") from None
    return {"uuid": segment["uuid"], "segment": f"{name}: {method}, {stype}"}


def add_host(api: MasakariApi, params: Mapping[str, object], service_type: str) -> dict[str, str]:
    """A host registered by hand."""
    hostname = str(params["hostname"]).strip()
    if not is_hostname(hostname):
        raise ActionRefusedError(f"{hostname!r} is not a valid host name")
    segment = _segment_by_name(api, str(params["segment"]))
    reserved = bool(params.get("reserved", False))
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
    auto_register: bool,
) -> dict[str, str]:
    """Unregister a host (one automatic registration does not keep)."""
    hostname = str(params["hostname"]).strip()
    if auto_register and hostname in desired:
        raise ActionRefusedError(
            f"automatic registration keeps {hostname} in {desired[hostname].segment}: remove "
            "its masakari-monitors unit, or set auto-register-hosts=false first"
        )
    segment, host = _find_host(api, hostname, str(params.get("segment") or ""))
    try:
        api.remove_host(segment["uuid"], host["uuid"])
    except ApiError as exc:
        raise ActionRefusedError(f"could not remove {hostname}: {exc}") from None
    return {"removed": f"{hostname} from {segment['name']}"}


def set_host_maintenance(api: MasakariApi, params: Mapping[str, object]) -> dict[str, str]:
    """Put a host on maintenance, or take it off."""
    hostname = str(params["hostname"]).strip()
    on = params["state"] == "on"
    segment, host = _find_host(api, hostname, str(params.get("segment") or ""))
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
    limit = int(params.get("limit", 20))  # type: ignore[call-overload]
    filters: dict[str, str] = {}
    if params.get("status"):
        filters["status"] = str(params["status"])
    names = {host["uuid"]: host["name"] for _, host in _registered_hosts(api, api.segments())}
    if params.get("hostname"):
        wanted = str(params["hostname"])
        uuids = [uuid for uuid, name in names.items() if name == wanted]
        if not uuids:
            raise ActionRefusedError(f"host {wanted} is not registered in any segment")
        filters["source_host_uuid"] = uuids[0]
    found = api.recent_notifications(limit, **filters)
    lines = [
        f"{n['created_at']}  {n['type']:<12} {n['status']:<9} "
        f"{names.get(n.get('source_host_uuid', ''), n.get('source_host_uuid', '?'))}  "
        f"{n['notification_uuid']}"
        for n in found
    ]
    return {"count": str(len(found)), "notifications": "\n".join(lines) or "no notifications"}
