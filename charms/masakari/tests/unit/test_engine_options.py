"""The engine options: the masakari.conf key each sets, invalid values, releases, config-flags.

Files are rendered by a config-changed run and read back with configparser.
"""

from __future__ import annotations

import configparser
import dataclasses
from pathlib import Path

import charm
import masakari_workload as wl
import ops
import pytest
import yaml
from conftest import MASAKARI_PACKAGES, full_state, synced
from masakari_config import ENGINE_OPTIONS, MasakariConfig
from openstack_charm_lib.releases import OPENSTACK_RELEASES

CHARMCRAFT = yaml.safe_load((Path(charm.__file__).parents[1] / "charmcraft.yaml").read_text())
OPTIONS = CHARMCRAFT["config"]["options"]


def install_release(host, release: str) -> None:
    """Make ``release``'s masakari the installed one (masakari 13 is yoga)."""
    version = f"{13 + OPENSTACK_RELEASES.index(release)}.0.0-0ubuntu1"
    host.installed.update(dict.fromkeys(MASAKARI_PACKAGES, version))


def run(ctx, host, config, release="caracal"):
    """Render with ``config`` on ``release``'s packages, the charm's origin already applied.

    The charm applies its (default) origin on caracal's packages first; the packages then
    move to ``release`` the way an operator's own apt run would move them.
    """
    install_release(host, "caracal")
    applied = ctx.run(ctx.on.config_changed(), full_state(app_data=synced(release)))
    install_release(host, release)
    host.remove_file(wl.MASAKARI_CONF)  # so that "writes nothing" can be seen
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(applied, config=config))
    conf = None
    if host.exists(wl.MASAKARI_CONF):
        conf = configparser.ConfigParser(interpolation=None)
        conf.read_string(host.read_text(wl.MASAKARI_CONF))
    return conf, out


@pytest.mark.parametrize(
    ("option", "value", "section", "key", "expected"),
    [
        ("host-failure-recovery-threads", 8, "DEFAULT", "host_failure_recovery_threads", "8"),
        (
            "ignore-instances-in-error-state",
            True,
            "host_failure",
            "ignore_instances_in_error_state",
            "true",
        ),
        (
            "add-reserved-host-to-aggregate",
            True,
            "host_failure",
            "add_reserved_host_to_aggregate",
            "true",
        ),
        (
            "host-failure-metadata-key",
            "ha:evacuate",
            "host_failure",
            "ha_enabled_instance_metadata_key",
            "ha:evacuate",
        ),
        ("process-all-instances", True, "instance_failure", "process_all_instances", "true"),
        (
            "instance-failure-metadata-key",
            "Restart Me",
            "instance_failure",
            "ha_enabled_instance_metadata_key",
            "Restart Me",
        ),
        ("wait-after-evacuation", 300, "DEFAULT", "wait_period_after_evacuation", "300"),
        ("wait-after-power-off", 30, "DEFAULT", "wait_period_after_power_off", "30"),
        ("wait-after-power-on", 15, "DEFAULT", "wait_period_after_power_on", "15"),
        (
            "duplicate-notification-interval",
            0,
            "DEFAULT",
            "duplicate_notification_detection_interval",
            "0",
        ),
    ],
)
def test_each_engine_option_sets_its_masakari_key(
    ctx, installed, option, value, section, key, expected
):
    conf, out = run(ctx, installed, {option: value})
    assert out.unit_status == ops.ActiveStatus("Unit is ready")
    assert conf[section][key] == expected


def test_metadata_keys_of_host_and_instance_failures_are_separate(ctx, installed):
    config = {"host-failure-metadata-key": "ha-host", "instance-failure-metadata-key": "ha-vm"}
    conf, _ = run(ctx, installed, config)
    assert conf["host_failure"]["ha_enabled_instance_metadata_key"] == "ha-host"
    assert conf["instance_failure"]["ha_enabled_instance_metadata_key"] == "ha-vm"


def test_defaults_are_masakaris_and_written_out(ctx, installed):
    conf, _ = run(ctx, installed, {})
    d, host_failure = conf["DEFAULT"], conf["host_failure"]
    assert d["host_failure_recovery_threads"] == "3"
    assert d["wait_period_after_evacuation"] == "90"
    assert d["wait_period_after_power_off"] == "180"
    assert d["wait_period_after_power_on"] == "60"
    assert d["duplicate_notification_detection_interval"] == "180"
    assert host_failure["ignore_instances_in_error_state"] == "false"
    assert host_failure["add_reserved_host_to_aggregate"] == "false"
    assert host_failure["ha_enabled_instance_metadata_key"] == "HA_Enabled"
    assert conf["instance_failure"]["process_all_instances"] == "false"
    assert conf["instance_failure"]["ha_enabled_instance_metadata_key"] == "HA_Enabled"
    assert "notification_delay_max" not in d  # unset: masakari's own default


