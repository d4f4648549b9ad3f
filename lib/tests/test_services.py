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


def test_pause_stops_disables_and_masks_every_service_whatever_its_state(tmp_path):
    host = FakeHost(tmp_path)
    host.running |= {"api"}
    host.enabled |= {"api", "crashed"}  # crashed: not running, but a boot would start it
    assert services.pause(host, ["api", "crashed", "absent"]) == ["api"]
    assert not host.running and not host.enabled
    assert host.masked == {"api", "crashed", "absent"}  # a mask needs no unit file
    host.reboot()
    assert not host.running


def test_resume_lifts_the_masks_and_leaves_starting_to_the_charm(tmp_path):
    host = FakeHost(tmp_path)
    services.pause(host, ["api", "engine"])
    assert services.resume(host, ["api", "engine"]) == ["api", "engine"]
    assert not host.masked and not host.running
    assert services.converge(host, ["api"], {"api"}) == []
    assert host.running == {"api"} and host.enabled == {"api"}
    host.reboot()
    assert host.running == {"api"}


def test_every_start_or_restart_also_enables(tmp_path):
    host = FakeHost(tmp_path)
    host.running |= {"restarted", "running"}
    assert services.converge(host, ["restarted", "running", "stopped"], {"restarted"}) == []
    assert host.enabled == {"restarted", "running", "stopped"}
    host.enabled.clear()
    assert services.ensure_running(host, "running") is False
    services.restart(host, "restarted")
    assert host.enabled == {"running", "restarted"}


def test_ensure_stopped_disables_a_stopped_service_a_boot_would_start(tmp_path):
    host = FakeHost(tmp_path)
    host.enabled.add("monitor")
    assert services.ensure_stopped(host, "monitor") is False  # it was not running
    assert not host.enabled
    host.clear()
    services.ensure_stopped(host, "monitor")
    assert not host.ran("systemctl", "disable")  # nothing left to do: no command


def test_ensure_all_stopped_asks_systemd_twice_and_acts_only_on_what_would_run(tmp_path):
    host = FakeHost(tmp_path)
    host.running.add("running")
    host.enabled |= {"running", "enabled"}
    assert services.ensure_all_stopped(host, ["running", "enabled", "off"]) == ["running"]
    assert not host.running and not host.enabled
    assert host.commands == [
        ["systemctl", "is-active", "running", "enabled", "off"],
        ["systemctl", "is-enabled", "running", "enabled", "off"],
        ["systemctl", "disable", "--now", "running"],
        ["systemctl", "disable", "--now", "enabled"],
    ]
    host.clear()
    assert services.ensure_all_stopped(host, ["running", "enabled", "off"]) == []
    assert len(host.commands) == 2  # the steady state: two questions, no change
    host.clear()
    assert services.ensure_all_stopped(host, []) == []
    assert host.commands == []


def test_enabled_states_asks_one_by_one_when_a_unit_file_is_missing(tmp_path):
    class NoFileHost(FakeHost):
        def _systemctl(self, args):
            code, out = super()._systemctl(args)
            if args[0] == "is-enabled" and "--quiet" not in args:
                out = "\n".join(out.split()[:-1]) + "\n"  # the missing unit prints nothing
            return code, out

    host = NoFileHost(tmp_path)
    host.enabled.add("api")
    assert services.enabled_states(host, ["api", "absent"]) == {"api": True, "absent": False}
    assert services.enabled_states(host, []) == {}


def test_the_fake_host_reports_each_new_process_and_runs_modelled_programs(tmp_path):
    host = FakeHost(tmp_path)
    host.maintainer_starts = {"pkg": ["engine"]}
    started: list[str] = []
    host.start_watchers.append(started.append)
    host.programs["engine-manage"] = lambda argv: (0, f"{argv[1]} done\n")
    host.run(["apt-get", "install", "-y", "pkg"])  # the postinst starts it
    host.run(["systemctl", "start", "engine"])  # already running: no new process
    host.run(["systemctl", "restart", "engine"])
    services.mask(host, "engine")
    host.available["pkg"] = "2.0"
    host.run(["apt-get", "dist-upgrade", "-y"])  # masked: the postinst cannot start it
    assert started == ["engine", "engine"]
    assert host.run(["engine-manage", "sync"]).stdout == "sync done\n"
    host.failing["engine-manage"] = 2
    assert host.run(["engine-manage", "sync"], check=False).returncode == 2
