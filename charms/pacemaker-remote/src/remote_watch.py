"""What a pacemaker-remote unit offers to monitoring: its health daemon, log, rules, checks.

The health daemon (:mod:`remote_node_health`) asks the cluster how it sees this node
and publishes that as Prometheus metrics; it runs only while the node is related to
hacluster, since no cluster sees it otherwise. The online check is left out while the
node is paused: a paused node is offline on purpose.
"""

from __future__ import annotations

from pathlib import Path

import pacemaker_remote as pr
import remote_node_health as health
from openstack_charm_lib import cos_agent, nrpe, observability

HEALTH_SERVICE = "pacemaker-remote-health"
LOG_FILES = ("/var/log/pacemaker/pacemaker.log",)
COS_DIR = Path(__file__).parent / "cos"  # alert rules shipped with the charm


def online_check() -> nrpe.Check:
    """The check that the cluster sees this node online."""
    return observability.metric_check(
        "pacemaker-remote-node",
        "remote node online {pacemaker_remote}",
        health.LISTEN_PORT,
        "pacemaker_remote_node_online",
        *("--name-label", "node", "--below", "--critical", "0"),
    )


def watch(charm_name: str, node: str | None, related: bool, paused: bool) -> observability.Watch:
    """The unit's offer for the node named ``node`` (None while the options are invalid)."""
    daemon = observability.Daemon.of(
        health,
        HEALTH_SERVICE,
        "This Pacemaker remote node as the cluster sees it, as Prometheus metrics",
        health.config_text(node or ""),
    )
    checks = [observability.service_check(charm_name, pr.SERVICE)]
    if related and not paused:
        checks.append(online_check())
    return observability.Watch(
        daemon=daemon,
        run_daemon=related and node is not None,
        offer=cos_agent.Observability(
            scrape_jobs=(cos_agent.ScrapeJob("remote_node_health", health.LISTEN_PORT),),
            log_files=LOG_FILES,
            metrics_rules_dir=COS_DIR / "prometheus_alert_rules",
        ),
        checks=tuple(checks),
        primary=False,
    )
