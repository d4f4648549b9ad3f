"""The masakari-host relation: publishing a hypervisor and reading every unit's."""

from __future__ import annotations

import ops
from hypothesis import HealthCheck, given, settings
from openstack_charm_lib.relations import masakari_host
from openstack_charm_lib.relations.masakari_host import Hypervisor
from openstack_charm_testing import adversarial as adv
from ops import testing

META = {
    "name": "probe",
    "requires": {"hosts": {"interface": "masakari-host"}},
    "provides": {"registration": {"interface": "masakari-host"}},
}


class Probe(ops.CharmBase):
    """Publishes config on ``registration`` and reads ``hosts`` into ``seen``."""

    seen: masakari_host.Desired | None = None

    def __init__(self, framework):
        super().__init__(framework)
        framework.observe(self.on.config_changed, self._on_config)

    def _on_config(self, _):
        name = str(self.config.get("name", ""))
        wanted = Hypervisor(name, "rack-a", bool(self.config.get("reserved"))) if name else None
        for rel in self.model.relations["registration"]:
            masakari_host.publish(rel, self.unit, wanted)
        Probe.seen = masakari_host.read(self.model.relations["hosts"])


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
    keys = (masakari_host.VERSION_KEY, *masakari_host.KEYS)
    return {k: v for k, v in bag.items() if k in keys}, Probe.seen


def test_publish_and_withdraw():
    bag, _ = run({"name": "compute-1.maas", "reserved": True})
    assert bag == {
        "protocol-version": "1",
        "hostname": "compute-1.maas",
        "segment": "rack-a",
        "reserved": "true",
    }
    bag, _ = run({}, local=bag)
    assert bag == {}


def test_a_bag_without_a_version_reads_as_version_1():
    units = {
        0: {"hostname": "c0", "segment": "s"},
        1: {"protocol-version": "1", "hostname": "c1", "segment": "s"},
    }
    _, seen = run(units=units)
    assert set(seen.hosts) == {"c0", "c1"}
    assert seen.problems == []


def test_a_newer_or_unreadable_version_skips_the_unit_and_says_what_to_upgrade():
    units = {
        0: {"protocol-version": "2", "hostname": "c0", "segment": "s"},
        1: {"protocol-version": "one", "hostname": "c1", "segment": "s"},
        2: {"protocol-version": "1", "hostname": "c2", "segment": "s"},
    }
    _, seen = run(units=units)
    assert set(seen.hosts) == {"c2"}
    assert seen.problems == [
        "monitors/0 speaks masakari-host protocol 2, this masakari charm reads up to 1: "
        "upgrade the masakari charm (juju refresh masakari)",
        "monitors/1 sent protocol-version='one' (a whole number)",
    ]


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
    assert masakari_host.valid_segment_name("rack a-1")
    assert masakari_host.valid_segment_name("x" * 255)
    for bad in ("", " x", "x ", "x" * 256, "a\nb", "a\x7fb"):
        assert not masakari_host.valid_segment_name(bad)


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


def published_facts(hypervisor):
    """The bag ``publish`` leaves for ``hypervisor``, including the optional keys."""
    rel = testing.Relation("registration")
    ctx = testing.Context(Probe, meta=META)
    with ctx(ctx.on.update_status(), testing.State(relations=[rel])) as mgr:
        relation = mgr.charm.model.get_relation("registration")
        assert relation is not None
        masakari_host.publish(relation, mgr.charm.unit, hypervisor)
        out = mgr.run()
    return out.get_relation(rel.id).local_unit_data


def test_recovery_facts_are_published_and_read_back():
    facts = Hypervisor(
        "c0",
        "s",
        False,
        service_down_time=60,
        resume_guests_state_on_host_boot=True,
        detection_time=180,
    )
    bag = published_facts(facts)
    assert {k: bag[k] for k in masakari_host.OPTIONAL_KEYS} == {
        "service-down-time": "60",
        "resume-guests-state-on-host-boot": "true",
        "detection-time": "180",
    }
    _, seen = run(units={0: dict(bag)})
    read = seen.hosts["c0"]
    assert (read.service_down_time, read.resume_guests_state_on_host_boot) == (60, True)
    assert read.detection_time == 180
    assert seen.problems == []


def test_unknown_recovery_facts_are_not_published():
    bag = published_facts(Hypervisor("c0", "s", False))
    assert not set(masakari_host.OPTIONAL_KEYS) & set(bag)


def test_units_without_recovery_facts_read_as_unknown():
    _, seen = run(units={0: {"hostname": "c0", "segment": "s"}})
    read = seen.hosts["c0"]
    assert read.service_down_time is None
    assert read.resume_guests_state_on_host_boot is None
    assert read.detection_time is None


def test_bad_recovery_facts_are_problems_naming_unit_and_key_and_read_as_unknown():
    units = {
        0: {"hostname": "c0", "segment": "s", "service-down-time": "-5"},
        1: {"hostname": "c1", "segment": "s", "detection-time": "6\n0"},
        2: {"hostname": "c2", "segment": "s", "resume-guests-state-on-host-boot": "yes"},
        3: {"hostname": "c3", "segment": "s", "service-down-time": "9" * 5000},
        4: {"hostname": "c4", "segment": "s", "detection-time": "0"},
    }
    _, seen = run(units=units)
    assert set(seen.hosts) == {"c0", "c1", "c2", "c3", "c4"}  # still registered
    assert seen.problems[:3] == [
        "monitors/0 sent service-down-time='-5' (whole seconds, 1-86400)",
        "monitors/1 sent detection-time='6\\n0' (whole seconds, 1-86400)",
        "monitors/2 sent resume-guests-state-on-host-boot='yes' (true or false)",
    ]
    assert seen.problems[3].startswith("monitors/3 sent service-down-time='999")
    assert len(seen.problems[3]) < 120
    assert seen.problems[4] == "monitors/4 sent detection-time='0' (whole seconds, 1-86400)"
    assert all(
        h.service_down_time is None and h.detection_time is None for h in seen.hosts.values()
    )
    assert seen.hosts["c2"].resume_guests_state_on_host_boot is None


def test_recovery_facts_do_not_make_two_claims_of_one_host_disagree():
    units = {
        0: {"hostname": "c0", "segment": "s", "service-down-time": "60"},
        1: {"hostname": "c0", "segment": "s"},
    }
    _, seen = run(units=units)
    assert seen.problems == []
    assert seen.hosts["c0"].service_down_time == 60


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    down=adv.relation_value("60", "1", "86400"),
    detection=adv.relation_value("20", "180"),
    resume=adv.relation_value("true", "false"),
)
def test_hostile_recovery_facts_are_typed_facts_or_named_problems(down, detection, resume):
    bag = {
        "hostname": "c0",
        "segment": "s",
        "service-down-time": down,
        "detection-time": detection,
        "resume-guests-state-on-host-boot": resume,
    }
    _, seen = run(units={0: bag})
    host = seen.hosts["c0"]
    for key, number in (
        ("service-down-time", host.service_down_time),
        ("detection-time", host.detection_time),
    ):
        if number is None:
            assert any(f"monitors/0 sent {key}=" in p for p in seen.problems)
        else:
            assert 1 <= number <= masakari_host.MAX_SECONDS and str(number) == bag[key]
    assert host.resume_guests_state_on_host_boot in (None, True, False)
    assert all(len(p) < 200 for p in seen.problems)
