"""The masakari-host relation: publishing a hypervisor and reading every unit's."""

from __future__ import annotations

import ops
from openstack_charm_lib import hypervisors
from openstack_charm_lib.hypervisors import Hypervisor
from ops import testing

META = {
    "name": "probe",
    "requires": {"hosts": {"interface": "masakari-host"}},
    "provides": {"registration": {"interface": "masakari-host"}},
}


class Probe(ops.CharmBase):
    """Publishes config on ``registration`` and reads ``hosts`` into ``seen``."""

    seen: hypervisors.Desired | None = None

    def __init__(self, framework):
        super().__init__(framework)
        framework.observe(self.on.config_changed, self._on_config)

    def _on_config(self, _):
        name = str(self.config.get("name", ""))
        wanted = Hypervisor(name, "rack-a", bool(self.config.get("reserved"))) if name else None
        for rel in self.model.relations["registration"]:
            hypervisors.publish(rel, self.unit, wanted)
        Probe.seen = hypervisors.read(self.model.relations["hosts"])


def run(config=None, units=None, local=None):
    ctx = testing.Context(
        Probe,
        meta=META,
        config={
            "options": {
                "name": {"type": "string", "default": ""},
                "reserved": {"type": "boolean", "default": False},
            }
        },
    )
    relations = [
        testing.Relation("registration", local_unit_data=local or {}),
        testing.Relation("hosts", remote_app_name="monitors", remote_units_data=units or {}),
    ]
    out = ctx.run(ctx.on.config_changed(), testing.State(config=config or {}, relations=relations))
    bag = next(r for r in out.relations if r.endpoint == "registration").local_unit_data
    assert Probe.seen is not None
    return {k: v for k, v in bag.items() if k in hypervisors.KEYS}, Probe.seen


def test_publish_and_withdraw():
    bag, _ = run({"name": "compute-1.maas", "reserved": True})
    assert bag == {"hostname": "compute-1.maas", "segment": "rack-a", "reserved": "true"}
    bag, _ = run({}, local=bag)
    assert bag == {}


def test_read_orders_units_and_skips_silent_ones():
    units = {
        2: {"hostname": "c2", "segment": "rack-a", "reserved": "true"},
        0: {"hostname": "c0", "segment": "rack-b"},
        1: {},
    }
    _, seen = run(units=units)
    assert seen.hosts == {
        "c0": Hypervisor("c0", "rack-b", False),
        "c2": Hypervisor("c2", "rack-a", True),
    }
    assert seen.problems == []


def test_read_reports_bad_bags_by_unit():
    units = {
        0: {"hostname": "-bad-", "segment": "s"},
        1: {"hostname": "c1", "segment": ""},
        2: {"hostname": "c2", "segment": "s", "reserved": "yes"},
        3: {"hostname": "c3", "segment": "s"},
        4: {"hostname": "c3", "segment": "other"},
        5: {"hostname": "c3", "segment": "s", "reserved": "false"},
    }
    _, seen = run(units=units)
    assert seen.hosts == {"c3": Hypervisor("c3", "s", False)}
    assert seen.problems == [
        "monitors/0 sent an invalid hostname '-bad-'",
        "monitors/1 sent an invalid segment name ''",
        "monitors/2 sent reserved='yes' (true or false)",
        "monitors/3 and monitors/4 both claim host c3 with different segment/reserved settings",
    ]


def test_segment_names():
    assert hypervisors.valid_segment_name("rack a-1")
    assert hypervisors.valid_segment_name("x" * 255)
    for bad in ("", " x", "x ", "x" * 256, "a\nb", "a\x7fb"):
        assert not hypervisors.valid_segment_name(bad)


def test_read_checks_each_field_whole_and_shows_it_cut_short():
    units = {
        0: {"hostname": "c0\n", "segment": "s"},
        1: {"hostname": "c1", "segment": "rack-a\n"},
        2: {"hostname": "c2", "segment": "rack\u2028a"},
        3: {"hostname": "c3", "segment": "s", "reserved": "true\n"},
        4: {"hostname": "x" * 5000, "segment": "s"},
        5: {"hostname": " c5", "segment": "s"},
    }
    _, seen = run(units=units)
    assert seen.hosts == {}
    assert seen.problems[:4] == [
        "monitors/0 sent an invalid hostname 'c0\\n'",
        "monitors/1 sent an invalid segment name 'rack-a\\n'",
        "monitors/2 sent an invalid segment name 'rack\\u2028a'",
        "monitors/3 sent reserved='true\\n' (true or false)",
    ]
    assert seen.problems[4] == f"monitors/4 sent an invalid hostname '{'x' * 56}..."
    assert len(seen.problems) == 6
