"""The adversarial helpers: generators produce what they promise, checks catch injection."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from openstack_charm_testing import adversarial as adv


@settings(max_examples=50)
@given(data=adv.non_utf8_bytes())
def test_non_utf8_bytes_never_decode(data):
    with pytest.raises(UnicodeDecodeError):
        data.decode()


@settings(max_examples=50)
@given(text=adv.unicode_digits())
def test_unicode_digits_pass_isdigit_but_are_no_ascii_number(text):
    assert text.isdigit()
    assert not text.isascii()


def test_parse_reads_a_carriage_return_as_a_new_line():
    parsed = adv.parse_oslo_ini("[DEFAULT]\ndebug = false\rdebug = true\n")
    assert parsed["DEFAULT"]["debug"] == ["false", "true"]
    with pytest.raises(adv.InvalidFileError):
        adv.assert_ini_matches(parsed, {"DEFAULT": {"debug": "false"}})


def test_fallback_parser_agrees_with_oslo_config():
    text = "# c\n[DEFAULT]\nhost = a\n  b\n\n[api]\nx: 'q'\ny = \"1\"\r[s]\nz=\n"
    assert adv._parse_ini_fallback(text) == adv.parse_oslo_ini(text)
    for bad in ("x = 1\n", "[DEFAULT]\n  cont\n", "[DEFAULT\n", "[]\n", "[a]\nnovalue\n"):
        with pytest.raises(adv.InvalidFileError):
            adv._parse_ini_fallback(bad)
        with pytest.raises(adv.InvalidFileError):
            adv.parse_oslo_ini(bad)


def test_tally_counts_and_reraises():
    tally = adv.Tally("t")
    with tally.case() as case:
        case.file("/ok", lambda: None)
    with pytest.raises(adv.InvalidFileError), tally.case() as case:
        case.file("/bad", lambda: adv.parse_oslo_ini("garbage\n"))
    with pytest.raises(adv.LeakError), tally.case() as case:
        case.no_leak(["s3cret-pw"], ["status: s3cret-pw"])
    with pytest.raises(adv.ReplayError), tally.case() as case:
        case.replay_is_noop(["wrote /x"])
    with pytest.raises(KeyError), tally.case():
        raise KeyError("x")
    assert (tally.cases, tally.exceptions, tally.invalid_files, tally.leaks) == (5, 1, 1, 1)
    assert tally.replay_changes == 1
    assert tally.line().startswith("adversarial t: 5 cases, 1 exceptions, 1 invalid files")
