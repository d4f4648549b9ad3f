"""What the masakari charm does on its machine besides writing files and running services.

The Apache sites (the charm's WSGI site on, the package's off, the TLS frontend as TLS
is configured), the system trust store, and the schema migration of a release
(``masakari-manage db sync``, then the segment backfill a release needs). Each returns
what went wrong as text for the status (the sites: the charm's error boundary does); a
failed command is retried by the next hook.
"""

from __future__ import annotations

import logging

import masakari_workload as wl
from openstack_charm_lib.charm_base import failure_message
from openstack_charm_lib.host import CommandError, Host

logger = logging.getLogger(__name__)

_ENABLED = "/etc/apache2/sites-enabled/{}.conf"
_AVAILABLE = "/etc/apache2/sites-available/{}.conf"
TLS_MODULES = ("ssl", "proxy", "proxy_http", "headers")


def converge_sites(host: Host, tls_on: bool) -> bool:
    """Enable and disable sites as wanted; whether any changed.

    A failing command ends the pass (the charm's error boundary makes it the status):
    Apache must not be restarted onto half-switched sites.
    """
    wanted: list[list[str]] = []
    if host.exists(_ENABLED.format(wl.PACKAGE_SITE)):
        wanted.append(["a2dissite", wl.PACKAGE_SITE])
    if host.exists(_AVAILABLE.format(wl.WSGI_SITE)) and not host.exists(
        _ENABLED.format(wl.WSGI_SITE)
    ):
        wanted.append(["a2ensite", wl.WSGI_SITE])
    tls_enabled = host.exists(_ENABLED.format(wl.TLS_SITE))
    if tls_on and not tls_enabled:
        wanted += [["a2enmod", *TLS_MODULES], ["a2ensite", wl.TLS_SITE]]
    elif not tls_on and tls_enabled:
        wanted.append(["a2dissite", wl.TLS_SITE])
    for command in wanted:
        host.run(command)
    return bool(wanted)


def update_trust_store(host: Host) -> str | None:
    """Rebuild the system trust store; a problem when that failed."""
    try:
        host.run(["update-ca-certificates"])
    except CommandError as exc:
        return f"{failure_message(exc)}: the trust store misses the new CA; retrying"
    return None


def migrate_schema(host: Host, release: str) -> str | None:
    """Bring the database schema to ``release``; a problem when that failed."""
    try:
        host.run(["masakari-manage", "--config-file", wl.MASAKARI_CONF, "db", "sync"], timeout=600)
    except CommandError as exc:
        logger.error("masakari-manage db sync failed (exit %s)", exc.returncode)
        return "masakari-manage db sync failed; see juju debug-log, retrying"
    if wl.needs_segment_backfill(release):
        try:
            proc = host.run(wl.segment_backfill_command(), timeout=600)
        except CommandError as exc:
            logger.error("notification segment backfill failed (exit %s)", exc.returncode)
            return (
                "filling the segment of older notifications failed; see juju debug-log, retrying"
            )
        logger.info("notifications given their host's segment: %s", proc.stdout.strip())
    logger.info("database migrated to %s", release)
    return None
