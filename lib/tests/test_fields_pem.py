"""Field checks, PEM parsing, INI rendering and config-flags against hostile values."""

from __future__ import annotations

import pytest
from openstack_charm_lib import apt, fields, pem
from openstack_charm_lib.config_flags import ConfigFlagsError, parse_config_flags
from openstack_charm_lib.releases import parse_origin
from openstack_charm_lib.rendering import UnsafeValueError, oslo_literal, render_ini
from openstack_charm_testing import FakeHost
from openstack_charm_testing.pki import pki

LINE_BREAKS = [
    "\n",
    "\r",
    "\r\n",
    "\x0b",
    "\x0c",
    "\x1c",
    "\x1d",
    "\x1e",
    "\x85",
    "\u2028",
    "\u2029",
]


@pytest.mark.parametrize("brk", LINE_BREAKS)
def test_no_line_break_passes_as_single_line(brk):
    assert not fields.is_single_line(f"pw{brk}debug = true")
    assert not fields.is_token(f"pw{brk}")


@pytest.mark.parametrize("value", ["²", "٣", "0", "65536", "-1", " 80", "80 ", "1e3", ""])
def test_ports_are_ascii_numbers_in_range(value):
    assert fields.port_number(value) is None


def test_ports_accept_plain_numbers():
    assert fields.port_number("5671") == 5671
    assert fields.port_number(443) == 443


@pytest.mark.parametrize("value", ["10.0.0.1", "fd00::1", "keystone.maas", "k"])
def test_hosts_accept_addresses_and_names(value):
    assert fields.is_host(value)


@pytest.mark.parametrize("value", ["", "a b", "10.0.0.1\n", "x/y", "ké.example", "a:b@c"])
def test_hosts_refuse_anything_else(value):
    assert not fields.is_host(value)


@pytest.mark.parametrize("brk", LINE_BREAKS)
def test_render_ini_refuses_a_value_that_opens_a_line(brk):
    with pytest.raises(UnsafeValueError) as raised:
        render_ini({"DEFAULT": {"password": f"pw{brk}[evil]"}}, "header")
    assert "pw" not in str(raised.value)  # the value is never quoted


@pytest.mark.parametrize("name", ["de bug", "a=b", "[x", "", "k\n"])
def test_render_ini_refuses_keys_and_sections_that_are_not_names(name):
    with pytest.raises(UnsafeValueError):
        render_ini({"DEFAULT": {name: "v"}}, "h")
    with pytest.raises(UnsafeValueError):
        render_ini({name: {"k": "v"}}, "h")


@pytest.mark.parametrize("value", ["a$b${c}$$", "'", '"x"', "'x'", " pw ", '"', "a'"])
def test_oslo_literal_survives_the_real_parser(tmp_path, value):
    cfg = pytest.importorskip("oslo_config.cfg")
    conf = cfg.ConfigOpts()
    conf.register_opt(cfg.StrOpt("password"), group="g")
    path = tmp_path / "x.conf"
    path.write_text(render_ini({"g": {"password": oslo_literal(value)}}, "h"))
    conf(args=[], default_config_files=[str(path)])
    assert conf.g.password == value


@pytest.mark.parametrize(
    "flags", ["debug=false\rdebug=true", "a=b\x85c", "k=v\u2028[database]", "a=\x00"]
)
def test_config_flags_refuse_control_characters_without_quoting_the_value(flags):
    with pytest.raises(ConfigFlagsError) as raised:
        parse_config_flags(flags)
    value = flags.split("=", 1)[1]
    assert value not in str(raised.value)


def test_config_flags_parse_error_never_quotes_a_password():
    with pytest.raises(ConfigFlagsError) as raised:
        parse_config_flags("s3cr3t-password-without-a-key")
    assert "s3cr3t" not in str(raised.value)


def test_pem_keeps_only_the_parsed_blocks():
    material = pki()
    noisy = f"junk line\n{material['cert']}\n[DEFAULT]\ndebug = true\n{material['ca']}trailing"
    blocks = pem.certificates(noisy)
    assert len(blocks) == 2
    assert "junk" not in "".join(blocks) and "debug" not in "".join(blocks)


@pytest.mark.parametrize(
    "text",
    [
        "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        "-----BEGIN",
        "",
    ],
)
def test_pem_refuses_what_openssl_cannot_read(text):
    with pytest.raises(pem.PemError):
        pem.certificates(text)


def test_pem_pair_needs_the_certificates_own_key():
    material = pki()
    cert, key = pem.check_pair(material["cert"], material["key"])
    assert cert.startswith("-----BEGIN CERTIFICATE-----") and "PRIVATE KEY" in key
    with pytest.raises(pem.PemError, match="does not belong"):
        pem.check_pair(material["cert"], material["other_key"])
    with pytest.raises(pem.PemError):
        pem.check_pair(material["cert"], material["ca"])  # a certificate is no key


def test_deb_origin_credentials_stay_out_of_sources_and_status(tmp_path):
    host = FakeHost(tmp_path)
    origin = parse_origin("deb https://bob:s3cret@archive.internal/ubuntu noble main", "noble")
    assert "s3cret" not in origin.display
    apt.configure_origin(host, origin)
    sources = host.read_text(apt.DEB_SOURCE_FILE) or ""
    assert "s3cret" not in sources and "bob" not in sources
    assert "deb https://archive.internal/ubuntu noble main" in sources
    assert host.stat_owner_mode(apt.DEB_AUTH_FILE) == ("root", "root", 0o600)
    assert host.read_text(apt.DEB_AUTH_FILE) == (
        "machine archive.internal/ubuntu login bob password s3cret\n"
    )
    apt.configure_origin(host, parse_origin("deb http://archive.internal/u noble main", "noble"))
    assert not host.exists(apt.DEB_AUTH_FILE)
