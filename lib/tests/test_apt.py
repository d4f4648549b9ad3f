"""apt: package-upgrade's scope, and how each openstack-origin becomes an apt source.

package-upgrade touches the charm's packages and what they depend on, nothing else.
"""

from __future__ import annotations

import pytest
from openstack_charm_lib import apt
from openstack_charm_lib.releases import parse_origin
from openstack_charm_testing import FakeHost

# What apt-cache depends --recurse --installed prints (alternatives indented deeper,
# virtual packages in angle brackets, a foreign architecture after a colon).
APT_CACHE_DEPENDS = """\
haproxy
  PreDepends: dpkg
  Depends: libc6
  Depends: libsystemd0
    libelogind0
  Depends: <python3:any>
    python3
dpkg
  PreDepends: libc6
libc6
libsystemd0
libelogind0
python3
libc6:i386
"""


class AptCacheHost(FakeHost):
    def _simulate(self, argv):
        if argv[:2] == ["apt-cache", "depends"]:
            return 0, APT_CACHE_DEPENDS
        return super()._simulate(argv)


def test_the_closure_reads_every_package_line_and_nothing_indented(tmp_path):
    host = AptCacheHost(tmp_path)
    assert apt.dependency_closure(host, ["haproxy"]) == [
        "dpkg", "haproxy", "libc6", "libelogind0", "libsystemd0", "python3",
    ]  # fmt: skip


def test_upgrade_names_only_installed_packages_and_reports_each_change(tmp_path):
    host = AptCacheHost(tmp_path)
    host.installed |= {"haproxy": "2.8.5", "libc6": "2.39-0", "dpkg": "1.22", "nova": "29.0"}
    host.available |= {"haproxy": "2.8.6", "libc6": "2.39-1", "nova": "29.1"}
    host.depends["haproxy"] = ["liblua5.4-0"]
    assert apt.upgrade_packages(host, ["haproxy"]) == [
        "haproxy 2.8.5 -> 2.8.6",
        "libc6 2.39-0 -> 2.39-1",
        "liblua5.4-0 none -> 1.0-0ubuntu1",
    ]
    (command,) = host.ran("apt-get", "install")
    assert command[-3:] == ["dpkg", "haproxy", "libc6"] and "--only-upgrade" in command
    assert host.installed["nova"] == "29.0"  # another application's package


@pytest.mark.parametrize(
    ("origin", "argv"),
    [
        (
            "cloud:jammy-caracal",
            ["add-apt-repository", "--yes", "--no-update", "cloud-archive:caracal"],
        ),
        (
            "dalmatian/proposed",
            ["add-apt-repository", "--yes", "--no-update", "cloud-archive:dalmatian-proposed"],
        ),
        ("ppa:team/masakari", ["add-apt-repository", "--yes", "--no-update", "ppa:team/masakari"]),
        (
            "distro-proposed",
            ["add-apt-repository", "--yes", "--no-update", "--pocket", "proposed"],
        ),
    ],
)
def test_an_archive_origin_is_added_without_a_prompt_or_an_index_refresh(tmp_path, origin, argv):
    series = "jammy" if "caracal" in origin else "noble"
    host = FakeHost(tmp_path, series=series)
    assert apt.configure_origin(host, parse_origin(origin, series))
    assert host.commands == [argv]


def test_the_distro_origin_adds_no_source(tmp_path):
    host = FakeHost(tmp_path)
    assert not apt.configure_origin(host, parse_origin("distro", "noble"))
    assert host.commands == [] and host.sources == []
