"""apply_when_changed digests any inputs a charm can hold, without raising."""

from __future__ import annotations

import dataclasses

import yaml
from openstack_charm_lib.rendering import ManagedFile, apply_when_changed
from openstack_charm_testing import FakeHost


@dataclasses.dataclass(frozen=True)
class Config:
    entries: list


def files():
    return [ManagedFile("/etc/x/a.conf", "a=1\n")]


def test_inputs_with_non_string_keys_and_recursive_aliases_are_digested(tmp_path):
    host = FakeHost(tmp_path)
    record: dict = {}
    mixed = yaml.safe_load("- {1: a, b: c, null: d, 2.5: e, true: f}")
    recursive = yaml.safe_load("- &a [x, *a]")
    mapping_cycle = yaml.safe_load("&m {self: *m}")
    for inputs in ([Config(mixed)], [Config(recursive)], mapping_cycle, {1, "1"}, object()):
        assert apply_when_changed(host, record, inputs, files).changed in ([], ["/etc/x/a.conf"])
    # Same inputs again: nothing is built.
    built = []
    apply_when_changed(host, record, [Config(mixed)], files)
    again = apply_when_changed(host, record, [Config(mixed)], lambda: built.append(1) or files())
    assert again.changed == [] and built == []


def test_keys_of_different_types_are_different_inputs(tmp_path):
    host = FakeHost(tmp_path)
    record: dict = {}
    apply_when_changed(host, record, {1: "a"}, files)
    built = []
    apply_when_changed(host, record, {"1": "a"}, lambda: built.append(1) or files())
    assert built == [1]
