"""Release tables, openstack-origin parsing and config-flags parsing."""

from __future__ import annotations

import pytest
from openstack_charm_lib.config_flags import ConfigFlagsError, merge_flags, parse_config_flags
from openstack_charm_lib.releases import (
    OPENSTACK_RELEASES,
    SERIES_DISTRO_RELEASE,
    OriginError,
    Step,
    parse_origin,
    release_from_major_version,
    release_index,
    releases_on,
    upgrade_step,
)


@pytest.mark.parametrize(
    ("value", "series", "kind", "release", "proposed"),
    [
        ("distro", "jammy", "distro", "yoga", False),
        ("", "noble", "distro", "caracal", False),
        ("distro-proposed", "noble", "distro", "caracal", True),
        ("caracal", "noble", "distro", "caracal", False),
        ("caracal", "jammy", "cloud", "caracal", False),
        ("caracal/proposed", "jammy", "cloud", "caracal", True),
        ("cloud:jammy-antelope", "jammy", "cloud", "antelope", False),
        ("cloud:noble-gazpacho/updates", "noble", "cloud", "gazpacho", False),
        ("cloud:noble-epoxy/proposed", "noble", "cloud", "epoxy", True),
        ("ppa:team/archive", "noble", "ppa", None, False),
        ("deb http://m/u noble main", "noble", "deb", None, False),
        # 26.04 ships gazpacho; its Cloud Archive carries the releases after it.
        ("distro", "resolute", "distro", "gazpacho", False),
        ("", "resolute", "distro", "gazpacho", False),
        ("gazpacho", "resolute", "distro", "gazpacho", False),
        ("hibiscus", "resolute", "cloud", "hibiscus", False),
        ("cloud:resolute-hibiscus/proposed", "resolute", "cloud", "hibiscus", True),
    ],
)
def test_parse_origin(value, series, kind, release, proposed):
    origin = parse_origin(value, series)
    assert (origin.kind, origin.release, origin.proposed) == (kind, release, proposed)


@pytest.mark.parametrize(
    ("value", "series", "message"),
    [
        ("cloud:noble-caracal", "jammy", "is for noble"),
        ("cloud:jammy-dalmatian", "jammy", "dalmatian is not available on jammy"),
        ("cloud:noble-foo", "noble", "unknown OpenStack release 'foo'"),
        ("epoxy/backports", "noble", "unknown pocket 'backports'"),
        ("hibiscus", "noble", "hibiscus is not available on noble"),
        ("distro", "focal", "series 'focal' is not supported"),
        ("distro", "focal", r"supported: jammy \(22.04\), noble \(24.04\), resolute \(26.04\)"),
        ("caracal", "resolute", "caracal is not available on resolute"),
        ("epoxy", "resolute", r"available: gazpacho, hibiscus\)"),
        ("cloud:noble-gazpacho", "resolute", "is for noble, this machine runs resolute"),
        ("http://x", "noble", "is not a known source"),
    ],
)
def test_invalid_origins_name_the_value(value, series, message):
    with pytest.raises(OriginError, match=message):
        parse_origin(value, series)


def test_every_series_offers_a_contiguous_run_of_releases_from_its_distro_release():
    for series in SERIES_DISTRO_RELEASE:
        indexes = [release_index(r) for r in releases_on(series)]
        assert indexes == list(range(indexes[0], indexes[0] + len(indexes))), series
    # Each LTS's Cloud Archive stops where the next LTS's distro release starts.
    assert releases_on("noble")[-1] == SERIES_DISTRO_RELEASE["resolute"]
    assert releases_on("jammy")[-1] == SERIES_DISTRO_RELEASE["noble"]


def test_release_table_runs_yoga_to_the_newest():
    assert OPENSTACK_RELEASES[0] == "yoga"
    assert release_index("caracal") > release_index("antelope")
    assert release_from_major_version(17, 13) == "caracal"
    assert release_from_major_version(12, 13) is None
    assert release_from_major_version(99, 13) is None
    with pytest.raises(KeyError):
        release_index("kilo")


@pytest.mark.parametrize(
    ("applied", "value", "installed", "step"),
    [
        ("cloud:noble-epoxy", "cloud:noble-epoxy", "epoxy", Step.CURRENT),
        ("distro", "cloud:noble-caracal", "caracal", Step.REPOINT),  # same release, new name
        ("distro", "cloud:noble-epoxy", "caracal", Step.UPGRADE),
        ("", "cloud:noble-epoxy", None, Step.UPGRADE),  # the packages do not tell yet
        ("distro", "ppa:team/masakari", "caracal", Step.UPGRADE),  # only packages tell
        ("cloud:noble-epoxy", "distro", "epoxy", Step.DOWNGRADE),
        ("cloud:noble-gazpacho", "cloud:noble-epoxy", "gazpacho", Step.DOWNGRADE),
    ],
)
def test_one_upgrade_rule_for_the_pass_and_the_actions(applied, value, installed, step):
    assert upgrade_step(applied, parse_origin(value, "noble"), installed) is step


def test_config_flags_sections_commas_and_newlines():
    flags = parse_config_flags("a=1,host/x=2\nkeystone_authtoken/memcached_servers=h:1,h:2, c=3")
    assert flags == {
        "DEFAULT": {"a": "1", "c": "3"},
        "host": {"x": "2"},
        "keystone_authtoken": {"memcached_servers": "h:1,h:2"},
    }
    assert parse_config_flags("  ") == {}
    merged = merge_flags({"DEFAULT": {"a": "0", "b": "1"}}, flags)
    assert merged["DEFAULT"] == {"a": "1", "b": "1", "c": "3"}
    assert list(merged) == ["DEFAULT", "host", "keystone_authtoken"]


@pytest.mark.parametrize("text", ["garbage", "=3", "a/b/c=1", "x", "secret-value-only"])
def test_config_flags_errors_do_not_echo_values(text):
    with pytest.raises(ConfigFlagsError, match="use \\[section/\\]key=value"):
        parse_config_flags(text)
