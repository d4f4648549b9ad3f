"""Adversarial property suite: hostile options, keystone answers, nova.conf and event orders.

Two layers, both counted in the tally the unit run prints (conftest.py):

* the option layer feeds every option, with values of every type and form, to
  :class:`monitors_config.MonitorsConfig` (through ops' ``load_config``) and renders
  what it accepts; the file must read back with oslo.config's parser exactly as meant;
* the hook layer runs the charm on arbitrary config, keystone bags (several disagreeing
  units, missing keys, control characters, huge values), nova.conf contents (non-UTF-8
  included), pacemaker-remote's node name (absent, hostile) and event sequences, then
  checks: no exception, an honest status, every rendered file parses as its reader
  parses it and holds what the charm meant, active only when nova's host, the reported
  name and the node name agree, no secret in status, logs or relation data, no invalid
  node name in the status, and a replay of the last event changes nothing.
"""

from __future__ import annotations

import base64
import functools
import tempfile
import urllib.parse
from pathlib import Path

import charm
import monitors_workload as wl
import pytest
import yaml
from conftest import CREDENTIALS, FQDN, NOVA_CONF_FQDN, PACKAGES
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from monitors_config import MONITORS, PROCESS_FILE_KEYS, TUNABLES, ConfigError, MonitorsConfig
from openstack_charm_lib.network import is_hostname
from openstack_charm_lib.relations import masakari_host
from openstack_charm_lib.relations.identity_credentials import Credentials
from openstack_charm_testing import FakeHost
from openstack_charm_testing import adversarial as adv
from openstack_charm_testing.options import load_options
from ops import testing

TALLY = adv.tally("masakari-monitors")
STATUSES = ("active", "blocked", "waiting", "maintenance")
CA = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUb2s=\n-----END CERTIFICATE-----\n"


# -- generators ------------------------------------------------------------------------------
def option_value(name: str) -> st.SearchStrategy[object]:
    """Values Juju can give option ``name`` (its declared type), hostile within that type."""
    tunable = TUNABLES.get(name)
    if tunable is not None and tunable.kind is int:
        return st.one_of(st.integers(-3, 10**5), st.integers(-(2**40), 2**70))
    if (tunable is not None and tunable.kind is bool) or name in (
        *MONITORS,
        "debug",
        "use-internal-endpoints",
        "reserved-host",
    ):
        return st.booleans()
    plausible = {
        "host-pacemaker-node-type": ("remote", "cluster", "autodetect"),
        "hostname": (FQDN, "compute-1"),
        "region": ("RegionOne",),
        "config-flags": ("host/ipmi_timeout=9", "DEFAULT/x=1, api/y=2"),
        "process-list": (PROCESS_LIST,),
    }.get(name, ("eth0", "qemu:///system", "5405,5406", "/var/lib/x.sock"))
    return adv.relation_value(*plausible)


PROCESS_LIST = yaml.safe_dump(
    [
        {
            "process_name": "/usr/sbin/libvirtd",
            "start_command": "systemctl start libvirtd",
            "restart_command": "systemctl restart libvirtd",
            "run_as_root": True,
        }
    ]
)
PROCESS_LISTS = st.one_of(
    st.just(PROCESS_LIST),
    st.sampled_from(
        [
            "- &a [*a]",
            "- {1: x}",
            "- &e {process_name: x, start_command: *e, restart_command: b, run_as_root: true}",
            "[" * 300,
            "- {process_name: x, start_command: a, restart_command: b, run_as_root: 1}",
            "- {process_name: x, start_command: a, restart_command: b, run_as_root: true, "
            "pre_start_command: null}",
            "- {process_name: 'x\\ry', start_command: a, restart_command: b, run_as_root: true}",
        ]
    ),
    st.builds(
        lambda name, cmd: yaml.safe_dump(
            [
                {
                    "process_name": name,
                    "start_command": cmd,
                    "restart_command": cmd,
                    "run_as_root": True,
                }
            ]
        ),
        adv.hostile_text(),
        adv.hostile_text(),
    ),
    adv.hostile_text(),
)
OPTIONS = sorted(
    {
        *TUNABLES,
        *MONITORS,
        "hostname",
        "region",
        "debug",
        "use-internal-endpoints",
        "config-flags",
        "segment-name",
        "reserved-host",
    }
)
VALUES = {**{name: option_value(name) for name in OPTIONS}, "process-list": PROCESS_LISTS}
ONE_OPTION = st.sampled_from(sorted(VALUES)).flatmap(
    lambda name: VALUES[name].map(lambda value: {name: value})
)
# Mostly one hostile option (so that cases get past validation and render), else many.
CONFIG = st.one_of(
    st.just({}),
    ONE_OPTION,
    ONE_OPTION.map(lambda d: {**d, "enable-process-monitor": True}),
    st.fixed_dictionaries({}, optional=VALUES),
)
# Options of the wrong type: Juju never sends them, but MonitorsConfig must stay total.
WRONG_CONFIG = st.dictionaries(
    st.sampled_from([*OPTIONS, "process-list"]), adv.wrong_types(), max_size=6
)
FIELDS = sorted({*CREDENTIALS, "ca_cert", "private-address"})
PLAUSIBLE = {
    "auth_port": ("35357", "²", "٣٥"),
    "credentials_port": ("5000", "¹"),
    "auth_protocol": ("http", "https"),
    "credentials_protocol": ("http", "https"),
    "auth_host": ("10.5.0.10", "keystone.maas", "::1"),
    "credentials_host": ("10.5.0.10",),
    "api_version": ("3", "2"),
    "ca_cert": (base64.b64encode(CA.encode()).decode(), CA, "-----BEGIN x"),
}


