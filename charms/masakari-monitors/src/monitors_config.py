"""The masakari-monitors charm's options, loaded by ops into one :class:`MonitorsConfig`.

Every upstream tunable the charm exposes is one field of :class:`MonitorsConfig` whose
metadata names the ``[section] key`` of masakarimonitors.conf it drives and its type;
:data:`TUNABLES` lists them by option name. Problems are messages naming the option;
the charm blocks with them and changes nothing.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from typing import Any

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


def _tunable(section: str, key: str, kind: type, minimum: int = 0) -> Any:
    """A field for an option that sets one masakarimonitors.conf key.

    Its default is None ("not given"): Juju passes the charmcraft.yaml default, the
    one place the defaults are written.
    """
    return dataclasses.field(
        default=None, metadata={"tunable": Tunable(section, key, kind, minimum)}
    )


class ConfigError(ValueError):
    """Invalid options; ``problems`` has one message per option."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclasses.dataclass(frozen=True)
class MonitorsConfig:
    """The options, checked; made by ``CharmBase.load_config(MonitorsConfig)``.

    ops passes each Juju option as the field of its name (dashes as underscores), as
    Juju gives it. ``__post_init__`` checks every field, normalises the names and works
    out the views the charm uses (:attr:`monitors`, :attr:`tunables`, :attr:`processes`,
    :attr:`flags`); a bad option raises :class:`ConfigError` naming it, and nothing
    is written.
    """

    hostname: str = ""  # "" means the machine's FQDN
    segment_name: str = "default"  # failover segment masakari registers this hypervisor in
    reserved_host: bool = False
    region: str = "RegionOne"
    debug: bool = False
    use_internal_endpoints: bool = False
    enable_host_monitor: bool = True
    enable_instance_monitor: bool = True
    enable_introspective_instance_monitor: bool = False
    enable_process_monitor: bool = False
    process_list: str = ""
    config_flags: str = ""

    host_monitoring_interval: int | None = _tunable("host", "monitoring_interval", int, 1)
    host_monitoring_samples: int | None = _tunable("host", "monitoring_samples", int, 1)
    host_restrict_to_remotes: bool | None = _tunable("host", "restrict_to_remotes", bool)
    host_pacemaker_node_type: str | None = _tunable("host", "pacemaker_node_type", str)
    host_stonith_wait: int | None = _tunable("host", "stonith_wait", int, 0)
    host_disable_ipmi_check: bool | None = _tunable("host", "disable_ipmi_check", bool)
    host_ipmi_timeout: int | None = _tunable("host", "ipmi_timeout", int, 1)
    host_ipmi_retry_max: int | None = _tunable("host", "ipmi_retry_max", int, 0)
    host_ipmi_retry_interval: int | None = _tunable("host", "ipmi_retry_interval", int, 0)
    host_api_retry_max: int | None = _tunable("host", "api_retry_max", int, 0)
    host_api_retry_interval: int | None = _tunable("host", "api_retry_interval", int, 0)
    host_tcpdump_timeout: int | None = _tunable("host", "tcpdump_timeout", int, 1)
    host_corosync_multicast_interfaces: str | None = _tunable(
        "host", "corosync_multicast_interfaces", str
    )
    host_corosync_multicast_ports: str | None = _tunable("host", "corosync_multicast_ports", str)
    instance_callback_retry_max: int | None = _tunable("callback", "retry_max", int, 0)
    instance_callback_retry_interval: int | None = _tunable("callback", "retry_interval", int, 0)
    libvirt_connection_uri: str | None = _tunable("libvirt", "connection_uri", str)
    introspective_monitoring_interval: int | None = _tunable(
        "introspectiveinstancemonitor", "guest_monitoring_interval", int, 1
    )
    introspective_monitoring_timeout: int | None = _tunable(
        "introspectiveinstancemonitor", "guest_monitoring_timeout", int, 1
    )
    introspective_failure_threshold: int | None = _tunable(
        "introspectiveinstancemonitor", "guest_monitoring_failure_threshold", int, 1
    )
    introspective_guest_agent_socket_path: str | None = _tunable(
        "introspectiveinstancemonitor", "qemu_guest_agent_sock_path", str
    )
    process_check_interval: int | None = _tunable("process", "check_interval", int, 1)
    process_restart_retries: int | None = _tunable("process", "restart_retries", int, 0)
    process_restart_interval: int | None = _tunable("process", "restart_interval", int, 0)
    process_api_retry_max: int | None = _tunable("process", "api_retry_max", int, 0)
    process_api_retry_interval: int | None = _tunable("process", "api_retry_interval", int, 0)

    # Worked out from the options above.
    monitors: tuple[str, ...] = dataclasses.field(init=False)  # enabled, in MONITORS order
    tunables: dict[str, dict[str, str]] = dataclasses.field(init=False)  # section -> key -> value
    processes: list[dict] = dataclasses.field(init=False)  # process_list.yaml's entries
    flags: dict[str, dict[str, str]] = dataclasses.field(init=False)  # config-flags

    def __post_init__(self):
        problems: list[str] = []
        hostname, segment, region = self._names(problems)
        tunables = self._tunables(problems)
        monitors = tuple(
            service for option, service in MONITORS.items() if getattr(self, _attr(option))
        )
        processes: list[dict] = []
        if "masakari-process-monitor" in monitors:
            processes = _process_list(str(self.process_list or ""), problems)
        try:
            flags = parse_config_flags(str(self.config_flags or ""))
        except ConfigFlagsError as exc:
            problems.append(str(exc))
            flags = {}
        if problems:
            raise ConfigError(problems)
        normalised = {
            "hostname": hostname.rstrip("."),
            "segment_name": segment,
            "region": region,
            "monitors": monitors,
            "tunables": tunables,
            "processes": processes,
            "flags": flags,
        }
        for name in ("reserved_host", "debug", "use_internal_endpoints"):
            normalised[name] = bool(getattr(self, name))
        for name, value in normalised.items():
            object.__setattr__(self, name, value)

    def _names(self, problems: list[str]) -> tuple[str, str, str]:
        """hostname, segment-name and region, stripped; a bad one is a problem."""
        hostname = str(self.hostname or "").strip()
        if hostname and not is_hostname(hostname):
            problems.append(f"hostname {hostname!r} is not a valid host name")
        segment = str(self.segment_name or "").strip()
        if not valid_segment_name(segment):
            problems.append(
                f"segment-name {segment!r} must be 1-255 printable characters without "
                "leading or trailing blanks"
            )
        region = str(self.region or "").strip()
        if not region or len(region) > 255 or any(c.isspace() or is_control(c) for c in region):
            problems.append(
                "region must be a non-empty name of at most 255 characters without blanks "
                "or control characters"
            )
        return hostname, segment, region

    def _tunables(self, problems: list[str]) -> dict[str, dict[str, str]]:
        """The tunables given, as masakarimonitors.conf values by section and key."""
        tunables: dict[str, dict[str, str]] = {}
        for option, tunable in TUNABLES.items():
            value = getattr(self, _attr(option))
            if value is None or value == "":
                continue
            rendered = _render_tunable(option, tunable, value, problems)
            if rendered is not None:
                tunables.setdefault(tunable.section, {})[tunable.key] = rendered
        return tunables

    @property
    def host_monitor(self) -> bool:
        """Whether the host monitor is enabled."""
        return "masakari-host-monitor" in self.monitors


def _attr(option: str) -> str:
    return option.replace("-", "_")


# Every option that sets one masakarimonitors.conf key, by option name, from the fields.
TUNABLES: dict[str, Tunable] = {
    field.name.replace("_", "-"): field.metadata["tunable"]
    for field in dataclasses.fields(MonitorsConfig)
    if "tunable" in field.metadata
}


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
