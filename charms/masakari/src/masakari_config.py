"""The masakari charm's options, validated into one immutable :class:`MasakariConfig`.

Every problem is reported as a message that names the option and says what to do;
the charm shows them in a blocked status and changes nothing on the machine.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import re
from collections.abc import Mapping

from openstack_charm_lib import tls
from openstack_charm_lib.config_flags import ConfigFlagsError, parse_config_flags
from openstack_charm_lib.network import ENDPOINT_TYPES, is_hostname, is_ip
from openstack_charm_lib.relations import NotReady
from openstack_charm_lib.releases import Origin, OriginError, parse_origin, release_index

_TOOZ_URL = re.compile(r"^[a-z][a-z0-9+.-]*://\S+$")
RECOVERY_METHODS = ("auto", "reserved_host", "auto_priority", "rh_priority")
DEFAULT_PAGE_SIZE = 1000  # masakari's own osapi_max_limit default
_HAPROXY_TIMEOUTS = {"server": 90000, "client": 90000, "queue": 9000, "connect": 9000}
# haproxy refuses timers past 2^31-1 ms; a day is already far beyond any sane API call.
MAX_HAPROXY_TIMEOUT = 86_400_000
_REGION = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,254}")
# What nova accepts as an instance metadata key (masakari looks the key up there).
_METADATA_KEY = re.compile(r"[A-Za-z0-9_.: -]{1,255}")


@dataclasses.dataclass(frozen=True)
class EngineOption:
    """A charm option that sets one masakari.conf key, with masakari's own default."""

    name: str
    section: str
    key: str
    default: int | bool | str | None  # None: unset, masakari's default applies
    minimum: int = 0  # for whole numbers
    since: str = "yoga"  # the first release whose masakari knows the key

    def problem(self, value: object) -> str | None:
        """Why ``value`` is not valid for this option, or None."""
        kind = type(self.default) if self.default is not None else int
        if kind is bool:
            return None if isinstance(value, bool) else f"{self.name} must be true or false"
        if kind is str:
            if (
                isinstance(value, str)
                and _METADATA_KEY.fullmatch(value)
                and value == value.strip()
            ):
                return None
            return (
                f"{self.name} must be a metadata key of 1-255 letters, digits, spaces "
                "and _ . : - (not starting or ending with a space)"
            )
        if isinstance(value, int) and not isinstance(value, bool) and value >= self.minimum:
            return None
        return f"{self.name} must be a whole number >= {self.minimum} (got {value!r})"

    def rendered(self, value: object) -> str:
        """``value`` as masakari.conf spells it."""
        return _conf_value(value)


def _conf_value(value: object) -> str:
    """``value`` as masakari.conf spells it."""
    return str(value).lower() if isinstance(value, bool) else str(value)


# The engine's (and, for notification-delay-max, the API's) tunables the charm exposes.
# Names, sections, types, defaults and minimums are masakari's own, identical from yoga
# to hibiscus; only [DEFAULT] notification_delay_max is new (hibiscus). The waits have no
# minimum upstream: 0 would give up on every instance at once, so the charm asks for 1.
ENGINE_OPTIONS: tuple[EngineOption, ...] = (
    EngineOption(
        "host-failure-recovery-threads", "DEFAULT", "host_failure_recovery_threads", 3, 1
    ),
    EngineOption(
        "ignore-instances-in-error-state", "host_failure", "ignore_instances_in_error_state", False
    ),
    EngineOption(
        "add-reserved-host-to-aggregate", "host_failure", "add_reserved_host_to_aggregate", False
    ),
    EngineOption(
        "host-failure-metadata-key",
        "host_failure",
        "ha_enabled_instance_metadata_key",
        "HA_Enabled",
    ),
    EngineOption("process-all-instances", "instance_failure", "process_all_instances", False),
    EngineOption(
        "instance-failure-metadata-key",
        "instance_failure",
        "ha_enabled_instance_metadata_key",
        "HA_Enabled",
    ),
    EngineOption("wait-after-evacuation", "DEFAULT", "wait_period_after_evacuation", 90, 1),
    EngineOption("wait-after-power-off", "DEFAULT", "wait_period_after_power_off", 180, 1),
    EngineOption("wait-after-power-on", "DEFAULT", "wait_period_after_power_on", 60, 1),
    EngineOption(
        "duplicate-notification-interval",
        "DEFAULT",
        "duplicate_notification_detection_interval",
        180,
    ),
    EngineOption(
        "notification-delay-max", "DEFAULT", "notification_delay_max", None, since="hibiscus"
    ),
)


# The masakari.conf keys of the charm's older recovery options (the reactive charm's),
# each held in the MasakariConfig field named as the option, with "_" for "-".
RECOVERY_KEYS: tuple[tuple[str, str, str], ...] = (
    ("DEFAULT", "wait_period_after_service_update", "evacuation-delay"),
    ("DEFAULT", "notifications_expired_interval", "notification-expiration"),
    ("DEFAULT", "check_expired_notifications_interval", "check-expired-interval"),
    ("host_failure", "evacuate_all_instances", "evacuate-all-instances"),
)


