"""What a masakari unit offers to monitoring: scrape jobs, logs, rules, the dashboard, checks.

Every unit offers haproxy's metrics and its service checks. The leader also runs the
state exporter (:mod:`masakari_exporter`), which reads segments, hosts and
notifications from the API, and the checks on its figures: one unit asks, since three
would triple the API's load for the same numbers.
"""

from __future__ import annotations

from pathlib import Path

import masakari_exporter
import masakari_workload as wl
from masakari_api import Credentials
from openstack_charm_lib import cos_agent, observability

EXPORTER = "masakari-exporter"
COS_DIR = Path(__file__).parent / "cos"  # alert rules and the dashboard shipped with the charm
LOG_FILES = (
    "/var/log/masakari/*.log",
    "/var/log/apache2/masakari_*.log",
    "/var/log/haproxy.log",
)


def watch(
    charm_name: str, credentials: Credentials | None, leader: bool, paused: bool
) -> observability.Watch:
    """The unit's offer; the exporter runs on an unpaused leader that has ``credentials``."""
    exporter_config = ""
    if credentials is not None:
        exporter_config = masakari_exporter.config_text(
            masakari_exporter.ExporterConfig(credentials)
        )
    collects = leader and bool(exporter_config) and not paused
    daemon = observability.Daemon.of(
        masakari_exporter,
        EXPORTER,
        "Masakari's segments, hosts and notifications, as Prometheus metrics",
        exporter_config,
    )
    jobs = [cos_agent.ScrapeJob("haproxy", wl.HAPROXY_PROMETHEUS_PORT)]
    if collects:
        jobs.append(cos_agent.ScrapeJob("masakari_state", masakari_exporter.DEFAULT_PORT))
    return observability.Watch(
        daemon=daemon,
        run_daemon=collects,
        offer=cos_agent.Observability(
            scrape_jobs=tuple(jobs),
            log_files=LOG_FILES,
            metrics_rules_dir=COS_DIR / "prometheus_alert_rules",
            log_rules_dir=COS_DIR / "loki_alert_rules",
            dashboards_dir=COS_DIR / "grafana_dashboards",
        ),
        checks=_checks(charm_name, collects, paused),
        primary=True,
    )


def _below(minimum: str) -> tuple[str, ...]:
    return ("--below", "--critical", minimum)


def _checks(charm_name: str, collects: bool, paused: bool) -> tuple[observability.nrpe.Check, ...]:
    checks = [observability.service_check(charm_name, s) for s in wl.SERVICES]
    if paused:  # the API is down on purpose
        return tuple(checks)
    checks.append(
        observability.metric_check(
            "masakari-api",
            "masakari-api servers answering through haproxy",
            wl.HAPROXY_PROMETHEUS_PORT,
            "haproxy_backend_active_servers",
            *_below("0"),
        )
    )
    if not collects:
        return tuple(checks)
    port = masakari_exporter.DEFAULT_PORT
    checks += [
        observability.metric_check(
            "masakari-state",
            "masakari state exporter reads the API",
            port,
            "masakari_api_up",
            *_below("0"),
        ),
        observability.metric_check(
            "masakari-hosts-maintenance",
            "hosts left on maintenance",
            port,
            "masakari_host_on_maintenance",
            *("--name-label", "host", "--warning", "1"),
        ),
        observability.metric_check(
            "masakari-notifications-error",
            "notifications in error",
            port,
            "masakari_notifications_unfinished",
            *("--label", "status=error", "--critical", "1"),
        ),
    ]
    return tuple(checks)
