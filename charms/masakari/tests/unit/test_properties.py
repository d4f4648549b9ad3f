"""The adversarial property suite of the masakari charm.

Generated cases feed hostile values into every option and every field of every
endpoint (shared-db, amqp with disagreeing units, identity-service, certificates, ha,
cluster), run a random event (or a random sequence of events, relation departures and
breaks, and actions) and check, for each case: no exception escapes a hook; every file
the charm wrote parses with its
real consumer's parser and holds exactly what the charm meant (masakari.conf with
oslo.config, haproxy.cfg with ``haproxy -c``, PEM files with OpenSSL); files holding
secrets are not world-readable; no secret reaches a status, a log or action output; and
replaying the event changes nothing. The unit run prints the figures.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import charm
import masakari_workload as wl
import ops
import pytest
import yaml
from conftest import (
    AMQP_UNITS,
    CA_PEM,
    CERT_PEM,
    DB_DATA,
    KEY_PEM,
    KEYSTONE_DATA,
    PACKAGE_VERSIONS,
    SERVICE_PORTS,
    b64,
    networks,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openstack_charm_lib import pem
from openstack_charm_testing import FakeHost
from openstack_charm_testing import adversarial as adv
from ops import testing

TALLY = adv.tally("masakari")
# The charm's metadata, parsed once (ops.testing would parse charmcraft.yaml per Context).
# The charm's own code, which it copies onto the machine (the health daemons).
SHIPPED_CODE = "\n".join(
    path.read_text() for path in sorted(Path(charm.__file__).parent.glob("*.py"))
)
SPEC = yaml.load(
    (Path(charm.__file__).parents[1] / "charmcraft.yaml").read_text(), Loader=yaml.CSafeLoader
)
HAPROXY = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin")


def cases(n: int) -> settings:
    """Settings of a property: ``n`` examples, no deadline (the machines are noisy)."""
    return settings(
        max_examples=adv.budget(n),
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        database=None,
    )


# -- generators ----------------------------------------------------------------------------


def field(valid: str, *plausible: str) -> st.SearchStrategy[str | None]:
    """A relation field: well-formed, hostile or absent (None)."""
    return st.one_of(st.just(valid), adv.relation_value(valid, *plausible), st.none())


def bag(base: dict[str, str], **plausible: tuple[str, ...]) -> st.SearchStrategy[dict[str, str]]:
    """``base`` with zero to two fields made hostile or removed, and maybe a stray key.

    Most fields stay well-formed, so that cases reach the files instead of stopping at
    the first missing key.
    """
    names = sorted(base)

    def corrupt(draw_fields: dict[str, str | None], extra: dict[str, str]) -> dict[str, str]:
        merged = {**base, **draw_fields, **extra}
        return {k: v for k, v in merged.items() if v is not None}

    changed = st.lists(st.sampled_from(names), max_size=2, unique=True).flatmap(
        lambda keys: st.fixed_dictionaries(
            {k: field(base[k], *plausible.get(k, ())) for k in keys}
        )
    )
    extra = st.dictionaries(
        st.sampled_from(["junk", "ssl_ca", "ca_cert"]), adv.hostile_text(), max_size=1
    )
    return st.builds(corrupt, changed, st.one_of(st.just({}), extra))


def vault_answer() -> st.SearchStrategy[str]:
    good = {"cert": CERT_PEM, "key": KEY_PEM}
    entry = st.one_of(
        st.just(good),
        st.fixed_dictionaries(
            {
                "cert": st.sampled_from([CERT_PEM, CA_PEM, "-----BEGIN CERTIFICATE-----\nAA\n"]),
                "key": st.sampled_from([KEY_PEM, CA_PEM, adv.CONTROL_CHARS]),
            }
        ),
        st.just("not a dict"),
    )
    processed = st.dictionaries(
        st.sampled_from(["juju-m-0.maas", "other"]), entry, min_size=1, max_size=2
    ).map(json.dumps)
    return st.one_of(processed, processed, adv.json_shapes())


PLAUSIBLE_HOSTS = ("10.5.0.10", "keystone.maas", "fd00::10")
DB = bag(DB_DATA, db_host=PLAUSIBLE_HOSTS, db_port=("3306",))
KEYSTONE = bag(
    {**KEYSTONE_DATA, "service_domain": "service_domain"},
    service_host=PLAUSIBLE_HOSTS,
    auth_host=PLAUSIBLE_HOSTS,
    service_protocol=("https",),
)
AMQP_UNIT = bag(
    {**AMQP_UNITS[0], "ssl_port": "5671"}, hostname=PLAUSIBLE_HOSTS, ssl_port=("5671",)
)
CERTS = st.fixed_dictionaries(
    {"ca": field(CA_PEM), "masakari_0.processed_requests": vault_answer()},
    optional={"chain": field(CA_PEM)},
).map(lambda d: {k: v for k, v in d.items() if v is not None})
PEER = bag(
    {"private-address": "10.5.0.51", "public-address": "10.5.0.51", "admin-address": "10.5.0.51"}
)
HA = st.fixed_dictionaries({"clustered": st.sampled_from(["yes", "no", "", "true\n"])})
SAFE_SSL = {"ssl_cert": b64(CERT_PEM), "ssl_key": b64(KEY_PEM), "ssl_ca": b64(CA_PEM)}
# Juju checks each option's type (an int option is always an int), so values are hostile
# within their type: any text for strings, any integer, any float.
HOSTILE_OPTIONS = {
    "openstack-origin": st.one_of(
        adv.hostile_text(),
        st.sampled_from(
            [
                "distro",
                "cloud:noble-epoxy",
                "deb https://u:s3cret-origin@h.internal/x noble main",
                "deb http://h/x noble main\ndeb http://evil noble main",
            ]
        ),
    ),
    "vip": st.one_of(adv.hostile_text(), st.sampled_from(["10.5.0.100", "fd00::100"])),
    "vip_cidr": st.integers(-(2**40), 2**40),
    "vip_iface": adv.hostile_text(),
    "dns-ha": st.booleans(),
    "os-public-hostname": st.one_of(adv.hostile_text(), st.just("masakari.maas")),
    "os-internal-network": st.one_of(adv.hostile_text(), st.just("10.5.0.0/24")),
    "worker-multiplier": st.floats(allow_nan=True),
    "config-flags": st.one_of(
        adv.hostile_text(), adv.injected("debug=false", "a/b=c"), st.just("osapi_max_limit=5")
    ),
    "coordination-backend-url": adv.hostile_text(),
    "region": st.one_of(adv.hostile_text(), adv.injected("RegionOne")),
    "evacuation-delay": st.integers(-(2**40), 2**40),
    "haproxy-client-timeout": st.integers(-10, 10**13),
    "ssl_cert": st.one_of(adv.hostile_text(), st.just(SAFE_SSL["ssl_cert"])),
    "ssl_key": st.one_of(adv.hostile_text(), st.just(SAFE_SSL["ssl_key"])),
    "ssl_ca": st.one_of(adv.hostile_text(), st.just(SAFE_SSL["ssl_ca"])),
    "debug": st.booleans(),
    "use-internal-endpoints": st.booleans(),
    "service-type": adv.hostile_text(),
    "default-recovery-method": adv.hostile_text(),
}
# Most cases set a few options (so that they reach the files); some set many.
CONFIG = st.one_of(
    st.lists(st.sampled_from(sorted(HOSTILE_OPTIONS)), max_size=2, unique=True).flatmap(
        lambda names: st.fixed_dictionaries({n: HOSTILE_OPTIONS[n] for n in names})
    ),
    st.fixed_dictionaries({}, optional=HOSTILE_OPTIONS),
)


@dataclasses.dataclass
class Case:
    """One generated deployment: config and every remote bag."""

    config: dict
    db: dict
    amqp: list[dict]
    keystone: list[dict]
    certs: dict | None
    peer: dict | None
    ha: dict | None

    def secrets(self) -> list[str]:
        values = [KEY_PEM.splitlines()[1], "s3cret-origin"]
        values.append(self.db.get("password", ""))
        values += [u.get("password", "") for u in self.amqp]
        values += [u.get("service_password", "") for u in self.keystone]
        # A value that is also (part of) an option an operator typed may rightly be
        # quoted where that option is named, and one that is part of the code the charm
        # installs (its health daemon) is that code: generated texts collide.
        public = " ".join(str(v) for v in self.config.values()) + SHIPPED_CODE
        return [v.strip() for v in values if len(v.strip()) >= 6 and v.strip() not in public]

    def state(self) -> testing.State:
        rels: list[testing.RelationBase] = [
            testing.Relation("shared-db", remote_app_name="mysql", remote_units_data={0: self.db}),
            testing.Relation(
                "amqp", remote_app_name="rabbitmq", remote_units_data=dict(enumerate(self.amqp))
            ),
            testing.Relation(
                "identity-service",
                remote_app_name="keystone",
                remote_units_data=dict(enumerate(self.keystone)),
            ),
            testing.PeerRelation(
                "cluster",
                peers_data={1: self.peer} if self.peer is not None else {},
                local_app_data={"db-synced-release": "caracal"},
            ),
        ]
        if self.certs is not None:
            rels.append(
                testing.Relation(
                    "certificates", remote_app_name="vault", remote_units_data={0: self.certs}
                )
            )
        config = dict(self.config)
        if self.ha is not None or self.peer is not None:
            # Several units need HA; without it the status is blocked before the files.
            ha = self.ha if self.ha is not None else {"clustered": "yes"}
            rels.append(testing.SubordinateRelation("ha", remote_unit_data=ha))
            config.setdefault("vip", "10.5.0.100")
        return testing.State(
            leader=True,
            config=config,
            relations=rels,
            networks=networks(),
        )


CASES = st.builds(
    Case,
    config=CONFIG,
    db=DB,
    amqp=st.lists(AMQP_UNIT, min_size=1, max_size=2),
    keystone=st.lists(KEYSTONE, min_size=1, max_size=2),
    certs=st.one_of(st.none(), CERTS),
    peer=st.one_of(st.none(), PEER),
    ha=st.one_of(st.none(), HA),
)
EVENTS = ("config_changed", "update_status", "upgrade_charm", "leader_elected", "start")
ACTIONS = ("pause", "resume", "restart-services", "openstack-upgrade", "package-upgrade")

# -- running and checking ------------------------------------------------------------------


class Records(logging.Handler):
    """Every log record of a case, formatted as juju debug-log would show it."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def records(monkeypatch):
    adv.fast_scenario(monkeypatch)
    handler = Records()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)


