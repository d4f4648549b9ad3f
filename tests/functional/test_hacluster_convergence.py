"""VIP changes converge in a real CIB: the masakari charm's ha bags through hacluster.

The masakari charm (its real code, through ops.testing) publishes its ``ha`` bag for
each hook; :mod:`hacluster_emulator` applies a bag the way hacluster's leader does, with
the real crmsh on a file-backed CIB, and ``crm_simulate`` places and starts what the
configuration asks for. For every VIP change (one to two, two to one keeping either,
changed, removed, and back and forth), in the opt-in topology (pacemaker-remote nodes
with ``enable-resources=false``: hacluster writes location rules) and the symmetric one,
with hacluster seeing every bag revision or only the last one:

- every current VIP is started, all on the same node, and no old VIP remains;
- further hooks of the charm publish the same bag, and further hacluster passes leave
  the CIB's configuration as it is.

A last test replays one→two with the payload logic of earlier charms and shows the VIPs
ending up on different nodes (the failure the charm's markers and colocation fix), then
that this charm's first bag after an upgrade brings them together.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import hacluster_emulator
import pytest
from conftest import masakari_unit_fixtures as fx
from openstack_charm_lib import hacluster
from openstack_charm_testing import FakeHost
from ops import testing

pytestmark = pytest.mark.skipif(
    not hacluster_emulator.available(), reason="crmsh is not installed"
)

MEMBERS = ["juju-m-0", "juju-m-1", "juju-m-2"]
REMOTES = {"compute-1.maas": "10.5.0.21", "compute-2.maas": "10.5.0.22"}
A, B, C = "10.5.0.100", "10.5.0.101", "10.5.0.102"
TOPOLOGIES = {"opt-in": (REMOTES, False), "symmetric": ({}, None)}


def vip_resource(vip: str) -> str:
    return hacluster.vip_resource_name("masakari", vip)


class MasakariUnit:
    """One masakari unit run hook after hook, keeping its state (stored, relation data)."""

    def __init__(self, root: Path, vips: list[str], bag: dict[str, str] | None = None):
        host = FakeHost(
            root,
            fqdn="juju-m-0.maas",
            series="noble",
            cpus=4,
            available=fx.PACKAGE_VERSIONS,
            service_ports=fx.SERVICE_PORTS,
        )
        host.installed.update(fx.PACKAGE_VERSIONS)
        self._host = host
        self.ctx = testing.Context(fx.charm.MasakariCharm)
        self.state = fx.full_state(
            config={"vip": " ".join(vips)},
            extra=[fx.ha_relation(local=bag)],
            app_data=fx.synced(),
        )

    def hook(self, vips: list[str] | None = None) -> dict[str, str]:
        """config-changed (with new VIPs) or update-status; the ha bag it leaves."""
        original = fx.charm.MasakariCharm.make_host
        fx.charm.MasakariCharm.make_host = lambda _self: self._host
        try:
            if vips is None:
                self.state = self.ctx.run(self.ctx.on.update_status(), self.state)
            else:
                state = dataclasses.replace(self.state, config={"vip": " ".join(vips)})
                self.state = self.ctx.run(self.ctx.on.config_changed(), state)
        finally:
            fx.charm.MasakariCharm.make_host = original
        return self.bag()

    def bag(self) -> dict[str, str]:
        rel = next(r for r in self.state.relations if r.endpoint == "ha")
        return dict(rel.local_unit_data)


@dataclasses.dataclass(frozen=True)
class Step:
    """A VIP change: the sets configured in turn; hacluster may see only the last bag."""

    name: str
    sets: tuple[tuple[str, ...], ...]
    unseen: bool = False  # hacluster never processes the bags of the earlier sets


# One deployment goes through every kind of change, each checked once converged.
JOURNEY = (
    Step("one-to-two", ((A, B),)),
    Step("two-to-one-keeping-first", ((A,),)),
    Step("one-to-the-same-two-again", ((A, B),)),
    Step("two-to-one-keeping-second", ((B,),)),
    Step("changed", ((C,),)),
    Step("there-and-back-unseen", ((A, C), (C,)), unseen=True),
    Step("changed-to-two-unseen", ((B, C), (A, B)), unseen=True),
    Step("removed", ((),)),
)


@pytest.fixture(scope="module", autouse=True)
def crm_server():
    """Stop the crm fork server the module's tests started."""
    yield
    hacluster_emulator.CRM.close()


def deployed(
    topology: str, vips: tuple[str, ...], tmp: Path
) -> tuple[hacluster_emulator.Cluster, MasakariUnit]:
    """A new unit with ``vips`` and a cluster that applied its bag (made once, copied)."""
    unit = MasakariUnit(tmp / "unit", list(vips))
    bag = unit.hook()
    if (topology, vips) not in _DEPLOYED:
        remotes, enable = TOPOLOGIES[topology]
        path = tmp / "deployed.xml"
        cluster = hacluster_emulator.Cluster(path, MEMBERS, remotes, enable)
        cluster.create()
        cluster.apply(bag)
        _DEPLOYED[(topology, vips)] = (cluster, bag)
    cluster, deployed_bag = _DEPLOYED[(topology, vips)]
    assert bag == deployed_bag
    return cluster.copy(tmp / "cib.xml"), unit


