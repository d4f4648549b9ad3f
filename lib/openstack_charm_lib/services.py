"""systemd services: state queries, restarts, pause and resume.

Three states matter to an operator: running now, enabled (what a reboot brings back)
and masked (what nothing, not even a package's maintainer script, can start). A paused
service is all three off, whatever state it was in: a crashed but enabled service would
otherwise come back at boot. Resume lifts the mask only; the charm's next pass enables
and starts what should run, with the configuration of that moment. Every start or
restart the charm makes also enables the service, so that a reboot brings back exactly
what runs. A service that must not run at all for a while (an engine whose database
schema is older than its code) is masked the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .host import CommandError, Host


def is_running(host: Host, service: str) -> bool:
    """Whether systemd reports ``service`` active."""
    return host.run(["systemctl", "is-active", "--quiet", service], check=False).returncode == 0


def active_states(host: Host, services: Sequence[str]) -> dict[str, bool]:
    """Whether each of ``services`` is active, asked in one systemctl call."""
    if not services:
        return {}
    proc = host.run(["systemctl", "is-active", *services], check=False)
    states = proc.stdout.split()
    if len(states) != len(services):  # an unexpected answer: ask one by one
        return {s: is_running(host, s) for s in services}
    return {s: state == "active" for s, state in zip(services, states, strict=True)}


# What ``systemctl is-enabled`` prints for a unit that a boot (or its socket, timer or
# another unit) starts; it exits 0 for exactly these.
_ENABLED_STATES = frozenset(
    {"enabled", "enabled-runtime", "static", "alias", "indirect", "generated", "transient"}
)


def enabled_states(host: Host, services: Sequence[str]) -> dict[str, bool]:
    """Whether each of ``services`` is enabled, asked in one systemctl call."""
    if not services:
        return {}
    proc = host.run(["systemctl", "is-enabled", *services], check=False)
    states = proc.stdout.split()
    if len(states) != len(services):  # a unit without a file prints nothing: ask one by one
        return {s: is_enabled(host, s) for s in services}
    return {s: state in _ENABLED_STATES for s, state in zip(services, states, strict=True)}


def not_running(host: Host, services: Sequence[str]) -> list[str]:
    """The services of ``services`` that are not active, in the given order."""
    return [s for s, active in active_states(host, services).items() if not active]


def is_enabled(host: Host, service: str) -> bool:
    """Whether a reboot would start ``service`` (``systemctl is-enabled`` succeeds)."""
    return host.run(["systemctl", "is-enabled", "--quiet", service], check=False).returncode == 0


def restart(host: Host, service: str) -> None:
    """Restart ``service`` (starting it if stopped); enabled, if it was not, first."""
    if not is_enabled(host, service):
        host.run(["systemctl", "enable", service])
    host.run(["systemctl", "restart", service])


def reload_or_restart(host: Host, service: str) -> None:
    """Reload ``service`` if it supports it, else restart it."""
    host.run(["systemctl", "reload-or-restart", service])


def ensure_running(host: Host, service: str) -> bool:
    """Start ``service`` if it is not active, and enable it; True when it was started."""
    if not is_running(host, service):
        host.run(["systemctl", "enable", "--now", service])
        return True
    if not is_enabled(host, service):
        host.run(["systemctl", "enable", service])
    return False


def ensure_stopped(host: Host, service: str) -> bool:
    """Stop ``service`` and disable it (running or not); True when it was running."""
    running = is_running(host, service)
    if running or is_enabled(host, service):
        host.run(["systemctl", "disable", "--now", service])
    return running


def ensure_all_stopped(host: Host, services: Sequence[str]) -> list[str]:
    """:func:`ensure_stopped` for each of ``services``, asking systemd twice for all of them.

    Returns the services that were running.
    """
    services = list(dict.fromkeys(services))
    active = active_states(host, services)
    enabled = enabled_states(host, services)
    for service in services:
        if active[service] or enabled[service]:
            host.run(["systemctl", "disable", "--now", service])
    return [s for s in services if active[s]]


def is_masked(host: Host, service: str) -> bool:
    """Whether ``service`` is masked (``systemctl is-enabled`` says ``masked``)."""
    proc = host.run(["systemctl", "is-enabled", service], check=False)
    return proc.stdout.strip().startswith("masked")


def mask(host: Host, service: str) -> bool:
    """Mask ``service`` and stop it; True when it was not masked before.

    Masking works before the unit file exists, so it can precede the package; the stop
    is asked only of a running service (there may be no unit to stop yet).
    """
    if is_masked(host, service):
        return False
    host.run(["systemctl", "mask", service])
    if is_running(host, service):
        host.run(["systemctl", "stop", service])
    return True


def unmask(host: Host, service: str) -> bool:
    """Lift a mask of :func:`mask` (the service stays stopped); True when there was one."""
    if not is_masked(host, service):
        return False
    host.run(["systemctl", "unmask", service])
    return True


def pause(host: Host, services: Sequence[str]) -> list[str]:
    """Stop, disable and mask every service, whatever its state; returns those that ran.

    The mask works for a service whose package is not installed yet, and it holds
    against a reboot and against maintainer scripts (an upgrade while paused).
    """
    running = [s for s, active in active_states(host, services).items() if active]
    for service in services:
        if is_enabled(host, service):
            host.run(["systemctl", "disable", service])
    if services:
        host.run(["systemctl", "mask", "--now", *services])
    return running


def resume(host: Host, services: Iterable[str]) -> list[str]:
    """Unmask every service (the charm's pass starts them); returns those that were masked."""
    return [s for s in services if unmask(host, s)]


def run_as_group(host: Host, service: str) -> str:
    """Group the unit file runs ``service`` as (``root`` when it sets none)."""
    proc = host.run(["systemctl", "show", "--property=Group", "--value", service], check=False)
    group = proc.stdout.strip() if proc.returncode == 0 else ""
    return group or "root"


def converge(host: Host, wanted: Sequence[str], pending: set[str]) -> list[str]:
    """Restart the wanted services whose inputs changed (``pending``), start the others.

    Each ends enabled. Handled services leave ``pending``; those that failed stay in it,
    so that the next pass retries them. Returns the services that could not be
    (re)started.
    """
    failed = []
    active = active_states(host, wanted)
    enabled = enabled_states(host, wanted)
    for service in wanted:
        try:
            if service in pending:
                if not enabled[service]:
                    host.run(["systemctl", "enable", service])
                host.run(["systemctl", "restart", service])
            elif not active[service]:
                host.run(["systemctl", "enable", "--now", service])
            elif not enabled[service]:
                host.run(["systemctl", "enable", service])
        except CommandError:
            failed.append(service)
            continue
        pending.discard(service)
    return failed