@dataclasses.dataclass(frozen=True)
class MasakariConfig:
    """Validated charm configuration."""

    origin: Origin
    action_managed_upgrade: bool
    evacuation_delay: int
    evacuate_all_instances: bool
    notification_expiration: int
    check_expired_interval: int
    region: str
    debug: bool
    use_internal_endpoints: bool
    worker_multiplier: float | None
    config_flags: dict[str, dict[str, str]]
    coordination_backend_url: str
    haproxy_timeouts: dict[str, int]
    networks: dict[str, str]  # endpoint type -> CIDR
    hostnames: dict[str, str]  # endpoint type -> host name
    vips: tuple[str, ...]
    vip_iface: str
    vip_cidr: int
    dns_ha: bool
    ssl_cert: str
    ssl_key: str
    ssl_ca: str
    # charm option -> value as masakari.conf spells it, for the ENGINE_OPTIONS that are set
    engine: dict[str, str] = dataclasses.field(default_factory=dict)
    auto_register_hosts: bool = True
    recovery_method: str = "auto"
    service_type: str = "COMPUTE"

    @property
    def api_page_size(self) -> int:
        """Items per list page masakari-api returns ([DEFAULT] osapi_max_limit)."""
        value = self.config_flags.get("DEFAULT", {}).get("osapi_max_limit", "")
        return int(value) if value.isdigit() and int(value) > 0 else DEFAULT_PAGE_SIZE

    @property
    def wants_ha(self) -> bool:
        """Whether a VIP or DNS-HA is configured."""
        return bool(self.vips) or self.dns_ha

    def recovery_settings(self) -> dict[str, dict[str, str]]:
        """``{section: {key: value}}`` of the recovery options (:data:`RECOVERY_KEYS`)."""
        settings: dict[str, dict[str, str]] = {}
        for section, key, name in RECOVERY_KEYS:
            value = getattr(self, name.replace("-", "_"))
            settings.setdefault(section, {})[key] = _conf_value(value)
        return settings

    def engine_settings(self, release: str | None) -> dict[str, dict[str, str]]:
        """``{section: {key: value}}`` of the engine options, for masakari of ``release``.

        Keys the release does not know are left out (:meth:`release_problems` blocks on
        them first); an unknown release gets every key, which masakari would ignore.
        """
        settings: dict[str, dict[str, str]] = {}
        for option in ENGINE_OPTIONS:
            if option.name in self.engine and _knows(release, option):
                settings.setdefault(option.section, {})[option.key] = self.engine[option.name]
        return settings

    def release_problems(self, release: str | None) -> list[str]:
        """A message per engine option that is set but unknown to masakari of ``release``."""
        return [
            f"{option.name} needs masakari of {option.since} or later, the installed "
            f"release is {release}: unset it or upgrade openstack-origin"
            for option in ENGINE_OPTIONS
            if option.name in self.engine and not _knows(release, option)
        ]

    def api_workers(self, cpus: int) -> int:
        """WSGI processes for masakari-api."""
        if self.worker_multiplier is None:
            return max(1, min(cpus * 2, 4))
        return max(1, round(cpus * self.worker_multiplier))


def _knows(release: str | None, option: EngineOption) -> bool:
    return release is None or release_index(release) >= release_index(option.since)


def _engine_values(options: Mapping[str, object], problems: list[str]) -> dict[str, str]:
    """The set engine options, as masakari.conf spells them; problems appended."""
    values: dict[str, str] = {}
    for option in ENGINE_OPTIONS:
        value = options.get(option.name, option.default)
        if value is None:
            continue
        problem = option.problem(value)
        if problem:
            problems.append(problem)
            continue
        values[option.name] = option.rendered(value)
    return values


def _flag_conflicts(flags: dict[str, dict[str, str]]) -> list[str]:
    """A message per config-flags entry for a key that one of the charm's options sets.

    The option and the flag would disagree on which one wins; the operator is told to
    keep one, rather than either being silently ignored. The recovery options matter
    most: the leader checks ``evacuation-delay`` against nova's ``service_down_time``,
    a check a flag could otherwise defeat.
    """
    owned = [(o.section, o.key, o.name) for o in ENGINE_OPTIONS] + list(RECOVERY_KEYS)
    return [
        f"config-flags sets {section}/{key}, which the option {name} sets: "
        f"use {name} and remove the entry from config-flags"
        for section, key, name in owned
        if key in flags.get(section, {})
    ]