def make_host(monkeypatch) -> FakeHost:
    host = FakeHost(tempfile.mkdtemp(), available=PACKAGE_VERSIONS, service_ports=SERVICE_PORTS)
    host.installed.update(PACKAGE_VERSIONS)
    monkeypatch.setattr(charm.MasakariCharm, "make_host", lambda self: host)
    return host


def run(ctx: testing.Context, event: str, state: testing.State) -> testing.State:
    if event.startswith("relation_"):
        kind, endpoint = event.split(":", 1)
        relation = next((r for r in state.relations if r.endpoint == endpoint), None)
        units = sorted(_remote_units(relation)) if relation is not None else []
        if relation is None or not units:
            return ctx.run(ctx.on.config_changed(), state)
        if kind == "relation_changed":
            return ctx.run(ctx.on.relation_changed(relation, remote_unit=units[0]), state)
        if kind == "relation_departed":
            # The last unit leaves: Juju has already removed it from the relation.
            gone = _without_unit(relation, units[-1])
            state = dataclasses.replace(
                state, relations=[r for r in state.relations if r is not relation] + [gone]
            )
            return ctx.run(
                ctx.on.relation_departed(gone, remote_unit=units[-1], departing_unit=units[-1]),
                state,
            )
        out = ctx.run(ctx.on.relation_broken(relation), state)
        return dataclasses.replace(
            out, relations=[r for r in out.relations if r.endpoint != endpoint]
        )
    if event in ACTIONS:
        try:
            return ctx.run(ctx.on.action(event), state)
        except testing.ActionFailed as failed:
            return failed.state
    return ctx.run(getattr(ctx.on, event)(), state)


