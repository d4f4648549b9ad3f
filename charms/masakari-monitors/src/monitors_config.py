"""The masakari-monitors charm's options, validated into one :class:`MonitorsConfig`.

Every upstream tunable the charm exposes is one row of :data:`TUNABLES`: the option
name, the ``[section] key`` of masakarimonitors.conf it drives, and its type. Problems
are messages naming the option; the charm blocks with them and changes nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import yaml
from openstack_charm_lib.config_flags import ConfigFlagsError, parse_config_flags
from openstack_charm_lib.hypervisors import valid_segment_name
from openstack_charm_lib.network import is_hostname


@dataclasses.dataclass(frozen=True)
class Tunable:
    """One charm option that sets one masakarimonitors.conf key."""

    section: str
    key: str
    kind: type  # int, bool or str
    minimum: int = 0


TUNABLES: dict[str, Tunable] = {
    "host-monitoring-interval": Tunable("host", "monitoring_interval", int, 1),
    "host-monitoring-samples": Tunable("host", "monitoring_samples", int, 1),
    "host-restrict-to-remotes": Tunable("host", "restrict_to_remotes", bool),
    "host-pacemaker-node-type": Tunable("host", "pacemaker_node_type", str),
    "host-stonith-wait": Tunable("host", "stonith_wait", int, 0),
    "host-disable-ipmi-check": Tunable("host", "disable_ipmi_check", bool),
    "host-ipmi-timeout": Tunable("host", "ipmi_timeout", int, 1),
    "host-ipmi-retry-max": Tunable("host", "ipmi_retry_max", int, 0),
    "host-ipmi-retry-interval": Tunable("host", "ipmi_retry_interval", int, 0),
    "host-api-retry-max": Tunable("host", "api_retry_max", int, 0),
    "host-api-retry-interval": Tunable("host", "api_retry_interval", int, 0),
    "host-tcpdump-timeout": Tunable("host", "tcpdump_timeout", int, 1),
    "host-corosync-multicast-interfaces": Tunable("host", "corosync_multicast_interfaces", str),
    "host-corosync-multicast-ports": Tunable("host", "corosync_multicast_ports", str),
    "instance-callback-retry-max": Tunable("callback", "retry_max", int, 0),
    "instance-callback-retry-interval": Tunable("callback", "retry_interval", int, 0),
    "libvirt-connection-uri": Tunable("libvirt", "connection_uri", str),
    "introspective-monitoring-interval": Tunable(
        "introspectiveinstancemonitor", "guest_monitoring_interval", int, 1
    ),
    "introspective-monitoring-timeout": Tunable(
        "introspectiveinstancemonitor", "guest_monitoring_timeout", int, 1
    ),
    "introspective-failure-threshold": Tunable(
        "introspectiveinstancemonitor", "guest_monitoring_failure_threshold", int, 1
    ),
    "introspective-guest-agent-socket-path": Tunable(
        "introspectiveinstancemonitor", "qemu_guest_agent_sock_path", str
    ),
    "process-check-interval": Tunable("process", "check_interval", int, 1),
    "process-restart-retries": Tunable("process", "restart_retries", int, 0),
    "process-restart-interval": Tunable("process", "restart_interval", int, 0),
    "process-api-retry-max": Tunable("process", "api_retry_max", int, 0),
    "process-api-retry-interval": Tunable("process", "api_retry_interval", int, 0),
}
NODE_TYPES = ("autodetect", "cluster", "remote")
MONITORS = {
    "enable-host-monitor": "masakari-host-monitor",
    "enable-instance-monitor": "masakari-instance-monitor",
    "enable-introspective-instance-monitor": "masakari-introspective-instance-monitor",
    "enable-process-monitor": "masakari-process-monitor",
}
# Keys every process-list entry needs (masakari-monitors' process_list.yaml schema).
PROCESS_KEYS = ("process_name", "start_command", "restart_command", "run_as_root")


@dataclasses.dataclass(frozen=True)
class MonitorsConfig:
    """Validated charm configuration."""

    hostname: str  # "" means the machine's FQDN
    region: str
    debug: bool
    use_internal_endpoints: bool
    monitors: tuple[str, ...]  # enabled services, in MONITORS order
    tunables: dict[str, dict[str, str]]  # section -> key -> rendered value
    process_list: list[dict]
    config_flags: dict[str, dict[str, str]]
    segment: str = "default"  # failover segment masakari registers this hypervisor in
    reserved: bool = False

    @property
    def host_monitor(self) -> bool:
        """Whether the host monitor is enabled."""
        return "masakari-host-monitor" in self.monitors


class ConfigError(ValueError):
    """Invalid options; ``problems`` has one message per option."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def load_config(options: Mapping[str, object]) -> MonitorsConfig:
    """Validate ``options`` as Juju gives them."""
    problems: list[str] = []
    hostname = str(options.get("hostname") or "").strip()
    if hostname and not is_hostname(hostname):
        problems.append(f"hostname {hostname!r} is not a valid host name")
    segment = str(options.get("segment-name") or "").strip()
    if not valid_segment_name(segment):
        problems.append(
            f"segment-name {segment!r} must be 1-255 printable characters without leading "
            "or trailing blanks"
        )
    region = str(options.get("region") or "").strip()
    if not region or " " in region:
        problems.append(f"region {region!r} must be a non-empty name without spaces")

    tunables: dict[str, dict[str, str]] = {}
    for option, tunable in TUNABLES.items():
        value = options.get(option)
        if value is None or value == "":
            continue
        rendered = _render_tunable(option, tunable, value, problems)
        if rendered is not None:
            tunables.setdefault(tunable.section, {})[tunable.key] = rendered

    monitors = tuple(service for option, service in MONITORS.items() if options.get(option))
    process_list: list[dict] = []
    if "masakari-process-monitor" in monitors:
        process_list = _process_list(str(options.get("process-list") or ""), problems)

    try:
        flags = parse_config_flags(str(options.get("config-flags") or ""))
    except ConfigFlagsError as exc:
        problems.append(str(exc))
        flags = {}
    if problems:
        raise ConfigError(problems)
    return MonitorsConfig(
        hostname=hostname.rstrip("."),
        region=region,
        debug=bool(options.get("debug")),
        use_internal_endpoints=bool(options.get("use-internal-endpoints")),
        monitors=monitors,
        tunables=tunables,
        process_list=process_list,
        config_flags=flags,
        segment=segment,
        reserved=bool(options.get("reserved-host")),
    )


