"""The pacemaker-node relation: the provider's node name, published and read back."""

from __future__ import annotations

import ops
import pytest
from openstack_charm_lib import pacemaker_node
from openstack_charm_lib.relations import NotReady, Ready
from ops import testing

META = {
    "name": "probe",
    "subordinate": True,
    "requires": {
        "juju-info": {"interface": "juju-info", "scope": "container"},
        "pacemaker-node": {"interface": "pacemaker-node-name", "scope": "container"},
    },
    "provides": {"node": {"interface": "pacemaker-node-name", "scope": "container"}},
}


class Probe(ops.CharmBase):
    """Publishes its ``name`` option on ``node`` and reads ``pacemaker-node`` into ``seen``."""

    seen: Ready[str] | NotReady | None = None

    def __init__(self, framework):
        super().__init__(framework)
        framework.observe(self.on.config_changed, self._on_config)

    def _on_config(self, _):
        name = str(self.config.get("name", "")) or None
        for rel in self.model.relations["node"]:
            pacemaker_node.publish(rel, self.unit, name)
        relation = self.model.get_relation("pacemaker-node")
        Probe.seen = pacemaker_node.read(relation) if relation else None


def run(config=None, remote=None, local=None):
    ctx = testing.Context(
        Probe, meta=META, config={"options": {"name": {"type": "string", "default": ""}}}
    )
    relations = [
        testing.SubordinateRelation("juju-info", remote_app_name="nova-compute"),
        testing.SubordinateRelation(
            "node", remote_app_name="masakari-monitors", local_unit_data=local or {}
        ),
        testing.SubordinateRelation(
            "pacemaker-node", remote_app_name="pacemaker-remote", remote_unit_data=remote or {}
        ),
    ]
    out = ctx.run(ctx.on.config_changed(), testing.State(config=config or {}, relations=relations))
    bag = next(r for r in out.relations if r.endpoint == "node").local_unit_data
    return bag.get(pacemaker_node.KEY), Probe.seen


def test_publishes_the_name_and_withdraws_it():
    published, _ = run({"name": "compute-1.maas"})
    assert published == "compute-1.maas"
    published, _ = run({}, local={"node-name": "compute-1.maas"})
    assert published is None


def test_reads_a_published_host_name():
    _, seen = run(remote={"node-name": "compute-1.maas"})
    assert seen == Ready("compute-1.maas")


def test_waits_until_the_provider_publishes():
    _, seen = run(remote={})
    assert seen == NotReady(
        "pacemaker-node: waiting for pacemaker-remote to publish its node name"
    )


@pytest.mark.parametrize(
    "value", ["compute-1.maas\n", "compute-1.maas\r\nx", " compute-1", "a b", "::1", "x" * 254]
)
def test_a_value_that_is_not_one_host_name_is_a_reason_without_the_value(value):
    _, seen = run(remote={"node-name": value})
    assert seen == NotReady(
        "pacemaker-node: pacemaker-remote/0 sent an invalid node-name (a host name)"
    )
