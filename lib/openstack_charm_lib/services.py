"""systemd services: state queries, restarts, pause and resume.

Paused services are stopped and disabled so that a reboot does not bring them back
while an operator has the unit paused; resume re-enables and starts them. A service
that must not run at all for a while (an engine whose database schema is older than its
code) is masked: neither a reboot nor a package's maintainer script can start it.
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


def not_running(host: Host, services: Sequence[str]) -> list[str]:
    """The services of ``services`` that are not active, in the given order."""
    return [s for s, active in active_states(host, services).items() if not active]


def restart(host: Host, service: str) -> None:
    """Restart ``service`` (starting it if stopped)."""
    host.run(["systemctl", "restart", service])


def reload_or_restart(host: Host, service: str) -> None:
    """Reload ``service`` if it supports it, else restart it."""
    host.run(["systemctl", "reload-or-restart", service])


def ensure_running(host: Host, service: str) -> bool:
    """Enable and start ``service`` if it is not active; True when it was started."""
    if is_running(host, service):
        return False
    host.run(["systemctl", "enable", "--now", service])
    return True


def ensure_stopped(host: Host, service: str) -> bool:
    """Stop and disable ``service`` if it is active; True when it was stopped."""
    if not is_running(host, service):
        return False
    host.run(["systemctl", "disable", "--now", service])
    return True


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


def pause(host: Host, services: Iterable[str]) -> list[str]:
    """Stop and disable every service; returns the ones that were running."""
    return [s for s in services if ensure_stopped(host, s)]


def resume(host: Host, services: Iterable[str]) -> list[str]:
    """Enable and start every service; returns the ones that were started."""
    return [s for s in services if ensure_running(host, s)]


def run_as_group(host: Host, service: str) -> str:
    """Group the unit file runs ``service`` as (``root`` when it sets none)."""
    proc = host.run(["systemctl", "show", "--property=Group", "--value", service], check=False)
    group = proc.stdout.strip() if proc.returncode == 0 else ""
    return group or "root"


def converge(host: Host, wanted: Sequence[str], pending: set[str]) -> list[str]:
    """Restart the wanted services whose inputs changed (``pending``), start the others.

    Handled services leave ``pending``; those that failed stay in it, so that the next
    pass retries them. Returns the services that could not be (re)started.
    """
    failed = []
    active = active_states(host, wanted)
    for service in wanted:
        try:
            if service in pending:
                restart(host, service)
            elif not active[service]:
                host.run(["systemctl", "enable", "--now", service])
        except CommandError:
            failed.append(service)
            continue
        pending.discard(service)
    return failed
