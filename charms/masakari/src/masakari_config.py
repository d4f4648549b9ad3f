"""The masakari charm's options, loaded by ops into one immutable :class:`MasakariConfig`.

Each option is a typed field; the engine options carry their masakari.conf section, key,
masakari's default and first release in the field's metadata (:data:`ENGINE_OPTIONS`
is derived from them). Every problem is reported as a message that names the option
and says what to do; the charm shows them in a blocked status and changes nothing on
the machine.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import re
from collections.abc import Mapping
from typing import Any

from openstack_charm_lib import tls
from openstack_charm_lib.config_flags import ConfigFlagsError, parse_config_flags
from openstack_charm_lib.network import ENDPOINT_TYPES, is_hostname, is_ip
from openstack_charm_lib.relations import NotReady
from openstack_charm_lib.releases import Origin, OriginError, parse_origin, release_index

_TOOZ_URL_OR_EMPTY = re.compile(r"(?:[a-z][a-z0-9+.-]*://\S+)?")
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

    section: str
    key: str
    default: int | bool | str | None  # None: unset, masakari's default applies
    minimum: int = 0  # for whole numbers
    since: str = "yoga"  # the first release whose masakari knows the key
    name: str = ""  # the option's, filled from the MasakariConfig field that holds it

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


def _engine(
    section: str, key: str, default: int | bool | str | None, minimum: int = 0, since="yoga"
) -> Any:
    """A field for an engine option: masakari's default is the field's (and charmcraft's)."""
    option = EngineOption(section, key, default, minimum, since)
    return dataclasses.field(default=default, metadata={"engine": option})


# The masakari.conf keys of the charm's older recovery options (the reactive charm's),
# each held in the MasakariConfig field named as the option, with "_" for "-".
RECOVERY_KEYS: tuple[tuple[str, str, str], ...] = (
    ("DEFAULT", "wait_period_after_service_update", "evacuation-delay"),
    ("DEFAULT", "notifications_expired_interval", "notification-expiration"),
    ("DEFAULT", "check_expired_notifications_interval", "check-expired-interval"),
    ("host_failure", "evacuate_all_instances", "evacuate-all-instances"),
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class MasakariConfig:
    """The options, checked; made by ``CharmBase.load_config(MasakariConfig, series=...)``.

    ops passes each Juju option as the field of its name (dashes as underscores), as
    Juju gives it; ``series`` is the machine's, which ``openstack-origin`` is read for.
    ``__post_init__`` checks every field and works out the views the charm uses (the
    origin, endpoint networks and host names, VIPs, haproxy timeouts, config-flags,
    the engine settings); a bad option raises :class:`ConfigError` naming it.
    """

    series: str
    openstack_origin: str = "distro"
    action_managed_upgrade: bool = False
    evacuation_delay: int = 60
    evacuate_all_instances: bool = True
    notification_expiration: int = 86400
    check_expired_interval: int = 600
    region: str = "RegionOne"
    debug: bool = False
    use_internal_endpoints: bool = False
    worker_multiplier: float | None = None
    config_flags: str = ""
    coordination_backend_url: str = ""
    haproxy_server_timeout: int | None = None
    haproxy_client_timeout: int | None = None
    haproxy_queue_timeout: int | None = None
    haproxy_connect_timeout: int | None = None
    os_public_network: str = ""
    os_internal_network: str = ""
    os_admin_network: str = ""
    os_public_hostname: str = ""
    os_internal_hostname: str = ""
    os_admin_hostname: str = ""
    vip: str = ""
    vip_iface: str = "eth0"
    vip_cidr: int = 24
    dns_ha: bool = False
    auto_register_hosts: bool = True
    default_recovery_method: str = "auto"
    service_type: str = "COMPUTE"
    ssl_cert: str = ""
    ssl_key: str = ""
    ssl_ca: str = ""
    use_policyd_override: bool = False  # the policyd-override resource's rules apply

    # The engine's (and, for notification-delay-max, the API's) tunables. Names,
    # sections, types, defaults and minimums are masakari's own, identical from yoga to
    # hibiscus; only [DEFAULT] notification_delay_max is new (hibiscus). The waits have
    # no minimum upstream: 0 would give up on every instance at once, so the charm asks
    # for 1.
    host_failure_recovery_threads: int = _engine("DEFAULT", "host_failure_recovery_threads", 3, 1)
    ignore_instances_in_error_state: bool = _engine(
        "host_failure", "ignore_instances_in_error_state", False
    )
    add_reserved_host_to_aggregate: bool = _engine(
        "host_failure", "add_reserved_host_to_aggregate", False
    )
    host_failure_metadata_key: str = _engine(
        "host_failure", "ha_enabled_instance_metadata_key", "HA_Enabled"
    )
    process_all_instances: bool = _engine("instance_failure", "process_all_instances", False)
    instance_failure_metadata_key: str = _engine(
        "instance_failure", "ha_enabled_instance_metadata_key", "HA_Enabled"
    )
    wait_after_evacuation: int = _engine("DEFAULT", "wait_period_after_evacuation", 90, 1)
    wait_after_power_off: int = _engine("DEFAULT", "wait_period_after_power_off", 180, 1)
    wait_after_power_on: int = _engine("DEFAULT", "wait_period_after_power_on", 60, 1)
    duplicate_notification_interval: int = _engine(
        "DEFAULT", "duplicate_notification_detection_interval", 180
    )
    notification_delay_max: int | None = _engine(
        "DEFAULT", "notification_delay_max", None, since="hibiscus"
    )

    # Worked out from the options above.
    origin: Origin = dataclasses.field(init=False)
    flags: dict[str, dict[str, str]] = dataclasses.field(init=False)  # config-flags
    haproxy_timeouts: dict[str, int] = dataclasses.field(init=False)
    networks: dict[str, str] = dataclasses.field(init=False)  # endpoint type -> CIDR
    hostnames: dict[str, str] = dataclasses.field(init=False)  # endpoint type -> host name
    vips: tuple[str, ...] = dataclasses.field(init=False)
    # charm option -> value as masakari.conf spells it, for the engine options that are set
    engine: dict[str, str] = dataclasses.field(init=False)
    recovery_method: str = dataclasses.field(init=False)

    def __post_init__(self):
        inits = [f for f in dataclasses.fields(self) if f.init]
        o = _Options({f.name: getattr(self, f.name) for f in inits}, _DEFAULTS)
        checked = _checked(o, self.series)
        if o.problems:
            raise ConfigError(o.problems)
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    @property
    def api_page_size(self) -> int:
        """Items per list page masakari-api returns ([DEFAULT] osapi_max_limit)."""
        value = self.flags.get("DEFAULT", {}).get("osapi_max_limit", "")
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


# The engine options, from the fields that hold them, in the fields' order.
ENGINE_OPTIONS: tuple[EngineOption, ...] = tuple(
    dataclasses.replace(field.metadata["engine"], name=field.name.replace("_", "-"))
    for field in dataclasses.fields(MasakariConfig)
    if "engine" in field.metadata
)


# Each option's default, by field name (what a refused whole number falls back to).
_DEFAULTS: dict[str, object] = {
    field.name: field.default
    for field in dataclasses.fields(MasakariConfig)
    if field.init and field.default is not dataclasses.MISSING
}


def _knows(release: str | None, option: EngineOption) -> bool:
    return release is None or release_index(release) >= release_index(option.since)


def _engine_values(o: _Options) -> dict[str, str]:
    """The set engine options, as masakari.conf spells them; problems refused."""
    values: dict[str, str] = {}
    for option in ENGINE_OPTIONS:
        value = o.get(option.name)
        if value is None:
            continue
        problem = option.problem(value)
        if problem:
            o.refuse(problem)
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


class _Options:
    """The options as Juju gave them (by field name), and the problems found, in order.

    Each is looked up by its Juju name, the one every problem message shows; a refused
    whole number falls back to its field's default, so the checks go on with a sane value.
    """

    def __init__(self, fields: Mapping[str, object], defaults: Mapping[str, object]):
        self.fields = fields
        self.defaults = defaults
        self.problems: list[str] = []

    def get(self, name: str) -> object:
        return self.fields.get(name.replace("-", "_"))

    def refuse(self, problem: str) -> None:
        self.problems.append(problem)

    def flag(self, name: str) -> bool:
        return bool(self.get(name))

    def text(self, name: str) -> str:
        value = self.get(name)
        return "" if value is None else str(value).strip()

    def whole(
        self, name: str, default: int | None = None, minimum: int = 1, maximum: int | None = None
    ) -> int:
        value = self.get(name)
        if default is None:
            field_default = self.defaults.get(name.replace("-", "_"))
            default = field_default if isinstance(field_default, int) else minimum
        if value is None:
            return default
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            self.refuse(f"{name} must be a whole number >= {minimum} (got {value!r})")
            return default
        if maximum is not None and value > maximum:
            self.refuse(f"{name} must be at most {maximum} (got {value})")
            return default
        return value


def _origin(o: _Options, series: str) -> Origin:
    try:
        return parse_origin(o.text("openstack-origin"), series)
    except OriginError as exc:
        o.refuse(str(exc))
        return Origin("distro", None)


def _endpoint_names(o: _Options) -> tuple[dict[str, str], dict[str, str]]:
    """os-<endpoint>-network and os-<endpoint>-hostname: CIDRs and host names by endpoint."""
    networks: dict[str, str] = {}
    hostnames: dict[str, str] = {}
    for endpoint in ENDPOINT_TYPES:
        cidr = o.text(f"os-{endpoint}-network")
        if cidr:
            try:
                networks[endpoint] = str(ipaddress.ip_network(cidr, strict=False))
            except ValueError:
                o.refuse(f"os-{endpoint}-network {cidr!r} is not a CIDR (e.g. 10.0.0.0/24)")
        hostname = o.text(f"os-{endpoint}-hostname")
        if hostname and is_hostname(hostname):
            hostnames[endpoint] = hostname.rstrip(".")
        elif hostname:
            o.refuse(f"os-{endpoint}-hostname {hostname!r} is not a valid host name")
    return networks, hostnames


def _vip(o: _Options) -> tuple[tuple[str, ...], int, str]:
    """vip, vip_cidr and vip_iface."""
    vips = tuple(o.text("vip").split())
    for vip in vips:
        if not is_ip(vip):
            o.refuse(f"vip {vip!r} is not an IP address")
    if len(set(vips)) != len(vips):
        o.refuse("vip lists the same address twice")
    vip_cidr = o.whole("vip_cidr")
    if vip_cidr > 128:
        o.refuse(f"vip_cidr {vip_cidr} is not a netmask length")
    vip_iface = o.text("vip_iface") or "eth0"
    if not re.fullmatch(r"[A-Za-z0-9_.:@-]{1,15}", vip_iface):
        o.refuse(f"vip_iface {vip_iface!r} is not an interface name")
    return vips, vip_cidr, vip_iface


def _dns_ha(o: _Options, vips: tuple[str, ...], hostnames: dict[str, str]) -> bool:
    dns_ha = o.flag("dns-ha")
    if dns_ha and vips:
        o.refuse("vip and dns-ha cannot be used together: unset one of them")
    if dns_ha and not hostnames:
        o.refuse("dns-ha needs at least one of os-public/internal/admin-hostname")
    return dns_ha


def _worker_multiplier(o: _Options) -> float | None:
    multiplier = o.get("worker-multiplier")
    if multiplier is None:
        return None
    if (
        not isinstance(multiplier, (int, float))
        or not math.isfinite(multiplier)
        or not 0 < multiplier <= 64
    ):
        o.refuse(f"worker-multiplier must be > 0 and <= 64 (got {multiplier!r})")
        return None
    return float(multiplier)


def _config_flags(o: _Options) -> dict[str, dict[str, str]]:
    try:
        flags = parse_config_flags(o.text("config-flags"))
    except ConfigFlagsError as exc:
        o.refuse(str(exc))
        return {}
    for problem in _flag_conflicts(flags):
        o.refuse(problem)
    return flags


def _matching(o: _Options, name: str, pattern: re.Pattern[str], problem: str) -> str:
    """The text of option ``name``; ``problem`` refused unless ``pattern`` matches it."""
    value = o.text(name)
    if not pattern.fullmatch(value):
        o.refuse(problem.format(value=value[:40]))
    return value


def _ssl(o: _Options) -> dict[str, str]:
    ssl = {name: o.text(name) for name in ("ssl_cert", "ssl_key", "ssl_ca")}
    static = tls.read_static(ssl["ssl_cert"], ssl["ssl_key"], ssl["ssl_ca"], "check")
    if isinstance(static, NotReady):
        o.refuse(static.reason)
    return ssl


def _recovery_method(o: _Options) -> str:
    method = o.text("default-recovery-method") or "auto"
    if method not in RECOVERY_METHODS:
        choices = ", ".join(RECOVERY_METHODS)
        o.refuse(f"default-recovery-method {method!r} must be one of {choices}")
    return method


def _service_type(o: _Options) -> str:
    service_type = o.text("service-type") or "COMPUTE"
    if len(service_type) > 255 or not service_type.isprintable():
        o.refuse("service-type must be printable text of at most 255 characters")
    return service_type


def _checked(o: _Options, series: str) -> dict[str, object]:
    """Every field's checked value, and the views worked out from them, by field name."""
    networks, hostnames = _endpoint_names(o)
    vips, vip_cidr, vip_iface = _vip(o)
    checked: dict[str, object] = {
        "origin": _origin(o, series),
        "networks": networks,
        "hostnames": hostnames,
        "vips": vips,
        "vip_cidr": vip_cidr,
        "vip_iface": vip_iface,
        "dns_ha": _dns_ha(o, vips, hostnames),
        "worker_multiplier": _worker_multiplier(o),
        "flags": _config_flags(o),
        "coordination_backend_url": _matching(
            o,
            "coordination-backend-url",
            _TOOZ_URL_OR_EMPTY,
            "coordination-backend-url must be a tooz URL such as etcd3+http://host:2379",
        ),
        "region": _matching(
            o,
            "region",
            _REGION,
            "region {value!r} must be a name of letters, digits and . _ : - (e.g. RegionOne)",
        ),
        **_ssl(o),
        "recovery_method": _recovery_method(o),
        "service_type": _service_type(o),
        "haproxy_timeouts": {
            kind: o.whole(f"haproxy-{kind}-timeout", default, maximum=MAX_HAPROXY_TIMEOUT)
            for kind, default in _HAPROXY_TIMEOUTS.items()
        },
        "evacuation_delay": o.whole("evacuation-delay", minimum=0),
        "notification_expiration": o.whole("notification-expiration"),
        "check_expired_interval": o.whole("check-expired-interval"),
        "engine": _engine_values(o),
    }
    for name in (
        "action-managed-upgrade",
        "evacuate-all-instances",
        "debug",
        "use-internal-endpoints",
        "auto-register-hosts",
    ):
        checked[name.replace("-", "_")] = o.flag(name)
    return checked