def keystone_bag() -> st.SearchStrategy[dict[str, str]]:
    """One keystone unit's answer: complete, damaged field by field, or partial."""
    values = {f: adv.relation_value(*PLAUSIBLE.get(f, (CREDENTIALS.get(f, "x"),))) for f in FIELDS}
    damaged = st.fixed_dictionaries({}, optional=values)
    one = st.sampled_from(FIELDS).flatmap(lambda f: values[f].map(lambda v: {f: v}))
    inject = st.sampled_from(FIELDS).flatmap(
        lambda f: adv.injected(*PLAUSIBLE.get(f, (CREDENTIALS.get(f, "x"),))).map(lambda v: {f: v})
    )
    return st.one_of(
        inject.map(lambda d: {**CREDENTIALS, **d}),  # complete, a line injected in one field
        one.map(lambda d: {**CREDENTIALS, **d}),  # complete, one field replaced
        damaged.map(lambda d: {**CREDENTIALS, **d}),  # complete, several replaced
        damaged,  # some fields only
        st.just(dict(CREDENTIALS)),
        st.sampled_from(sorted(CREDENTIALS)).map(
            lambda f: {k: v for k, v in CREDENTIALS.items() if k != f}
        ),
    )


NOVA = st.one_of(
    st.just(NOVA_CONF_FQDN.encode()),
    st.none(),
    st.just(b"[libvirt]\nhost = x\n[DEFAULT]\nhost = compute-1.maas\n"),
    adv.non_utf8_bytes(),
    adv.hostile_text(max_size=200).map(lambda t: ("[DEFAULT]\nhost = " + t).encode()),
    # nova's recovery settings, published on registration once read.
    st.tuples(adv.hostile_text(max_size=40), adv.hostile_text(max_size=40)).map(
        lambda t: (
            f"{NOVA_CONF_FQDN}[DEFAULT]\nservice_down_time = {t[0]}\n"
            f"resume_guests_state_on_host_boot = {t[1]}\n"
        ).encode()
    ),
)
EVENTS = st.sampled_from(
    [
        "config_changed",
        "update_status",
        "install",
        "upgrade_charm",
        "keystone_changed",
        "keystone_departed",
    ]
)
# pacemaker-remote's bag on pacemaker-node; None: the relation is not there.
NODE = st.one_of(
    st.none(),
    st.just({"node-name": FQDN}),
    st.just({"node-name": "compute-1"}),  # a valid name that disagrees
    st.just({}),
    adv.relation_value(FQDN, "compute-1").map(lambda v: {"node-name": v}),
)
STEP = st.fixed_dictionaries(
    {
        "event": EVENTS,
        "node": NODE,
        "config": CONFIG,
        "units": st.one_of(
            st.lists(keystone_bag(), min_size=1, max_size=1),
            st.lists(keystone_bag(), min_size=0, max_size=3),  # none, or disagreeing units
        ),
    }
)


# -- the option layer ---------------------------------------------------------------------------
CHARMCRAFT = yaml.safe_load((Path(charm.__file__).parents[1] / "charmcraft.yaml").read_text())
# What Juju gives for an option that is not set.
DEFAULTS = {
    name: spec["default"]
    for name, spec in CHARMCRAFT["config"]["options"].items()
    if "default" in spec
}


def credentials() -> Credentials:
    return Credentials(dict(CREDENTIALS), None)


