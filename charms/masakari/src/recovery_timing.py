"""Whether a recovery can succeed with the timings the hypervisors report.

Masakari does not force nova's compute service down: nova evacuates from a host only
once it sees that host's service down, ``service_down_time`` seconds after the last
heartbeat. Masakari evacuates ``evacuation-delay`` seconds after the notification, which
the host monitor sends ``detection-time`` seconds after the failure. When the two add
up to less than ``service_down_time`` nova refuses every evacuation.

A host whose monitors did not send ``service-down-time`` (older units, or a value they
could not read) is not judged. An unknown ``detection-time`` (no host monitor there)
counts as 0: the notification may come from elsewhere, at once, so the check is the
strict one.
"""

from __future__ import annotations

from openstack_charm_lib.relations.masakari_host import Hypervisor


def delay_problem(evacuation_delay: int, hosts: dict[str, Hypervisor]) -> str | None:
    """Why evacuations from some host would fail, naming the worst one and the fix."""
    short = []
    for name, host in sorted(hosts.items()):
        if host.service_down_time is None:
            continue
        detection = host.detection_time or 0
        if evacuation_delay + detection < host.service_down_time:
            short.append((host.service_down_time - detection, name, detection, host))
    if not short:
        return None
    # The host needing the longest delay names the fix that holds for all of them.
    need, name, detection, host = min(short, key=lambda s: (-s[0], s[1]))
    more = f" (+{len(short) - 1} more)" if len(short) > 1 else ""
    return (
        f"evacuation-delay {evacuation_delay} + detection {detection}s on {name}{more} is "
        f"shorter than nova's service_down_time {host.service_down_time}: raise "
        f"evacuation-delay to at least {need} (nova refuses evacuations of a service it "
        "does not see down)"
    )


def resume_warning(hosts: dict[str, Hypervisor]) -> str:
    """A status note for hosts that restart their instances on boot, else ""."""
    names = sorted(n for n, h in hosts.items() if h.resume_guests_state_on_host_boot)
    if not names:
        return ""
    more = f" (+{len(names) - 1} more)" if len(names) > 1 else ""
    return (
        f"; warning: resume_guests_state_on_host_boot is on for {names[0]}{more}: "
        "instances may run twice after a failover; set it false in nova-compute"
    )
