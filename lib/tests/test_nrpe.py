"""nrpe-external-master: the files nrpe and Nagios read, parsed the way they parse them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from openstack_charm_lib import nrpe
from openstack_charm_lib.host import Host
from openstack_charm_lib.nrpe import Check
from openstack_charm_lib.rendering import UnsafeValueError, apply_files
from openstack_charm_testing.consumers import nagios_objects, nrpe_commands

CHECKS = [
    Check(
        "masakari-engine",
        "process check {masakari/0}",
        nrpe.plugin_command("check_systemd_units.py", "masakari-engine"),
    ),
    Check(
        "masakari_hosts_on_maintenance",
        "Hosts on maintenance {masakari/0}",
        nrpe.plugin_command(
            "check_exporter_metric.py",
            "--url",
            "http://127.0.0.1:9868/metrics",
            "--family",
            "masakari_host_on_maintenance",
            "--describe",
            "hosts on maintenance",
            "--critical",
            "1",
        ),
    ),
]
HOST = "juju-masakari-0"


def files(checks=CHECKS, **overrides) -> dict[str, nrpe.ManagedFile]:
    kwargs = {
        "nagios_context": "juju",
        "servicegroups": "",
        "nagios_hostname": HOST,
        "managed_by": "masakari",
        **overrides,
    }
    return {f.path: f for f in nrpe.check_files(checks, **kwargs)}


def test_each_check_has_an_nrpe_command_file_and_an_exported_service():
    written = files()
    assert sorted(written) == [
        "/etc/nagios/nrpe.d/check_masakari-engine.cfg",
        "/etc/nagios/nrpe.d/check_masakari_hosts_on_maintenance.cfg",
        f"/var/lib/nagios/export/service__{HOST}_check_masakari-engine.cfg",
        f"/var/lib/nagios/export/service__{HOST}_check_masakari_hosts_on_maintenance.cfg",
    ]
    command = written["/etc/nagios/nrpe.d/check_masakari-engine.cfg"]
    assert command.restarts == ("nagios-nrpe-server",) and command.mode == 0o644
    assert str(command.content).splitlines()[0] == "# Managed by the masakari charm"
    assert "# servicegroups: juju" in str(command.content)
    assert nrpe_commands(str(command.content)) == {
        "check_masakari-engine": "/usr/local/lib/nagios/plugins/check_systemd_units.py "
        "masakari-engine"
    }
    service = written[f"/var/lib/nagios/export/service__{HOST}_check_masakari-engine.cfg"]
    assert service.restarts == ()
    assert nagios_objects(str(service.content)) == [
        (
            "service",
            {
                "use": "active-service",
                "host_name": HOST,
                "service_description": f"{HOST}[masakari-engine] process check {{masakari/0}}",
                "check_command": "check_nrpe!check_masakari-engine",
                "servicegroups": "juju",
            },
        )
    ]


def test_the_command_runs_through_a_shell_as_nrpe_runs_it(tmp_path):
    """The installed plugin, run by /bin/sh from the nrpe.d line, with a fake systemctl."""
    host = Host(tmp_path)
    apply_files(host, nrpe.plugin_files(["check_systemd_units.py"]))
    installed = host.path(f"{nrpe.PLUGIN_DIR}/check_systemd_units.py")
    assert installed.stat().st_mode & 0o777 == 0o755
    fake = tmp_path / "systemctl"
    fake.write_text(f"#!{sys.executable}\nimport sys\nprint('failed')\nsys.exit(3)\n")
    fake.chmod(0o755)
    check = Check("odd", "odd {u/0}", nrpe.plugin_command("check_systemd_units.py", "a b;c"))
    (line,) = nrpe_commands(str(files([check])[f"{nrpe.NRPE_DIR}/check_odd.cfg"].content)).values()
    # Run the installed copy, with this interpreter (the machine's python3 is not ours).
    line = line.replace(f"{nrpe.PLUGIN_DIR}/", f"{sys.executable} {tmp_path}{nrpe.PLUGIN_DIR}/")
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)  # as on the machine: no charm library, only what was installed
    done = subprocess.run(["/bin/sh", "-c", line], capture_output=True, text=True, env=env)
    assert (done.returncode, done.stdout) == (2, "CRITICAL: a b;c is failed\n")


def test_servicegroups_default_to_the_context_and_are_normalised():
    service = files(servicegroups="")[
        f"{nrpe.EXPORT_DIR}/service__{HOST}_check_masakari-engine.cfg"
    ]
    assert nagios_objects(str(service.content))[0][1]["servicegroups"] == "juju"
    written = files(servicegroups="openstack, masakari ,juju")
    service = written[f"{nrpe.EXPORT_DIR}/service__{HOST}_check_masakari-engine.cfg"]
    assert nagios_objects(str(service.content))[0][1]["servicegroups"] == "openstack,masakari,juju"


HOSTILE = [
    "juju\n}\ndefine host {",
    "juju}",
    "juju;x",
    "ju ju",
    "juju\\",
    "",
    "x" * 300,
    "juju\u2028",
    "-juju",
    "juju]",
]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize(
    ("option", "keyword", "name"),
    [
        ("nagios_context", "nagios_context", "nagios_context"),
        ("nagios_servicegroups", "servicegroups", "servicegroups"),
        ("nagios_hostname", "nagios_hostname", "nagios_hostname"),
    ],
)
def test_hostile_values_never_reach_a_file(option, keyword, name, value):
    if keyword == "servicegroups" and value == "":
        return  # empty means "the context": valid
    with pytest.raises(UnsafeValueError) as raised:
        files(**{keyword: value})
    assert option in str(raised.value)
    if value.strip():
        assert value not in str(raised.value)  # named, not quoted
    values = {"nagios_context": "juju", "servicegroups": "", "nagios_hostname": HOST}
    found = nrpe.validate(**{**values, keyword: value})
    assert len(found) == 1 and option in found[0]


def test_a_hostile_servicegroup_in_a_list_is_refused():
    assert nrpe.validate(nagios_context="juju", servicegroups="a,b\n}") != []
    assert nrpe.validate(nagios_context="juju", servicegroups="a,,b") != []
    assert nrpe.validate(nagios_context="juju", servicegroups="a, b") == []


@pytest.mark.parametrize(
    "make",
    [
        lambda: Check("bad name", "d", "/bin/true"),
        lambda: Check("x/y", "d", "/bin/true"),
        lambda: Check("x", "line\nbreak", "/bin/true"),
        lambda: Check("x", "semi;colon", "/bin/true"),
        lambda: Check("x", "comma, here", "/bin/true"),
        lambda: Check("x", "d", "/bin/true\ncommand[evil]=/bin/sh"),
        lambda: Check("x", "d", "  "),
        lambda: Check("x", "d", "/bin/echo " + "a" * 2000),
        lambda: nrpe.plugin_command("check_other.sh"),
    ],
)
def test_charm_defined_values_are_checked_when_built(make):
    with pytest.raises(ValueError):
        make()


def test_duplicate_shortnames_and_a_bad_owner_are_refused():
    with pytest.raises(ValueError, match="unique"):
        files([CHECKS[0], CHECKS[0]])
    with pytest.raises(UnsafeValueError, match="managed_by"):
        files(managed_by="masakari charm\n")


def test_nagios_hostname_from_the_nrpe_charm_or_from_the_context():
    sent = {"nagios_hostname": "juju-nova-compute-3", "nagios_host_context": "juju"}
    assert nrpe.nagios_hostname(sent, "juju", "masakari-monitors/3") == "juju-nova-compute-3"
    assert nrpe.nagios_hostname({}, "prod", "masakari/0") == "prod-masakari-0"
    assert nrpe.nagios_hostname(None, "prod", "masakari/12") == "prod-masakari-12"
    assert nrpe.nagios_hostname({"nagios_hostname": ""}, "prod", "a/1") == "prod-a-1"


def test_relation_bag_is_what_charmhelpers_sets():
    bag = nrpe.relation_bag(CHECKS)
    assert bag["primary"] == "True"
    assert nrpe.relation_bag(CHECKS, primary=False)["primary"] == "False"
    # The nrpe charm reads it with yaml.safe_load and merges monitors.remote.nrpe.
    assert yaml.safe_load(bag["monitors"]) == {
        "monitors": {
            "remote": {
                "nrpe": {
                    "masakari-engine": {"command": "check_masakari-engine"},
                    "masakari_hosts_on_maintenance": {
                        "command": "check_masakari_hosts_on_maintenance"
                    },
                }
            }
        }
    }
    assert nrpe.relation_bag(list(reversed(CHECKS))) == bag  # canonical: no churn
    assert yaml.safe_load(nrpe.relation_bag([])["monitors"]) == {
        "monitors": {"remote": {"nrpe": {}}}
    }


def test_plugin_files_are_our_plugins_executable_and_the_module_they_share():
    *plugins, support = nrpe.plugin_files(list(nrpe.PLUGINS))
    assert [f.path for f in plugins] == [f"{nrpe.PLUGIN_DIR}/{n}" for n in nrpe.PLUGINS]
    for copy in plugins:
        source = Path(nrpe.__file__).parent / "nagios_plugins" / Path(copy.path).name
        assert copy.content == source.read_bytes() and copy.mode == 0o755
        assert isinstance(copy.content, bytes)
        assert copy.content.startswith(b"#!/usr/bin/python3\n")
    assert support.path == f"{nrpe.PLUGIN_DIR}/{nrpe.PLUGIN_SUPPORT}"
    assert support.mode == 0o644  # imported, never run
    assert nrpe.plugin_files([]) == []
    with pytest.raises(ValueError):
        nrpe.plugin_files(["../nrpe.py"])


def test_only_our_stale_check_files_are_removed(tmp_path):
    host = Host(tmp_path)
    apply_files(host, files().values())
    foreign = {
        # The principal's own charmhelpers checks, and another of our charms' on the host.
        f"{nrpe.NRPE_DIR}/check_nova-compute.cfg": "# check nova-compute\ncommand[x]=y\n",
        f"{nrpe.NRPE_DIR}/check_pacemaker.cfg": nrpe.marker("pacemaker-remote") + "\n",
        f"{nrpe.EXPORT_DIR}/host__{HOST}.cfg": nrpe.marker("masakari") + "\n",
    }
    for path, text in foreign.items():
        host.write_file(path, text)
    ours = nrpe.owned_paths(host, "masakari")
    assert ours == sorted(files())
    wanted = list(files(CHECKS[:1]).values())
    stale = nrpe.stale_paths(ours, wanted)
    assert stale == [
        f"{nrpe.NRPE_DIR}/check_masakari_hosts_on_maintenance.cfg",
        f"{nrpe.EXPORT_DIR}/service__{HOST}_check_masakari_hosts_on_maintenance.cfg",
    ]
    # Names alone do not tell whose a check file is (owned_paths reads the marker);
    # files that check_files never writes are never returned, whatever a caller passes.
    assert nrpe.stale_paths(foreign, wanted) == [
        f"{nrpe.NRPE_DIR}/check_nova-compute.cfg",
        f"{nrpe.NRPE_DIR}/check_pacemaker.cfg",
    ]
    picked = nrpe.stale_paths(["/etc/passwd", "/etc/nagios/nrpe.cfg", f"{nrpe.EXPORT_DIR}/x"], [])
    assert picked == []
    assert nrpe.owned_paths(Host(tmp_path / "empty"), "masakari") == []


def test_plugin_command_quotes_every_argument():
    command = nrpe.plugin_command("check_exporter_metric.py", "--describe", "a b'c;$(x)")
    assert (
        subprocess.run(
            ["/bin/sh", "-c", f"printf %s {command.split(' ', 1)[1]}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        == "--describea b'c;$(x)"
    )
