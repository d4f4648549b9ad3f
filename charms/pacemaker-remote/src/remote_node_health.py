"""The Pacemaker cluster's view of this remote node: daemon and helpers.

On a pacemaker_remote node, ``crm_mon`` answers through pacemaker_remoted's proxy to
the cluster (it reads the cluster's CIB over the cluster's connection to this node), so
one answer says both that the cluster is reachable from here and what it thinks of this
node. The daemon (run by the machine's python3 as root:
``python3 /usr/local/lib/pacemaker-remote-charm/remote_node_health.py --config
/etc/pacemaker-remote-health.json``) runs ``crm_mon --output-as=xml --one-shot`` every
30 s (each run makes the cluster's CIB manager serve the whole CIB, and a cloud has
many hypervisors, so this is slower than the monitors' 10 s), writes the state file the
charm's status and the Nagios check read, and serves the ``pacemaker_remote_*`` families
on 127.0.0.1:9870.

crm_mon's XML (``<pacemaker-result>`` since Pacemaker 2.0.3, the legacy ``<crm_mon>``
of ``--as-xml`` alike) lists ``<nodes><node name= id= online= standby= maintenance=
type="remote"|"member" .../>`` and ``<resources><resource id= resource_agent= role=
failed= .../>``. Online means the node's ``online="true"`` *and*, when its connection
resource (``ocf:pacemaker:remote``, named like the node by hacluster) is listed, that
resource ``Started`` and not failed: Pacemaker 2.1 reports a remote ``online`` while
its connection is still ``Starting`` (reconnecting, or about to be refused). In
maintenance means the node's flag or the cluster's ``maintenance-mode``: either way
Pacemaker neither recovers nor fences it. A ``<status code=...>`` other than 0, a
non-zero exit, no answer within the timeout or unparsable output is "unreachable", and
then the node's own families carry no sample (its state is unknown, not 0).
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import logging
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

try:  # in the charm: the staged library
    from openstack_charm_lib import exporter, liveness
except ImportError:  # the daemon: the charm copied the modules next to this file
    import exporter  # pyright: ignore[reportMissingImports]
    import liveness  # pyright: ignore[reportMissingImports]

DAEMON_DIR = "/usr/local/lib/pacemaker-remote-charm"
CONFIG = "/etc/pacemaker-remote-health.json"
STATE_FILE = "/run/pacemaker-remote-health/state.json"
LISTEN_PORT = 9870
SAMPLE_INTERVAL = 30.0
DEFAULTS = liveness.DaemonSettings(LISTEN_PORT, STATE_FILE, SAMPLE_INTERVAL)
STATE_MAX_AGE = 4 * SAMPLE_INTERVAL  # older: the daemon stopped sampling
CRM_MON = ("/usr/sbin/crm_mon", "--output-as=xml", "--one-shot")
CRM_MON_TIMEOUT = 20.0
# Pacemaker 2.1 writes class:provider:type, 2.0 wrote class::provider:type.
REMOTE_AGENTS = ("ocf:pacemaker:remote", "ocf::pacemaker:remote")
COPIED_MODULES = (Path(__file__), *(Path(inspect.getfile(m)) for m in (liveness, exporter)))

METRIC_FAMILIES = {
    "pacemaker_remote_cluster_reachable": (
        "1 if crm_mon on this remote node got the cluster's status, else 0"
    ),
    "pacemaker_remote_node_online": (
        "1 if the cluster sees the node online with its connection started, else 0"
    ),
    "pacemaker_remote_node_maintenance": (
        "1 if the node (or the whole cluster) is in Pacemaker maintenance, else 0"
    ),
}


@dataclasses.dataclass(frozen=True)
class NodeView:
    """What one crm_mon run said about this node."""

    node: str
    cluster_reachable: bool
    known: bool = False  # the cluster lists the node
    online: bool = False
    maintenance: bool = False
    standby: bool = False
    reason: str = ""  # why the cluster is unreachable (crm_mon's words, shortened)


def parse_crm_mon(xml_text: str, node: str) -> NodeView:
    """The view of ``node`` in crm_mon's XML; unreachable when the XML says no answer."""
    try:
        root = ElementTree.fromstring(xml_text)
    except (ElementTree.ParseError, ValueError):
        return NodeView(node, False, reason="crm_mon's output is not XML")
    status = root.find("status")
    if status is not None and status.get("code") != "0":
        errors = [e.text or "" for e in status.iter("error")]
        return NodeView(
            node, False, reason=_short(errors[-1] if errors else status.get("message"))
        )
    nodes = root.find("nodes")
    if nodes is None:
        return NodeView(node, False, reason="crm_mon listed no nodes")
    entry = next((n for n in nodes.findall("node") if n.get("name") == node), None)
    if entry is None:
        return NodeView(node, True)
    options = root.find("summary/cluster_options")
    cluster_maintenance = options is not None and options.get("maintenance-mode") == "true"
    return NodeView(
        node,
        True,
        known=True,
        online=entry.get("online") == "true" and _connection_started(root, entry.get("id")),
        maintenance=entry.get("maintenance") == "true" or cluster_maintenance,
        standby=entry.get("standby") == "true",
    )


