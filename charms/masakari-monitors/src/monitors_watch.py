"""What a masakari-monitors unit offers to monitoring: its health daemon, logs, rules, checks.

The health daemon (:mod:`monitors_health`) turns the monitors' log lines into
Prometheus metrics of their loops' progress; every enabled monitor gets a service check
and, unless paused, a check that its loop still makes progress.
"""

from __future__ import annotations

from pathlib import Path

import monitors_health as health
from monitors_config import MonitorsConfig
from openstack_charm_lib import cos_agent, nrpe, observability
from openstack_charm_lib.config_flags import merge_flags

HEALTH_SERVICE = "masakari-monitors-health"
LOG_FILES = ("/var/log/masakarimonitors/*.log",)
COS_DIR = Path(__file__).parent / "cos"  # alert rules shipped with the charm


def progress_check(monitor: str) -> nrpe.Check:
    """The check that ``monitor``'s loop made progress in its last window."""
    return observability.metric_check(
        f"{monitor}-progress",
        f"loop progress {{{monitor}}}",
        health.LISTEN_PORT,
        "masakari_monitor_progressing",
        *("--label", f"monitor={monitor}", "--below", "--critical", "0"),
    )


def watch(charm_name: str, config: MonitorsConfig | None, paused: bool) -> observability.Watch:
    """The unit's offer; with invalid options (``config`` None) only the daemon, idle."""
    monitors = config.monitors if config else ()
    sections = merge_flags(dict(config.tunables), config.flags) if config else {}
    daemon = observability.Daemon.of(
        health,
        HEALTH_SERVICE,
        "Progress of the masakari monitors' loops, as Prometheus metrics",
        health.config_text(health.monitor_windows(monitors, sections)),
    )
    checks = [observability.service_check(charm_name, m) for m in monitors]
    if not paused:  # a paused monitor makes no progress, on purpose
        checks += [progress_check(monitor) for monitor in monitors]
    return observability.Watch(
        daemon=daemon,
        run_daemon=True,
        offer=cos_agent.Observability(
            scrape_jobs=(cos_agent.ScrapeJob("monitors_health", health.LISTEN_PORT),),
            log_files=LOG_FILES,
            metrics_rules_dir=COS_DIR / "prometheus_alert_rules",
            log_rules_dir=COS_DIR / "loki_alert_rules",
        ),
        checks=tuple(checks),
        primary=False,
    )
