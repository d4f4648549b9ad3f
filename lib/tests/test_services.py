"""Masking: a service held off until it may run, with no command when nothing changes."""

from __future__ import annotations

from openstack_charm_lib import services
from openstack_charm_testing import FakeHost


def test_mask_stops_and_holds_a_service_until_unmasked(tmp_path):
    host = FakeHost(tmp_path)
    host.running.add("engine")
    host.enabled.add("engine")
    assert services.mask(host, "engine") is True
    assert "engine" not in host.running
    assert services.is_masked(host, "engine")
    host.clear()
    assert services.mask(host, "engine") is False  # already masked: only the query runs
    assert host.commands == [["systemctl", "is-enabled", "engine"]]
    assert services.converge(host, ["engine"], set()) == ["engine"]  # systemd refuses
    assert services.unmask(host, "engine") is True
    assert "engine" not in host.running  # unmasking starts nothing
    assert services.converge(host, ["engine"], set()) == []
    assert "engine" in host.running
    host.clear()
    assert services.unmask(host, "engine") is False
    assert host.commands == [["systemctl", "is-enabled", "engine"]]


def test_a_service_is_masked_before_its_package_exists(tmp_path):
    host = FakeHost(tmp_path)
    host.maintainer_starts = {"pkg": ["engine"]}
    services.mask(host, "engine")
    host.run(["apt-get", "install", "-y", "pkg"])
    assert "engine" not in host.running
    services.unmask(host, "engine")
    host.run(["apt-get", "dist-upgrade", "-y"])  # nothing new: no maintainer script runs
    assert "engine" not in host.running
    host.available["pkg"] = "2.0"
    host.run(["apt-get", "dist-upgrade", "-y"])
    assert "engine" in host.running