_DEPLOYED: dict[tuple[str, tuple[str, ...]], tuple[hacluster_emulator.Cluster, dict]] = {}


def change_converges(cluster: hacluster_emulator.Cluster, unit: MasakariUnit, step: Step) -> None:
    """Run ``step`` on both sides; its VIPs up together; replays change nothing."""
    bags = []
    for vips in step.sets:
        bags.append(unit.hook(list(vips)))
        bags.append(unit.hook())  # the next hook (keystone answering, update-status)
    for bag in bags[-1:] if step.unseen else bags:
        cluster.apply(bag)
    final = step.sets[-1]
    assert_vips_up_together(cluster, final, step.name)
    # Converged: more hooks on either side change neither the bag nor the CIB.
    configuration = cluster.configuration()
    assert unit.hook() == bags[-1], step.name
    assert unit.hook(list(final)) == bags[-1], step.name
    before = len(cluster.commands)
    cluster.apply(bags[-1])
    assert cluster.configuration() == configuration, (step.name, cluster.commands[before:])


def assert_vips_up_together(
    cluster: hacluster_emulator.Cluster, vips: tuple[str, ...], step: str
) -> None:
    placement = cluster.placement()
    wanted = {vip_resource(v) for v in vips}
    present = {
        r for r in placement.running if r.startswith("res_masakari_") and r.endswith("_vip")
    }
    context = (step, placement, cluster.show())
    assert present == wanted, context
    nodes = {placement.node_of(r) for r in wanted}
    assert None not in nodes, context
    assert len(nodes) <= 1, ("VIPs on different nodes", *context)
    assert nodes <= set(MEMBERS), context
    haproxy = placement.running.get("res_masakari_haproxy")
    assert haproxy and set(haproxy) <= set(MEMBERS), context
    configuration = cluster.configuration()
    for gone in {A, B, C} - set(vips):
        assert vip_resource(gone) not in configuration, context
    assert not cluster.verify(), (step, cluster.verify())


@pytest.mark.parametrize("topology", sorted(TOPOLOGIES))
def test_every_vip_change_converges_and_stays(tmp_path, topology):
    cluster, unit = deployed(topology, (A,), tmp_path)
    assert_vips_up_together(cluster, (A,), "deployed")
    for step in JOURNEY:
        change_converges(cluster, unit, step)


def test_a_two_vip_group_of_an_earlier_charm_converges(tmp_path):
    """An upgraded deployment's two-VIP ``grp_masakari_vips``, down to its second VIP."""
    cluster, unit = deployed("opt-in", (A, B), tmp_path)
    assert cluster.ids("group") == {"grp_masakari_vips"}
    change_converges(cluster, unit, Step("two-to-one-keeping-second", ((B,),)))


def legacy_payload(bag: dict[str, str], previous: dict[str, str]) -> dict[str, str]:
    """``bag`` as earlier charms built it.

    The VIPs in ``grp_masakari_vips``; marked for deletion only what ``previous`` (the
    bag of the hook before) defined and ``bag`` does not, and the group if it changed.
    """
    decode = hacluster_emulator.parse_data
    resources = decode(bag, "resources")
    vips = sorted(r for r in resources if r.endswith("_vip"))
    groups = {"grp_masakari_vips": " ".join(vips)} if vips else {}
    delete = {"res_masakari_eth0_vip"} | set(decode(previous, "resources"))
    delete |= {g for g, m in decode(previous, "groups").items() if groups.get(g) != m}
    return {
        **bag,
        "json_groups": json.dumps(groups, sort_keys=True),
        "json_colocations": "{}",
        "json_delete_resources": json.dumps(sorted(delete - set(resources))),
    }


def test_earlier_payloads_leave_the_vips_apart_and_upgrading_heals(tmp_path):
    """The failure reproduced with earlier charms' bags; this charm's next bag heals it."""
    cluster, unit = deployed("opt-in", (A,), tmp_path)
    first = unit.bag()
    second = legacy_payload(unit.hook([A, B]), first)
    cluster.apply(second)
    third = legacy_payload(unit.hook(), second)
    cluster.apply(third)
    placement = cluster.placement()
    assert not cluster.ids("group"), cluster.show()  # deleted, never recreated
    nodes = {placement.node_of(vip_resource(v)) for v in (A, B)}
    assert len(nodes) == 2, placement  # unconstrained: spread over two nodes

    upgraded = MasakariUnit(tmp_path / "upgraded", [A, B], bag=third)
    cluster.apply(upgraded.hook())
    assert_vips_up_together(cluster, (A, B), "upgraded")
    configuration = cluster.configuration()
    cluster.apply(upgraded.hook())
    assert cluster.configuration() == configuration
