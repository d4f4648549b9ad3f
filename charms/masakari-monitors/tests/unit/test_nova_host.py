"""nova's compute host name, read from nova.conf as nova itself (oslo.config) reads it."""

from __future__ import annotations

import tempfile
from pathlib import Path

import monitors_workload as wl
import ops
import pytest
from conftest import state
from hypothesis import given, settings
from hypothesis import strategies as st
from openstack_charm_testing import adversarial as adv
from oslo_config import cfg


def oslo_host(text: str) -> str | None:
    """[DEFAULT] host as nova-compute would see it; None where nova could not start."""
    conf = cfg.ConfigOpts()
    conf.register_opt(cfg.StrOpt("host", default="short"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "nova.conf"
        path.write_bytes(text.encode())
        try:
            conf(
                args=[],
                default_config_files=[str(path)],
                project="x",
                validate_default_values=True,
            )
        except (cfg.ConfigFileParseError, cfg.Error):
            return None
        return conf.host


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[libvirt]\nhost = x\n[DEFAULT]\nhost = compute-1.maas\n", "compute-1.maas"),
        ("[DEFAULT]\nhost = a\n[api]\nx = 1\n[DEFAULT]\nhost: b\n", "b"),
        ("[DEFAULT]\nhost = 'quoted.maas'\n", "quoted.maas"),
        ("[DEFAULT]\r\nhost = crlf.maas\r\n", "crlf.maas"),
        ("[default]\nhost = not-default\n", "short"),
        ("# host = commented\n[DEFAULT]\nstate_path = /x\n", "short"),
    ],
)
def test_host_anywhere_in_default_as_oslo_config_reads_it(text, expected):
    assert oslo_host(text) == expected
    assert wl.nova_host(text, "short") == expected


LINE = st.one_of(
    st.sampled_from(
        [
            "[DEFAULT]",
            "[libvirt]",
            "[default]",
            "host = a.maas",
            "host: b.maas",
            "host=c",
            'host = "q.maas"',
            "  continued",
            "",
            "# host = nope",
            "; host = nope",
            "my_ip = 10.0.0.1",
            "host = d:e",
        ]
    ),
    adv.hostile_text(max_size=12).filter(lambda t: "\n" not in t and "\r" not in t),
)


@settings(max_examples=adv.budget(300), deadline=None)
@given(lines=st.lists(LINE, max_size=10), eol=st.sampled_from(["\n", "\r\n", "\r"]))
def test_agrees_with_oslo_config_on_any_file_nova_can_read(lines, eol):
    with adv.tally("masakari-monitors").case():
        text = eol.join(lines) + eol
        expected = oslo_host(text)
        if expected is None:
            return  # nova-compute refuses this file; what the charm reads does not matter
        assert wl.nova_host(text, "short") == expected


def test_nova_conf_that_is_not_utf8_blocks_instead_of_a_hook_error(ctx, ready):
    ready.write_file(wl.NOVA_CONF, b"[DEFAULT]\nhost = compute-1.maas\xff\n")
    out = ctx.run(ctx.on.config_changed(), state())
    assert out.unit_status.name == "blocked"
    assert "nova.conf" in out.unit_status.message


def test_nova_conf_whose_other_bytes_are_not_utf8_still_gives_the_host(ctx, ready):
    ready.write_file(wl.NOVA_CONF, b"[DEFAULT]\nhost = compute-1.maas\n# r\xe9sum\xe9\n")
    out = ctx.run(ctx.on.config_changed(), state())
    assert out.unit_status == ops.ActiveStatus(
        "Unit is ready (monitors: host and instance; reporting as compute-1.maas)"
    )