class ConfigError(ValueError):
    """One or more options are invalid; ``problems`` lists a message per option."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def load_config(options: Mapping[str, object], series: str) -> MasakariConfig:
    """Validate ``options`` (as Juju gives them) for a machine on Ubuntu ``series``."""
    problems: list[str] = []

    def text(name: str) -> str:
        value = options.get(name)
        return "" if value is None else str(value).strip()

    def positive_int(
        name: str, default: int | None = None, minimum: int = 1, maximum: int | None = None
    ) -> int:
        value = options.get(name)
        if value is None:
            assert default is not None
            return default
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            problems.append(f"{name} must be a whole number >= {minimum} (got {value!r})")
            return default or minimum
        if maximum is not None and value > maximum:
            problems.append(f"{name} must be at most {maximum} (got {value})")
            return default or minimum
        return value

    try:
        origin = parse_origin(text("openstack-origin"), series)
    except OriginError as exc:
        problems.append(str(exc))
        origin = Origin("distro", None)

    networks: dict[str, str] = {}
    hostnames: dict[str, str] = {}
    for endpoint in ENDPOINT_TYPES:
        cidr = text(f"os-{endpoint}-network")
        if cidr:
            try:
                networks[endpoint] = str(ipaddress.ip_network(cidr, strict=False))
            except ValueError:
                problems.append(f"os-{endpoint}-network {cidr!r} is not a CIDR (e.g. 10.0.0.0/24)")
        hostname = text(f"os-{endpoint}-hostname")
        if hostname:
            if is_hostname(hostname):
                hostnames[endpoint] = hostname.rstrip(".")
            else:
                problems.append(f"os-{endpoint}-hostname {hostname!r} is not a valid host name")

    vips = tuple(text("vip").split())
    for vip in vips:
        if not is_ip(vip):
            problems.append(f"vip {vip!r} is not an IP address")
    if len(set(vips)) != len(vips):
        problems.append("vip lists the same address twice")
    vip_cidr = positive_int("vip_cidr", 24)
    if vip_cidr > 128:
        problems.append(f"vip_cidr {vip_cidr} is not a netmask length")
    vip_iface = text("vip_iface") or "eth0"
    if not re.fullmatch(r"[A-Za-z0-9_.:@-]{1,15}", vip_iface):
        problems.append(f"vip_iface {vip_iface!r} is not an interface name")

    dns_ha = bool(options.get("dns-ha"))
    if dns_ha and vips:
        problems.append("vip and dns-ha cannot be used together: unset one of them")
    if dns_ha and not hostnames:
        problems.append("dns-ha needs at least one of os-public/internal/admin-hostname")

    multiplier = options.get("worker-multiplier")
    if multiplier is not None and (
        not isinstance(multiplier, (int, float))
        or not math.isfinite(multiplier)
        or not 0 < multiplier <= 64
    ):
        problems.append(f"worker-multiplier must be > 0 and <= 64 (got {multiplier!r})")
        multiplier = None

    try:
        flags = parse_config_flags(text("config-flags"))
    except ConfigFlagsError as exc:
        problems.append(str(exc))
        flags = {}
    problems.extend(_flag_conflicts(flags))

    coordination = text("coordination-backend-url")
    if coordination and not _TOOZ_URL.fullmatch(coordination):
        problems.append(
            "coordination-backend-url must be a tooz URL such as etcd3+http://host:2379"
        )

    region = text("region")
    if not _REGION.fullmatch(region):
        problems.append(
            f"region {region[:40]!r} must be a name of letters, digits and . _ : - "
            "(e.g. RegionOne)"
        )

    ssl = {name: text(name) for name in ("ssl_cert", "ssl_key", "ssl_ca")}
    static = tls.read_static(ssl["ssl_cert"], ssl["ssl_key"], ssl["ssl_ca"], "check")
    if isinstance(static, NotReady):
        problems.append(static.reason)

    recovery_method = text("default-recovery-method") or "auto"
    if recovery_method not in RECOVERY_METHODS:
        problems.append(
            f"default-recovery-method {recovery_method!r} must be one of "
            + ", ".join(RECOVERY_METHODS)
        )
    service_type = text("service-type") or "COMPUTE"
    if len(service_type) > 255 or not service_type.isprintable():
        problems.append("service-type must be printable text of at most 255 characters")

    timeouts = {
        kind: positive_int(f"haproxy-{kind}-timeout", default, maximum=MAX_HAPROXY_TIMEOUT)
        for kind, default in _HAPROXY_TIMEOUTS.items()
    }
    config = MasakariConfig(
        origin=origin,
        action_managed_upgrade=bool(options.get("action-managed-upgrade")),
        evacuation_delay=positive_int("evacuation-delay", 60, minimum=0),
        evacuate_all_instances=bool(options.get("evacuate-all-instances", True)),
        notification_expiration=positive_int("notification-expiration", 86400),
        check_expired_interval=positive_int("check-expired-interval", 600),
        region=region,
        debug=bool(options.get("debug")),
        use_internal_endpoints=bool(options.get("use-internal-endpoints")),
        worker_multiplier=float(multiplier) if multiplier is not None else None,
        config_flags=flags,
        coordination_backend_url=coordination,
        haproxy_timeouts=timeouts,
        networks=networks,
        hostnames=hostnames,
        vips=vips,
        vip_iface=vip_iface,
        vip_cidr=vip_cidr,
        dns_ha=dns_ha,
        engine=_engine_values(options, problems),
        auto_register_hosts=bool(options.get("auto-register-hosts", True)),
        recovery_method=recovery_method,
        service_type=service_type,
        **ssl,
    )
    if problems:
        raise ConfigError(problems)
    return config