@settings(max_examples=adv.budget(1200), deadline=None)
@given(options=st.one_of(ONE_OPTION, ONE_OPTION, ONE_OPTION, CONFIG, WRONG_CONFIG))
def test_every_option_is_rejected_or_rendered_as_meant(options):
    with TALLY.case() as case:
        try:
            config = load_options(MonitorsConfig, {**DEFAULTS, **options})
        except ConfigError as exc:
            assert exc.problems and all(isinstance(p, str) for p in exc.problems)
            return
        files = wl.build_files(config, credentials(), config.hostname or FQDN, "masakari")
        meant = wl.conf_sections(config, credentials(), config.hostname or FQDN)
        conf = next(f for f in files if f.path == wl.CONF)
        text = conf.content if isinstance(conf.content, str) else conf.content.decode()
        case.file(wl.CONF, lambda: adv.assert_ini_matches(adv.parse_oslo_ini(text), meant))
        for spec in files:
            if spec.path == wl.PROCESS_LIST:
                check = functools.partial(check_process_list, spec.content, config.processes)
                case.file(spec.path, check)


def check_process_list(content, meant) -> None:
    read = yaml.safe_load(content)
    if read != meant:
        raise adv.InvalidFileError("process_list.yaml does not read back as configured")
    for entry in read:
        if not all(isinstance(k, str) for k in entry):
            raise adv.InvalidFileError("a key is not a string")
        # masakari-processmonitor reads every one of them with entry[key].
        if set(entry) != set(PROCESS_FILE_KEYS):
            raise adv.InvalidFileError("an entry lacks a key the process monitor reads")


# -- the hook layer ----------------------------------------------------------------------------
class Spy:
    """Records the sections the charm meant to write (conf_sections' last result)."""

    def __init__(self):
        self.meant = None
        self.original = wl.conf_sections

    def __call__(self, *args, **kwargs):
        self.meant = self.original(*args, **kwargs)
        return self.meant


def make_host(nova: bytes | None, pacemaker: bool) -> FakeHost:
    host = FakeHost(tempfile.mkdtemp(), fqdn=FQDN, available=PACKAGES)
    host.unit_groups = {"masakari-host-monitor": "masakari"}
    host.installed.update(PACKAGES)
    if pacemaker:
        host.running.add("pacemaker_remote")
    if nova is not None:
        host.write_file(wl.NOVA_CONF, nova)
    return host


def build_state(step, previous: testing.State | None) -> testing.State:
    units = dict(enumerate(step["units"]))
    container = testing.SubordinateRelation("container", remote_app_name="nova-compute", id=8)
    base = previous or testing.State()
    kept = {r.id: r for r in base.relations}
    # What the charm published last time stays (the default bag holds Juju's own keys).
    published = {"local_unit_data": dict(kept[7].local_unit_data)} if 7 in kept else {}
    keystone = testing.Relation(
        "identity-credentials",
        "keystone-credentials",
        remote_app_name="keystone",
        remote_units_data=units,
        id=7,
        **published,
    )
    relations = [keystone, kept.get(8, container)]
    if step["node"] is not None:
        node = testing.SubordinateRelation(
            "pacemaker-node",
            remote_app_name="pacemaker-remote",
            remote_unit_data=step["node"],
            id=9,
        )
        relations.append(node)
    return testing.State(
        config=step["config"], relations=relations, stored_states=base.stored_states
    )


def context() -> testing.Context:
    """The Context every case shares."""
    return adv.shared_context(charm.MasakariMonitorsCharm)


def event_for(ctx: testing.Context, name: str, state: testing.State):
    if name == "keystone_changed":
        return ctx.on.relation_changed(state.get_relation(7), remote_unit=0)
    if name == "keystone_departed":
        return ctx.on.relation_departed(state.get_relation(7), remote_unit=5, departing_unit=5)
    return getattr(ctx.on, name)()


def secrets_of(steps) -> set[str]:
    return {
        bag["credentials_password"]
        for step in steps
        for bag in step["units"]
        if isinstance(bag.get("credentials_password"), str)
    }


def check_outcome(case, ctx, host, spy, out, steps, step) -> None:
    assert out.unit_status.name in STATUSES, out.unit_status
    check_names(host, out, step["node"])
    check_recovery_facts(host.read_text(wl.NOVA_CONF) or "")
    if spy.meant is not None and host.exists(wl.CONF):
        text = host.read_text(wl.CONF) or ""
        meant = spy.meant
        case.file(wl.CONF, lambda: check_conf(text, meant))
        assert host.owner_of(wl.CONF)[2] & 0o007 == 0  # holds the password
    if host.exists(wl.PROCESS_LIST):
        case.file(wl.PROCESS_LIST, lambda: yaml.safe_load(host.read_bytes(wl.PROCESS_LIST) or b""))
    if host.exists(wl.KEYSTONE_CA):
        case.file(wl.KEYSTONE_CA, lambda: check_pem(host.read_text(wl.KEYSTONE_CA) or ""))
    said = [out.unit_status.message, *(line.message for line in ctx.juju_log)]
    for relation in out.relations:
        said.extend(relation.local_unit_data.values())
        said.extend(relation.local_app_data.values())
    case.no_leak(secrets_of(steps), said)


