"""What the monitors unit tells masakari for judging recovery: nova's timings and flag."""

from __future__ import annotations

import pytest
from conftest import NOVA_CONF_FQDN, state
from ops import testing

FACTS = ("service-down-time", "resume-guests-state-on-host-boot", "detection-time")


def registration(local=None) -> testing.Relation:
    return testing.Relation(
        "registration", "masakari-host", remote_app_name="masakari", local_unit_data=local or {}
    )


def facts(ctx, config=None) -> dict[str, str]:
    out = ctx.run(ctx.on.config_changed(), state(config=config, extra=[registration()]))
    rel = next(r for r in out.relations if r.endpoint == "registration")
    return {k: v for k, v in rel.local_unit_data.items() if k in FACTS}


def test_nova_defaults_and_host_monitor_defaults_are_published(ctx, ready):
    assert facts(ctx) == {
        "service-down-time": "60",
        "resume-guests-state-on-host-boot": "false",
        "detection-time": "60",
    }


def test_nova_conf_settings_and_monitoring_options_are_published(ctx, ready):
    ready.write_file(
        "/etc/nova/nova.conf",
        NOVA_CONF_FQDN
        + "[libvirt]\nservice_down_time = 5\n[DEFAULT]\nservice_down_time = '90'\n"
        + "resume_guests_state_on_host_boot = On\n",
    )
    config = {"host-monitoring-interval": 10, "host-monitoring-samples": 3}
    assert facts(ctx, config) == {
        "service-down-time": "90",
        "resume-guests-state-on-host-boot": "true",
        "detection-time": "30",
    }


def test_config_flags_override_the_detection_time_as_in_the_rendered_file(ctx, ready):
    config = {"config-flags": "host/monitoring_interval=7"}
    assert facts(ctx, config)["detection-time"] == "7"


@pytest.mark.parametrize("word,flag", [("yes", "true"), ("1", "true"), ("OFF", "false")])
def test_oslo_booleans_are_understood(ctx, ready, word, flag):
    ready.write_file(
        "/etc/nova/nova.conf",
        NOVA_CONF_FQDN + f"[DEFAULT]\nresume_guests_state_on_host_boot={word}\n",
    )
    assert facts(ctx)["resume-guests-state-on-host-boot"] == flag


@pytest.mark.parametrize(
    "value", ["sixty", "-1", "0", "60\n  0", "1e3", "٦٠", "9" * 40, "60 # comment"]
)
def test_an_unreadable_service_down_time_is_not_published(ctx, ready, value):
    ready.write_file(
        "/etc/nova/nova.conf", NOVA_CONF_FQDN + f"[DEFAULT]\nservice_down_time = {value}\n"
    )
    published = facts(ctx)
    assert "service-down-time" not in published
    assert published["resume-guests-state-on-host-boot"] == "false"


@pytest.mark.parametrize("value", ["maybe", "", "true\n false", "2"])
def test_an_unreadable_resume_flag_is_not_published(ctx, ready, value):
    ready.write_file(
        "/etc/nova/nova.conf",
        NOVA_CONF_FQDN + f"[DEFAULT]\nresume_guests_state_on_host_boot = {value}\n",
    )
    published = facts(ctx)
    assert "resume-guests-state-on-host-boot" not in published
    assert published["service-down-time"] == "60"


def test_no_detection_time_without_the_host_monitor(ctx, ready):
    config = {"enable-host-monitor": False, "enable-instance-monitor": True}
    published = facts(ctx, config)
    assert "detection-time" not in published
    assert published["service-down-time"] == "60"


def test_a_withdrawn_host_takes_its_facts_along(ctx, ready):
    before = {"hostname": "compute-1.maas", "service-down-time": "60", "detection-time": "60"}
    ready.write_file("/etc/nova/nova.conf", "[DEFAULT]\nhost = other\n")
    out = ctx.run(ctx.on.config_changed(), state(extra=[registration(before)]))
    rel = next(r for r in out.relations if r.endpoint == "registration")
    assert not {*FACTS, "hostname"} & set(rel.local_unit_data)