def _connection_started(root: ElementTree.Element, node_id: str | None) -> bool:
    """Whether the node's connection resource runs; True when crm_mon lists none."""
    for resource in root.findall("resources/resource"):
        if resource.get("id") == node_id and resource.get("resource_agent") in REMOTE_AGENTS:
            return resource.get("role") == "Started" and resource.get("failed") != "true"
    return True


def _short(text: str | None, limit: int = 120) -> str:
    line = " ".join((text or "no reason given").split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def query(
    node: str, command: tuple[str, ...] = CRM_MON, timeout: float = CRM_MON_TIMEOUT
) -> NodeView:
    """Run crm_mon and parse its answer; never raises."""
    try:
        proc = subprocess.run(
            command, capture_output=True, text=True, errors="replace", timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return NodeView(node, False, reason=f"crm_mon gave no answer within {timeout:g}s")
    except OSError as exc:
        return NodeView(node, False, reason=_short(f"crm_mon could not run: {exc.strerror}"))
    view = parse_crm_mon(proc.stdout, node)
    if proc.returncode != 0 and view.cluster_reachable:
        # An exit code crm_mon's XML did not explain: trust the code.
        return NodeView(node, False, reason=f"crm_mon exited with {proc.returncode}")
    return view


def families(view: NodeView | None) -> list[exporter.Family]:
    """The ``pacemaker_remote_*`` families of one view (no samples before the first)."""
    values: dict[str, list[tuple[dict[str, str], bool]]] = {name: [] for name in METRIC_FAMILIES}
    if view is not None:
        values["pacemaker_remote_cluster_reachable"].append(({}, view.cluster_reachable))
    if view is not None and view.cluster_reachable:  # else the node's state is unknown
        node = {"node": view.node}
        values["pacemaker_remote_node_online"].append((node, view.online))
        values["pacemaker_remote_node_maintenance"].append((node, view.maintenance))
    return [
        exporter.family(name, METRIC_FAMILIES[name], samples=[(k, float(v)) for k, v in samples])
        for name, samples in values.items()
    ]


def status_problem(view: NodeView | None) -> str | None:
    """What is wrong with this node as the cluster sees it, for the charm's status; or None.

    None also when there is no (fresh) view: whether the daemon runs is the service
    status's business.
    """
    if view is None:
        return None
    if not view.cluster_reachable:
        return f"The cluster does not answer through pacemaker_remote ({view.reason})"
    if not view.known:
        return f"The cluster has no node {view.node}: see hacluster's status"
    if not view.online:
        return f"The cluster sees node {view.node} offline"
    if view.maintenance:
        return f"Node {view.node} is in Pacemaker maintenance: no recovery, no fencing"
    return None


def write_state(path: str | Path, view: NodeView, now: float) -> None:
    """Write ``view`` to the state file atomically."""
    liveness.write_document(path, dataclasses.asdict(view), now)


def read_state(path: str | Path, now: float, max_age: float = STATE_MAX_AGE) -> NodeView | None:
    """The view in the state file; None when missing, stale or garbled. Never raises."""
    document = liveness.read_document(path, now, max_age)
    if document is None:
        return None
    try:
        flags = {
            key: liveness.flag(document[key])
            for key in ("cluster_reachable", "known", "online", "maintenance", "standby")
        }
        node, reason = document["node"], document["reason"]
        if not isinstance(node, str) or not isinstance(reason, str):
            return None
        return NodeView(node=node, reason=reason, **flags)
    except (KeyError, TypeError):
        return None


def config_text(
    node_name: str, listen_port: int = LISTEN_PORT, state_file: str = STATE_FILE
) -> str:
    """The daemon's JSON configuration: this unit's Pacemaker node name and where to serve."""
    document = {"node_name": node_name, "listen_port": listen_port, "state_file": state_file}
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


@dataclasses.dataclass(frozen=True)
class Config:
    """The daemon's configuration, as :func:`config_text` wrote it."""

    node_name: str
    daemon: liveness.DaemonSettings = DEFAULTS


def load_config(text: str) -> Config:
    """Parse the daemon's configuration; ValueError (with the reason) when unusable."""
    try:
        document: Mapping[str, Any] = json.loads(text)
        node_name = document["node_name"]
        if not isinstance(node_name, str) or not node_name:
            raise ValueError("node_name must be a non-empty string")
        return Config(node_name, liveness.daemon_settings(document, DEFAULTS))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ValueError(f"invalid remote node health configuration: {exc!r}") from None


def main(argv: list[str] | None = None, stop: threading.Event | None = None) -> None:
    """Run the daemon until SIGTERM (or ``stop``: one already set means one sample)."""
    config = load_config(liveness.daemon_config(argv, "pacemaker remote node health", CONFIG))
    settings = config.daemon
    logging.getLogger(__name__).info("watching node %s", config.node_name)
    liveness.serve_samples(
        settings,
        sample=lambda: query(config.node_name),
        persist=lambda view, now: write_state(settings.state_file, view, now),
        make_server=lambda newest: exporter.MetricsServer(
            settings.listen_address, settings.listen_port, lambda: families(newest()), 1.0
        ),
        # A crm_mon run may take its whole timeout: allow for it before calling it stale.
        max_age=3 * settings.sample_interval + CRM_MON_TIMEOUT,
        stop=stop,
    )


if __name__ == "__main__":
    main()