def check_recovery_facts(nova_conf: str) -> None:
    """What nova.conf yields for registration is a fact masakari accepts, or unknown."""
    down = wl.nova_service_down_time(nova_conf)
    assert down is None or 1 <= down <= masakari_host.MAX_SECONDS, down
    assert wl.nova_resumes_guests(nova_conf) in (None, True, False)


def check_names(host, out, node) -> None:
    """Active only on one agreed name; a node name that is no host name is never shown."""
    sent = (node or {}).get("node-name", "")
    # The operator's own config may hold the same text (a status may quote it).
    configured = " ".join(str(value) for value in out.config.values())
    if (
        sent
        and not is_hostname(sent)
        and len(sent.strip()) >= 4
        and sent.strip() not in configured
    ):
        assert sent.strip() not in out.unit_status.message, "status shows a hostile node name"
    if out.unit_status.name != "active":
        return
    reported = adv.parse_oslo_ini(host.read_text(wl.CONF) or "")["DEFAULT"]["hostname"][0]
    nova = wl.nova_host(host.read_text(wl.NOVA_CONF) or "", host.hostname())
    assert reported == nova, "active while reporting a name nova does not use"
    if node is not None:
        assert sent == reported, "active while Pacemaker knows this host by another name"


def check_conf(text: str, meant) -> None:
    """Read back as meant, and keystone's URL is one keystoneauth can use."""
    parsed = adv.parse_oslo_ini(text)
    adv.assert_ini_matches(parsed, meant)
    url = urllib.parse.urlsplit(parsed["api"]["auth_url"][0])
    port = url.netloc.rpartition(":")[2]
    if url.scheme not in ("http", "https") or not (port.isascii() and port.isdigit()):
        raise adv.InvalidFileError(f"auth_url {url.geturl()!r} has no usable scheme and port")
    if not 0 < int(port) < 65536 or not url.hostname:
        raise adv.InvalidFileError(f"auth_url {url.geturl()!r} has no usable host and port")


def check_pem(text: str) -> None:
    from cryptography import x509

    x509.load_pem_x509_certificates(text.encode())


@settings(
    max_examples=adv.budget(200),
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # shrinking a hook run is slow
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=st.lists(STEP, min_size=1, max_size=2),
    nova=NOVA,
    pacemaker=st.booleans(),
    broken=st.booleans(),
)
def test_any_sequence_of_hostile_input_gives_a_status_and_a_valid_file(
    monkeypatch, steps, nova, pacemaker, broken
):
    adv.fast_scenario(monkeypatch)
    host = make_host(nova, pacemaker)
    monkeypatch.setattr(charm.MasakariMonitorsCharm, "make_host", lambda self: host)
    spy = Spy()
    monkeypatch.setattr(wl, "conf_sections", spy)
    with TALLY.case() as case:
        out = None
        for step in steps:
            ctx = context()
            spy.meant = None
            state = build_state(step, out)
            out = ctx.run(event_for(ctx, step["event"], state), state)
            check_outcome(case, ctx, host, spy, out, steps, step)
        assert out is not None
        # Replay the last event on the state it left: nothing may change.
        before, host.commands[:] = adv.snapshot(host.root), []
        ctx = context()
        state = build_state(steps[-1], out)
        again = ctx.run(event_for(ctx, steps[-1]["event"], state), state)
        case.replay_is_noop(
            [
                *adv.differences(before, adv.snapshot(host.root)),
                *adv.service_changes(host.commands),
            ]
        )
        assert again.unit_status == out.unit_status
        if broken:  # keystone goes away: the monitors stop, nothing raises
            ctx = context()
            gone = ctx.run(ctx.on.relation_broken(again.get_relation(7)), again)
            assert gone.unit_status.name in STATUSES


@pytest.mark.parametrize("action", ["pause", "resume", "restart-services"])
def test_actions_never_raise_and_never_print_the_password(monkeypatch, action):
    host = make_host(NOVA_CONF_FQDN.encode(), True)
    monkeypatch.setattr(charm.MasakariMonitorsCharm, "make_host", lambda self: host)
    step = {
        "event": "config_changed",
        "config": {},
        "units": [dict(CREDENTIALS)],
        "node": {"node-name": FQDN},
    }
    ctx = testing.Context(charm.MasakariMonitorsCharm)
    state = build_state(step, None)
    out = ctx.run(ctx.on.config_changed(), state)
    with TALLY.case() as case:
        _, said = adv.run_action(ctx, action, out)
        case.no_leak(secrets_of([step]), said)


def test_juju_refuses_any_action_parameter_before_the_charm_runs():
    """No action takes parameters, and each says so: Juju rejects a call with any."""
    spec = yaml.safe_load((Path(charm.__file__).parents[1] / "charmcraft.yaml").read_text())
    for name, action in spec["actions"].items():
        assert action.get("additionalProperties") is False, name
        assert not action.get("params"), name
