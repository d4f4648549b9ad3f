"""Skipping rendering when nothing changed, and noticing files changed behind our back."""

from __future__ import annotations

from openstack_charm_lib import services
from openstack_charm_lib.rendering import ManagedFile, apply_when_changed
from openstack_charm_testing import FakeHost


def test_unchanged_inputs_skip_building_until_a_file_drifts(tmp_path):
    host = FakeHost(tmp_path)
    record: dict = {}
    built = []

    def build():
        built.append(1)
        return [ManagedFile("/etc/x/a.conf", "a=1\n", group="x", mode=0o640, restarts=("x",))]

    first = apply_when_changed(host, record, "inputs-1", build)
    assert first.restarts == ["x"] and len(built) == 1
    again = apply_when_changed(host, record, "inputs-1", build)
    assert again.changed == [] and len(built) == 1  # nothing rendered
    host.path("/etc/x/a.conf").write_text("edited by hand\n")
    repaired = apply_when_changed(host, record, "inputs-1", build)
    assert repaired.changed == ["/etc/x/a.conf"] and len(built) == 2
    host.path("/etc/x/a.conf").chmod(0o644)
    fixed = apply_when_changed(host, record, "inputs-1", build)
    assert fixed.restarts == [] and len(built) == 3  # a mode fix restarts nothing
    assert host.owner_of("/etc/x/a.conf") == ("root", "x", 0o640)
    host.remove_file("/etc/x/a.conf")
    assert apply_when_changed(host, record, "inputs-1", build).changed == ["/etc/x/a.conf"]
    assert apply_when_changed(host, record, "inputs-2", build).changed == []
    assert len(built) == 5


class OneAtATime(FakeHost):
    """A systemctl that answers is-active with an exit code only (no state lines)."""

    def run(self, argv, *, check=True, env=None, timeout=None):
        proc = super().run(argv, check=check, env=env, timeout=timeout)
        if list(argv[:2]) == ["systemctl", "is-active"]:
            proc.stdout = ""
        return proc


def test_active_states_asks_once_and_falls_back_to_one_by_one(tmp_path):
    host = FakeHost(tmp_path)
    host.running.add("a")
    assert services.active_states(host, ["a", "b"]) == {"a": True, "b": False}
    assert len(host.ran("systemctl", "is-active")) == 1
    assert services.active_states(host, []) == {}
    odd = OneAtATime(tmp_path)
    odd.running.add("a")
    assert services.active_states(odd, ["a", "b"]) == {"a": True, "b": False}
    assert len(odd.commands) == 3  # the unusable answer, then one call per service