def _render_tunable(
    option: str, tunable: Tunable, value: object, problems: list[str]
) -> str | None:
    if tunable.kind is bool:
        return "true" if value else "false"
    if tunable.kind is int:
        if not isinstance(value, int) or isinstance(value, bool) or value < tunable.minimum:
            problems.append(
                f"{option} must be a whole number >= {tunable.minimum} (got {value!r})"
            )
            return None
        return str(value)
    text = str(value).strip()
    if "\n" in text:
        problems.append(f"{option} must be a single line")
        return None
    if option == "host-pacemaker-node-type" and text not in NODE_TYPES:
        problems.append(f"{option} must be one of {', '.join(NODE_TYPES)} (got {text!r})")
        return None
    return text


def _process_list(text: str, problems: list[str]) -> list[dict]:
    try:
        entries = yaml.safe_load(text)
    except yaml.YAMLError:
        problems.append("process-list is not valid YAML")
        return []
    if not isinstance(entries, list) or not entries:
        problems.append("process-list must be a YAML list of processes")
        return []
    for index, entry in enumerate(entries):
        missing = [k for k in PROCESS_KEYS if not isinstance(entry, dict) or k not in entry]
        if missing:
            problems.append(f"process-list entry {index + 1} lacks {', '.join(missing)}")
            return []
        if not isinstance(entry["run_as_root"], bool):
            problems.append(f"process-list entry {index + 1}: run_as_root must be true or false")
            return []
    return entries
