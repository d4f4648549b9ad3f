"""What the monitors unit tells masakari on the registration endpoint."""

from __future__ import annotations

import pytest
from conftest import state
from ops import testing


def registration(local=None) -> testing.Relation:
    return testing.Relation(
        "registration", "masakari-host", remote_app_name="masakari", local_unit_data=local or {}
    )


def published(out) -> dict[str, str]:
    rel = next(r for r in out.relations if r.endpoint == "registration")
    keys = ("protocol-version", "hostname", "segment", "reserved")
    return {k: v for k, v in rel.local_unit_data.items() if k in keys}


def test_publishes_nova_host_segment_and_reserved_flag(ctx, ready):
    out = ctx.run(ctx.on.config_changed(), state(extra=[registration()]))
    assert published(out) == {
        "protocol-version": "1",
        "hostname": "compute-1.maas",
        "segment": "default",
        "reserved": "false",
    }
    config = {"segment-name": "rack-b", "reserved-host": True}
    out = ctx.run(ctx.on.config_changed(), state(config=config, extra=[registration()]))
    assert published(out) == {
        "protocol-version": "1",
        "hostname": "compute-1.maas",
        "segment": "rack-b",
        "reserved": "true",
    }


def test_publishes_before_keystone_answers(ctx, ready):
    out = ctx.run(ctx.on.config_changed(), state(with_keystone=False, extra=[registration()]))
    assert out.unit_status.name == "blocked"
    assert published(out)["hostname"] == "compute-1.maas"


def test_a_name_nova_does_not_confirm_is_withdrawn(ctx, ready):
    before = {
        "protocol-version": "1",
        "hostname": "compute-1.maas",
        "segment": "default",
        "reserved": "false",
    }
    ready.write_file("/etc/nova/nova.conf", "[DEFAULT]\nstate_path = /var/lib/nova\n")
    out = ctx.run(ctx.on.config_changed(), state(extra=[registration(before)]))
    assert out.unit_status.name == "blocked"
    assert published(out) == {}
    ready.remove_file("/etc/nova/nova.conf")
    out = ctx.run(ctx.on.config_changed(), state(extra=[registration(before)]))
    assert published(out) == {}  # nova-compute not configured yet: nothing to register


@pytest.mark.parametrize("segment", ["", "new\nline", "tab\there", "x" * 256])
def test_an_invalid_segment_name_blocks(ctx, ready, segment):
    out = ctx.run(
        ctx.on.config_changed(), state(config={"segment-name": segment}, extra=[registration()])
    )
    assert out.unit_status.name == "blocked"
    assert "segment-name" in out.unit_status.message
    assert published(out) == {}
