"""The masakari-monitors charm's options, validated into one :class:`MonitorsConfig`.

Every upstream tunable the charm exposes is one row of :data:`TUNABLES`: the option
name, the ``[section] key`` of masakarimonitors.conf it drives, and its type. Problems
are messages naming the option; the charm blocks with them and changes nothing.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Mapping

import yaml
from openstack_charm_lib.config_flags import ConfigFlagsError, parse_config_flags
from openstack_charm_lib.network import is_hostname
from openstack_charm_lib.relations.masakari_host import valid_segment_name

# Upper bound of every whole-number tunable: the monitors sleep and count with them, and
# a larger value overflows their timers rather than meaning anything.
MAX_INT = 2**31 - 1
# Longest string tunable (paths, URIs and interface lists are far shorter).
MAX_TEXT = 1024


@dataclasses.dataclass(frozen=True)
class Tunable:
    """One charm option that sets one masakarimonitors.conf key."""

    section: str
    key: str
    kind: type  # int, bool or str
    minimum: int = 0
    maximum: int = MAX_INT


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
# masakari-processmonitor reads all eight keys of every process_list.yaml entry with
# entry[key] (yoga to hibiscus): one absent key raises KeyError, which ends its loop for
# good while the service keeps running. The charm therefore writes every key.
# Required keys have no safe default: without a command there is nothing to run, and
# either run_as_root may be wrong (commands fail as the monitor's user, or run as root).
PROCESS_KEYS = ("process_name", "start_command", "restart_command", "run_as_root")
# The hooks around each command may be left out or null: the charm writes "", which the
# monitor skips.
PROCESS_OPTIONAL_KEYS = (
    "pre_start_command",
    "post_start_command",
    "pre_restart_command",
    "post_restart_command",
)
# The order of the written keys (upstream's sample file's).
PROCESS_FILE_KEYS = (
    "process_name",
    "start_command",
    "pre_start_command",
    "post_start_command",
    "restart_command",
    "pre_restart_command",
    "post_restart_command",
    "run_as_root",
)


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
    if not region or len(region) > 255 or any(c.isspace() or is_control(c) for c in region):
        problems.append(
            "region must be a non-empty name of at most 255 characters without blanks or "
            "control characters"
        )

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
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or not tunable.minimum <= value <= tunable.maximum
        ):
            shown = repr(value) if isinstance(value, int) and abs(value) < 10**12 else "too big"
            problems.append(
                f"{option} must be a whole number from {tunable.minimum} to {tunable.maximum} "
                f"(got {shown if isinstance(value, int) else type(value).__name__})"
            )
            return None
        return str(value)
    if not isinstance(value, str):
        problems.append(f"{option} must be a string")
        return None
    text = value.strip()
    if len(text) > MAX_TEXT or any(is_control(c) for c in text):
        # A line break, carriage return or any other control character would let the
        # value open a new line (a new key or section) in masakarimonitors.conf.
        problems.append(
            f"{option} must be one line of at most {MAX_TEXT} characters without control "
            "characters"
        )
        return None
    if text and text[0] == text[-1] and text[0] in "\"'":
        # oslo.config drops one pair of matching quotes around a value.
        problems.append(f"{option} must not be wrapped in quotes")
        return None
    if option == "host-pacemaker-node-type" and text not in NODE_TYPES:
        problems.append(f"{option} must be one of {', '.join(NODE_TYPES)} (got {text!r})")
        return None
    return text


def is_control(char: str) -> bool:
    """Whether ``char`` is a control character or a line or paragraph separator."""
    return unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Cs")


def _process_list(text: str, problems: list[str]) -> list[dict]:
    try:
        # libyaml when present: the option is parsed on every hook.
        entries = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (yaml.YAMLError, RecursionError):
        problems.append("process-list is not valid YAML")
        return []
    if not isinstance(entries, list) or not entries:
        problems.append("process-list must be a YAML list of processes")
        return []
    checked = []
    for index, entry in enumerate(entries):
        problem = _process_entry_problem(entry)
        if problem:
            problems.append(f"process-list entry {index + 1}: {problem}")
            return []
        # A fresh dict of plain values with every key the monitor reads: no YAML anchors
        # or shared objects survive, and a left-out or null hook becomes "".
        checked.append(
            {key: "" if entry.get(key) is None else entry[key] for key in PROCESS_FILE_KEYS}
        )
    return checked


def _process_text_problem(entry: dict) -> str | None:
    """Why a command or name of a process-list entry is not one line of text, or None."""
    for key in (*PROCESS_KEYS[:3], *PROCESS_OPTIONAL_KEYS):
        value = entry.get(key)
        if value is None and key in PROCESS_OPTIONAL_KEYS:
            continue  # "pre_start_command:" with nothing after it
        if not isinstance(value, str):
            return f"{key} must be a string"
        if len(value) > MAX_TEXT or any(is_control(c) for c in value):
            return f"{key} must be one line of at most {MAX_TEXT} characters"
    return None


def _process_entry_problem(entry: object) -> str | None:
    """Why one process-list entry is unusable, or None."""
    if not isinstance(entry, dict):
        return "must be a mapping of process_name, start_command, restart_command, ..."
    unknown = [k for k in entry if k not in (*PROCESS_KEYS, *PROCESS_OPTIONAL_KEYS)]
    if unknown:
        shown = ", ".join(repr(k) if isinstance(k, str) else "a non-string key" for k in unknown)
        return f"unknown key {shown[:200]}"
    missing = [k for k in PROCESS_KEYS if entry.get(k) is None]
    if missing:
        return f"lacks {', '.join(missing)} (required: {', '.join(PROCESS_KEYS)})"
    if not isinstance(entry["run_as_root"], bool):
        return "run_as_root must be true or false"
    problem = _process_text_problem(entry)
    if problem:
        return problem
    for key in PROCESS_KEYS[:3]:
        # An empty restart_command fails every retry, and the monitor then reports the
        # process as failed to masakari, which disables nova-compute here.
        if not entry[key].strip():
            return f"{key} must not be empty"
    return None