def _without_unit(relation: testing.RelationBase, unit: int) -> testing.RelationBase:
    if isinstance(relation, testing.PeerRelation):
        peers = {u: d for u, d in relation.peers_data.items() if u != unit}
        return dataclasses.replace(relation, peers_data=peers)
    if isinstance(relation, testing.Relation):
        units = {u: d for u, d in relation.remote_units_data.items() if u != unit}
        return dataclasses.replace(relation, remote_units_data=units)
    return relation


def _remote_units(relation: testing.RelationBase) -> list[int]:
    if isinstance(relation, testing.PeerRelation):
        return list(relation.peers_data)
    if isinstance(relation, testing.SubordinateRelation):
        return [relation.remote_unit_id]
    assert isinstance(relation, testing.Relation)
    return list(relation.remote_units_data)


_PARSED: dict[bytes, None] = {}  # files already checked, by content (haproxy -c is slow)


def check_files(case: adv.Case, host: FakeHost, meant: dict | None, secrets: list[str]) -> None:
    """Every file the charm wrote parses as its consumer reads it."""
    root = Path(host.root)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = "/" + str(path.relative_to(root))
        data = path.read_bytes()
        text = data.decode()
        if any(s in text for s in secrets):
            case.file(rel, lambda p=path: _not_world_readable(p))
        if rel == wl.MASAKARI_CONF:
            assert meant is not None
            case.file(rel, lambda t=text: adv.assert_ini_matches(adv.parse_oslo_ini(t), meant))
        elif rel == wl.HAPROXY_CFG and HAPROXY and data not in _PARSED:
            case.file(rel, lambda p=path: _haproxy_accepts(p))
            _PARSED[data] = None
        elif rel.endswith((".pem", ".crt")) or "/ssl/" in rel:
            case.file(rel, lambda t=text: _pem_parses(t))