def test_charmcraft_defaults_match_the_charms_table():
    for option in ENGINE_OPTIONS:
        assert OPTIONS[option.name].get("default") == option.default, option.name
        assert f"{option.section}] {option.key}" in OPTIONS[option.name]["description"]


def test_every_option_is_a_config_field_with_the_charmcraft_default():
    fields = {f.name: f for f in dataclasses.fields(MasakariConfig) if f.init}
    options = {name.replace("-", "_"): spec for name, spec in OPTIONS.items()}
    # Read outside MasakariConfig, by the observability library.
    elsewhere = {"nagios_context", "nagios_servicegroups"}
    assert set(fields) - {"series"} == set(options) - elsewhere
    for name in set(fields) - {"series"}:
        default = options[name].get("default")
        if default is None:  # unset: "" or None, whichever the field's type has
            assert fields[name].default in ("", None), name
        else:
            assert fields[name].default == default, name


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"host-failure-recovery-threads": 0}, "host-failure-recovery-threads must be a whole"),
        ({"wait-after-evacuation": 0}, "wait-after-evacuation must be a whole number >= 1"),
        ({"wait-after-power-off": -1}, "wait-after-power-off must be a whole number >= 1"),
        ({"wait-after-power-on": 0}, "wait-after-power-on must be a whole number >= 1"),
        ({"duplicate-notification-interval": -1}, "duplicate-notification-interval must be"),
        ({"notification-delay-max": -1}, "notification-delay-max must be a whole number >= 0"),
        ({"host-failure-metadata-key": ""}, "host-failure-metadata-key must be a metadata key"),
        ({"instance-failure-metadata-key": "ha$key"}, "instance-failure-metadata-key must be"),
        ({"host-failure-metadata-key": "k" * 256}, "host-failure-metadata-key must be"),
    ],
)
def test_invalid_engine_option_blocks_naming_it_and_writes_nothing(
    ctx, installed, config, message
):
    conf, out = run(ctx, installed, config)
    assert out.unit_status.name == "blocked"
    assert out.unit_status.message.startswith("Invalid config: ")
    assert message in out.unit_status.message
    assert conf is None


@pytest.mark.parametrize("release", ["yoga", "epoxy", "gazpacho"])
def test_notification_delay_max_before_hibiscus_blocks_naming_option_and_release(
    ctx, installed, release
):
    conf, out = run(ctx, installed, {"notification-delay-max": 2}, release=release)
    assert out.unit_status == ops.BlockedStatus(
        f"Invalid config: notification-delay-max needs masakari of hibiscus or later, the "
        f"installed release is {release}: unset it or upgrade openstack-origin"
    )
    assert conf is None


def test_notification_delay_max_on_hibiscus_sets_the_api_key(ctx, installed):
    conf, out = run(ctx, installed, {"notification-delay-max": 0}, release="hibiscus")
    assert out.unit_status == ops.ActiveStatus("Unit is ready")
    assert conf["DEFAULT"]["notification_delay_max"] == "0"


@pytest.mark.parametrize(
    ("flags", "section_key", "owner"),
    [
        (
            "host_failure_recovery_threads=5",
            "DEFAULT/host_failure_recovery_threads",
            "host-failure-recovery-threads",
        ),
        (
            "debug=true,instance_failure/process_all_instances=true",
            "instance_failure/process_all_instances",
            "process-all-instances",
        ),
        (
            "host_failure/ha_enabled_instance_metadata_key=x",
            "host_failure/ha_enabled_instance_metadata_key",
            "host-failure-metadata-key",
        ),
        # The reactive charm's recovery options: a flag could defeat the leader's check
        # of evacuation-delay against nova's service_down_time.
        (
            "wait_period_after_service_update=0",
            "DEFAULT/wait_period_after_service_update",
            "evacuation-delay",
        ),
        (
            "notifications_expired_interval=60",
            "DEFAULT/notifications_expired_interval",
            "notification-expiration",
        ),
        (
            "check_expired_notifications_interval=60",
            "DEFAULT/check_expired_notifications_interval",
            "check-expired-interval",
        ),
        (
            "host_failure/evacuate_all_instances=false",
            "host_failure/evacuate_all_instances",
            "evacuate-all-instances",
        ),
    ],
)
def test_config_flag_for_an_engine_options_key_blocks_naming_both(
    ctx, installed, flags, section_key, owner
):
    conf, out = run(ctx, installed, {"config-flags": flags})
    assert out.unit_status == ops.BlockedStatus(
        f"Invalid config: config-flags sets {section_key}, which the option {owner} sets: "
        f"use {owner} and remove the entry from config-flags"
    )
    assert conf is None
