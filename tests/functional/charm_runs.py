"""Run the suite's charms (their real code, through ops.testing) against local services.

Each function feeds a charm the relation data its real peers would send, pointing at the
services this test runs, and returns what the charm wrote or published. Files land under
a fake root (``FakeHost``); host paths are redirected with the charms' own
``config-flags``, the way an operator would.
"""

from __future__ import annotations

import ast
import base64
import collections
import dataclasses
import importlib.util
import json
import sys
import time
from pathlib import Path
from types import ModuleType

import release_matrix
from openstack_charm_lib.host import Host
from openstack_charm_lib.relations import masakari_host
from openstack_charm_lib.relations.amqp import rabbitmq_answer
from openstack_charm_lib.relations.identity_credentials import credentials_answer
from openstack_charm_lib.relations.identity_service import keystone_answer
from openstack_charm_lib.relations.shared_db import mysql_answer
from openstack_charm_testing import FakeHost
from ops import testing

ROOT = Path(__file__).resolve().parents[2]
# The masakari unit runs the stack's release, on the series and origin a unit of it has.
RELEASE = release_matrix.stack_release()
SERIES, ORIGIN = release_matrix.STACK_RELEASES[RELEASE]
_LOADED: dict[str, ModuleType] = {}


def load_charm(name: str) -> ModuleType:
    """A charm's ``charm.py`` imported as ``<name>_charm`` from its staged tree."""
    if name not in _LOADED:
        charm_dir = ROOT / "charms" / name
        for path in (charm_dir / "lib", charm_dir / "src"):
            if str(path) not in sys.path:
                sys.path.insert(0, str(path))
        # The fake machine; after the staged library, which must win.
        if str(ROOT / "lib") not in sys.path:
            sys.path.append(str(ROOT / "lib"))
        module_name = f"{name.replace('-', '_')}_charm"
        spec = importlib.util.spec_from_file_location(module_name, charm_dir / "src" / "charm.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
        _LOADED[name] = module
    return _LOADED[name]


class RealFilesHost(FakeHost):
    """Files written with real ownership; packages and services still simulated."""

    chown = Host.chown
    stat_owner_mode = Host.stat_owner_mode

    def write_file(self, path, content, *, owner="root", group="root", mode=0o644):
        return Host.write_file(self, path, content, owner=owner, group=group, mode=mode)


def hacluster_decode(value: str):
    """Hacluster's parse_data: JSON first, then a Python literal."""
    try:
        return json.loads(value)
    except ValueError:
        return ast.literal_eval(value)


def _context(name: str, charm_class: str, host: FakeHost) -> testing.Context:
    module = load_charm(name)
    cls = getattr(module, charm_class)
    cls.make_host = lambda self: host
    return testing.Context(cls)


def network(name: str, address: str) -> testing.Network:
    """A binding on ``address`` in a /24."""
    cidr = address.rsplit(".", 1)[0] + ".0/24"
    return testing.Network(
        name,
        bind_addresses=[testing.BindAddress([testing.Address(address, cidr=cidr)])],
        ingress_addresses=[address],
        egress_subnets=[cidr],
    )


def _pacemaker_remote_run(root: Path, key: bytes, address: str, hostname: str, extra=()):
    """config-changed with hacluster's key (and ``extra`` relations): the host and state."""
    host = RealFilesHost(root, fqdn=hostname, service_ports={"pacemaker_remote": [3121]})
    host.installed.update({"pacemaker-remote": "2.1.5", "resource-agents": "4.12"})
    if extra:
        from openstack_charm_testing import consumers

        consumers.with_nrpe_installed(host)
    ctx = _context("pacemaker-remote", "PacemakerRemoteCharm", host)
    relation = testing.Relation(
        "pacemaker-remote",
        remote_app_name="hacluster",
        remote_units_data={0: {"pacemaker-key": base64.b64encode(key).decode()}},
    )
    state = testing.State(
        relations=[
            testing.SubordinateRelation("juju-info", remote_app_name="nova-compute"),
            relation,
            testing.SubordinateRelation("pacemaker-node", remote_app_name="masakari-monitors"),
            *extra,
        ],
        networks=[network("pacemaker-remote", address)],
    )
    out = ctx.run(ctx.on.config_changed(), state)
    assert out.unit_status.name == "active", out.unit_status
    return host, out


def run_pacemaker_remote(root: Path, key: bytes, address: str, hostname: str) -> dict:
    """config-changed with hacluster's key; returns the bag as hacluster decodes it."""
    _, out = _pacemaker_remote_run(root, key, address, hostname)
    bag = next(r for r in out.relations if r.endpoint == "pacemaker-remote").local_unit_data
    keys = ("remote-hostname", "remote-ip", "stonith-hostname", "enable-resources")
    decoded = {k: hacluster_decode(v) for k, v in bag.items() if k in keys}
    # What run_masakari_monitors is given on pacemaker-node: the name hacluster got.
    node = next(r for r in out.relations if r.endpoint == "pacemaker-node").local_unit_data
    assert node["node-name"] == decoded["remote-hostname"] == hostname
    return decoded


def watch_pacemaker_remote(root: Path, key: bytes, address: str, hostname: str) -> WatchedUnit:
    """The pacemaker-remote unit with nrpe-external-master related: what nrpe gets."""
    from openstack_charm_testing import consumers

    host, _ = _pacemaker_remote_run(root, key, address, hostname, [consumers.nrpe_relation()])
    return _watched(host, sys.modules["remote_node_health"], {})


def _masakari_relations(
    services: dict, app_data: dict | None, synced: str | None = RELEASE
) -> list:
    """What mysql-router, rabbitmq-server and keystone answer, pointing at ``services``.

    ``synced`` is the release the peers say the schema was migrated to (None: never).
    """
    keystone_url = f"http://127.0.0.1:{services['keystone_port']}"
    keystone = keystone_answer(
        keystone_url, services["masakari_password"], project_id=services["project_id"]
    )
    return [
        testing.Relation(
            "shared-db",
            remote_units_data={
                0: mysql_answer(services["db_password"], "masakari/0", port=services["mysql_port"])
            },
        ),
        testing.Relation(
            "amqp",
            remote_units_data={0: rabbitmq_answer("127.0.0.1", services["rabbit_password"])},
        ),
        testing.Relation("identity-service", remote_units_data={0: keystone}),
        testing.PeerRelation(
            "cluster",
            local_app_data={
                **({"db-synced-release": synced} if synced else {}),
                **(app_data or {}),
            },
        ),
    ]


def _masakari_host(root: Path) -> FakeHost:
    load_charm("masakari")
    workload = sys.modules["masakari_workload"]
    host = FakeHost(
        root,
        fqdn="masakari-0.maas",
        series=SERIES,
        service_ports={
            "haproxy": [15868, 8404, 8405],
            "apache2": [15858, 15848],
            "memcached": [11211],
        },
    )
    packages = [*workload.PACKAGES, workload.VERSION_PACKAGE]
    version = release_matrix.RELEASES[RELEASE].masakari
    host.installed.update(dict.fromkeys(packages, f"{version}-0ubuntu1"))
    return host


def _masakari_state(
    services: dict, config: dict, extra=(), app_data=None, synced: str | None = RELEASE
) -> testing.State:
    return testing.State(
        leader=True,
        config={"openstack-origin": ORIGIN, **config},
        relations=[*_masakari_relations(services, app_data, synced), *extra],
        networks=[
            network(n, "127.0.0.1")
            for n in ("cluster", "public", "internal", "admin", "shared-db")
        ],
    )


def new_masakari_state(services: dict, config: dict) -> testing.State:
    """A new masakari leader whose relations answer as in :func:`run_masakari`.

    No release was migrated yet: its first pass runs the leader's db sync.
    """
    return _masakari_state(services, config, synced=None)


def masakari_context(host: FakeHost) -> testing.Context:
    """A context of the masakari charm whose machine is ``host``."""
    return _context("masakari", "MasakariCharm", host)


@dataclasses.dataclass(frozen=True)
class MasakariUnit:
    """A masakari unit after a hook: its files under ``root`` and what it published."""

    root: Path  # the unit's filesystem (masakari.conf, the site, the WSGI entry, haproxy.cfg)
    identity_service: dict[str, str]  # its bag on identity-service, as keystone reads it


def run_masakari(root: Path, services: dict, config: dict) -> MasakariUnit:
    """The masakari charm with mysql-router, rabbitmq and keystone answers; what it left."""
    host = _masakari_host(root)
    ctx = _context("masakari", "MasakariCharm", host)
    out = ctx.run(ctx.on.config_changed(), _masakari_state(services, config))
    assert out.unit_status.name in ("active", "blocked"), out.unit_status
    published = next(r for r in out.relations if r.endpoint == "identity-service")
    return MasakariUnit(host.path("/"), dict(published.local_unit_data))


@dataclasses.dataclass(frozen=True)
class WatchedUnit:
    """A unit related to its watchers (nrpe, a COS collector): what they get."""

    root: Path
    cos_agent: dict  # the unit's cos-agent bag as the collector decodes it ({}: unrelated)
    checks: dict[str, str]  # nrpe command name -> its line, plugins under ``root``
    daemon_argv: list[str]  # the health daemon's ExecStart, its files under ``root``
    daemon_config: Path  # the configuration the charm wrote for it, under ``root``


def _watched(host: FakeHost, daemon, cos_agent: dict) -> WatchedUnit:
    """What ``host`` holds for nrpe and for the charm's health daemon module ``daemon``."""
    from openstack_charm_testing import consumers

    plugins = "/usr/local/lib/nagios/plugins/"
    checks = {
        name: line.replace(plugins, f"{host.path(plugins)}/")
        for text in consumers.nrpe_files(host).values()
        for name, line in consumers.nrpe_commands(text).items()
    }
    entry = host.path(daemon.DAEMON_DIR) / daemon.COPIED_MODULES[0].name
    config = host.path(daemon.CONFIG)
    argv = ["/usr/bin/python3", str(entry), "--config", str(config)]
    return WatchedUnit(host.path("/"), cos_agent, checks, argv, config)


def watch_masakari(root: Path, services: dict, config: dict) -> WatchedUnit:
    """The masakari leader with cos-agent and nrpe-external-master related; what it wrote."""
    from openstack_charm_testing import consumers

    load_charm("masakari")
    exporter = sys.modules["masakari_exporter"]
    host = consumers.with_nrpe_installed(_masakari_host(root))
    cos = consumers.cos_agent_relation(subordinate=False)
    nrpe_rel = consumers.nrpe_relation()
    ctx = _context("masakari", "MasakariCharm", host)
    out = ctx.run(ctx.on.config_changed(), _masakari_state(services, config, [cos, nrpe_rel]))
    assert out.unit_status.name == "active", out.unit_status
    bag = consumers.consumer_decode(out.get_relation(cos.id).local_unit_data)
    return _watched(host, exporter, bag)


@dataclasses.dataclass
class RegistrationPass:
    """One masakari leader hook with hypervisors related: what it did and cost."""

    status: object
    app_data: dict  # the peer relation's app data after the hook (the managed record)
    calls: dict[str, int]  # API calls by kind, token included
    writes: int
    seconds: float


def register_hypervisors(
    root: Path,
    services: dict,
    bags: dict[str, list[dict]],
    config: dict | None = None,
    app_data: dict | None = None,
) -> RegistrationPass:
    """update-status on the masakari leader with one ``hosts`` relation per monitors app.

    ``bags`` maps a masakari-monitors application name to what its units published.
    The charm talks to the real keystone and masakari-api.
    """
    module = load_charm("masakari")
    import masakari_api

    clients: list = []

    def recording_client(*args, **kwargs):
        clients.append(masakari_api.MasakariApi(*args, **kwargs))
        return clients[-1]

    cls = module.MasakariCharm
    cls.api_factory = recording_client
    try:
        ctx = _context("masakari", "MasakariCharm", _masakari_host(root))
        state = _masakari_state(services, config or {}, _hosts_relations(bags), app_data)
        started = time.monotonic()
        out = ctx.run(ctx.on.update_status(), state)
        seconds = time.monotonic() - started
    finally:
        cls.api_factory = masakari_api.MasakariApi
    peers = next(r for r in out.relations if r.endpoint == "cluster")
    calls = sum((c.calls for c in clients), collections.Counter())
    return RegistrationPass(
        out.unit_status,
        dict(peers.local_app_data),
        dict(calls),
        sum(c.writes for c in clients),
        seconds,
    )


def _hosts_relations(bags: dict[str, list[dict]]) -> list:
    return [
        testing.Relation("hosts", remote_app_name=app, remote_units_data=dict(enumerate(units)))
        for app, units in bags.items()
    ]


def run_masakari_action(
    root: Path,
    services: dict,
    name: str,
    params: dict,
    app_data: dict | None = None,
    bags: dict[str, list[dict]] | None = None,
) -> dict:
    """A masakari action against the real API; its results (ActionFailed propagates).

    ``bags`` are the monitors units related on ``hosts``, as in :func:`register_hypervisors`.
    """
    ctx = _context("masakari", "MasakariCharm", _masakari_host(root))
    state = _masakari_state(services, {}, _hosts_relations(bags or {}), app_data)
    ctx.run(ctx.on.action(name, params=params), state)
    return dict(ctx.action_results or {})


def run_masakari_monitors(
    root: Path, services: dict, hostname: str, config: dict, service_down_time: int = 4
) -> tuple[Path, dict]:
    """masakari-monitors with keystone's answer, on a hypervisor nova knows as ``hostname``.

    Its nova.conf says ``service_down_time``. Returns its config file and what it
    published on ``registration``.
    """
    host = FakeHost(root, fqdn=hostname)
    # The nova test double sees a failed service down at once unless a test says when
    # its heartbeats stopped; the default fits the suites' evacuation-delay 1 + host
    # monitoring 3 s x 1.
    host.write_file(
        "/etc/nova/nova.conf",
        f"[DEFAULT]\nhost = {hostname}\nservice_down_time = {service_down_time}\n",
    )
    host.installed.update(
        {"masakari-host-monitor": "17.0.0", "masakari-instance-monitor": "17.0.0"}
    )
    host.running.add("pacemaker_remote")
    ctx = _context("masakari-monitors", "MasakariMonitorsCharm", host)
    credentials = credentials_answer(
        f"http://127.0.0.1:{services['keystone_port']}",
        services["monitors_password"],
        project_id=services["project_id"],
    )
    state = testing.State(
        config=config,
        relations=[
            testing.SubordinateRelation("container", remote_app_name="nova-compute"),
            testing.Relation("identity-credentials", remote_units_data={0: credentials}),
            testing.Relation("registration", remote_app_name="masakari"),
            # pacemaker-remote on the same machine, registered under nova's name too
            # (run_pacemaker_remote with the same hostname publishes exactly this).
            testing.SubordinateRelation(
                "pacemaker-node",
                remote_app_name="pacemaker-remote",
                remote_unit_data={"node-name": hostname},
            ),
        ],
    )
    out = ctx.run(ctx.on.config_changed(), state)
    assert out.unit_status.name == "active", out.unit_status
    published = next(r for r in out.relations if r.endpoint == "registration").local_unit_data
    keys = (masakari_host.VERSION_KEY, *masakari_host.KEYS, *masakari_host.OPTIONAL_KEYS)
    bag = {k: v for k, v in published.items() if k in keys}
    return host.path("/etc/masakarimonitors/masakarimonitors.conf"), bag