def stats_passwords(host: FakeHost, known: list[str]) -> list[str]:
    """The haproxy statistics password the charm generated, when it is new to ``known``."""
    found = re.search(r"stats auth admin:(\S+)", host.read_text(wl.HAPROXY_CFG) or "")
    return [found.group(1)] if found and found.group(1) not in known else []


def _not_world_readable(path: Path) -> None:
    if path.stat().st_mode & 0o007:
        raise AssertionError("a file holding a secret is world-readable")


def _haproxy_accepts(path: Path) -> None:
    assert HAPROXY
    proc = subprocess.run(
        [HAPROXY, "-c", "-q", "-f", str(path)], capture_output=True, text=True, timeout=30
    )
    # -c resolves no addresses and binds nothing; what it refuses is the syntax.
    if proc.returncode != 0:
        raise AssertionError(f"haproxy -c refuses it: {proc.stderr[-300:]}")


def _pem_parses(text: str) -> None:
    if "PRIVATE KEY" in text:
        pem.private_key(text)
    else:
        pem.certificates(text)


def play(monkeypatch, records: Records, case: Case, events: list[str]) -> None:
    """Run ``events`` on ``case``'s deployment, checking after each, then replay the last."""
    host = make_host(monkeypatch)
    meant: dict = {}

    def capture(inputs, renderer):
        meant["sections"] = wl.masakari_conf_sections(inputs)
        return real_build(inputs, renderer)

    real_build = wl.build_files
    monkeypatch.setattr(wl, "build_files", capture)
    ctx = testing.Context(charm.MasakariCharm, meta=SPEC)
    secrets = case.secrets()
    with TALLY.case() as checks:
        state = case.state()
        for event in events:
            records.lines.clear()
            state = run(ctx, event, state)
            secrets += stats_passwords(host, secrets)
            status = state.unit_status
            assert isinstance(status, ops.StatusBase)
            outputs = [status.message, *records.lines, json.dumps(ctx.action_results or {})]
            checks.no_leak(secrets, outputs)
            check_files(checks, host, meant.get("sections"), secrets)
        last = events[-1]
        # Departed and broken change the relations: running them again is no replay.
        if last in EVENTS or last.startswith("relation_changed:"):
            before = adv.snapshot(host.root)
            host.commands.clear()
            run(ctx, last, state)
            checks.replay_is_noop(
                adv.differences(before, adv.snapshot(host.root))
                + adv.service_changes(host.commands)
            )


ENDPOINTS = ("shared-db", "amqp", "identity-service", "cluster", "certificates", "ha")
RELATION_EVENTS = [
    f"{kind}:{e}"
    for kind in ("relation_changed", "relation_departed", "relation_broken")
    for e in ENDPOINTS
]


@cases(200)
@given(case=CASES, event=st.sampled_from(EVENTS))
def test_any_deployment_and_event(monkeypatch, records, case, event):
    play(monkeypatch, records, case, [event])


@cases(200)
@given(case=CASES, event=st.sampled_from(RELATION_EVENTS))
def test_any_relation_event(monkeypatch, records, case, event):
    play(monkeypatch, records, case, [event])


@cases(100)
@given(
    case=CASES,
    events=st.lists(
        st.sampled_from([*EVENTS, *ACTIONS, *RELATION_EVENTS]), min_size=2, max_size=5
    ),
)
def test_any_sequence_of_events_and_actions(monkeypatch, records, case, events):
    play(monkeypatch, records, case, events)


@cases(300)
@given(config=CONFIG)
def test_invalid_config_changes_nothing_on_the_machine(monkeypatch, records, config):
    host = make_host(monkeypatch)
    ctx = testing.Context(charm.MasakariCharm, meta=SPEC)
    case = Case(config, DB_DATA, [AMQP_UNITS[0]], [KEYSTONE_DATA], None, None, None)
    with TALLY.case() as checks:
        out = ctx.run(ctx.on.config_changed(), case.state())
        checks.no_leak(case.secrets(), [out.unit_status.message, *records.lines])
        if out.unit_status.message.startswith("Invalid config"):
            assert host.commands == []
            assert not any(Path(host.root).rglob("*.conf"))
