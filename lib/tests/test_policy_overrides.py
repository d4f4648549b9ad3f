"""Reading a policyd-override archive, the file written from it, and converging to it."""

from __future__ import annotations

import io
import types
import zipfile
from collections.abc import Mapping

import ops
import pytest
import yaml
from openstack_charm_lib import policy_overrides as po
from openstack_charm_testing import FakeHost

TARGET = "/etc/svc/policy.d/charm-policyd-override.yaml"


def zipped(files: Mapping[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            zf.writestr(zipfile.ZipInfo(name), content)
    return buffer.getvalue()


def marked_encrypted(data: bytes) -> bytes:
    """``data`` with its members flagged encrypted (zipfile cannot write encryption)."""
    raw = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = raw.find(signature)
        while at != -1:
            raw[at + offset] |= 0x1
            at = raw.find(signature, at + 4)
    return bytes(raw)


def problem(data: bytes) -> str:
    with pytest.raises(po.OverrideError) as caught:
        po.read_zip(data)
    return str(caught.value)


def test_rules_of_every_yaml_file_are_merged_whatever_the_directory():
    data = zipped({"a.yaml": "x: '!'\n", "deep/dir/B.YML": "y: '@'\n", "empty.yaml": ""})
    assert po.read_zip(data) == {"x": "!", "y": "@"}


def test_macos_resource_forks_and_other_files_are_ignored():
    data = zipped({"a.yaml": "x: '!'\n", "__MACOSX/._a.yaml": b"\x00\x05\x16\x07", "n.txt": "?"})
    assert po.read_zip(data) == {"x": "!"}


def test_an_archive_of_only_empty_yaml_files_overrides_nothing():
    assert po.read_zip(zipped({"a.yaml": "# nothing yet\n"})) == {}


def test_a_file_over_the_size_bound_is_refused_before_it_is_read():
    big = "x: '" + "a" * po.MAX_FILE_BYTES + "'\n"
    assert problem(zipped({"big.yaml": big})) == "policyd-override: big.yaml: larger than 1 MiB"


def test_an_oversized_resource_is_refused_unread(tmp_path):
    host = FakeHost(tmp_path / "root")
    model = model_with(b"PK" + b"\0" * po.MAX_ARCHIVE_BYTES * 2, tmp_path)
    result = po.converge(host, model, True, TARGET, "svc", "app")
    assert result.problem == "policyd-override: the resource: larger than 16 MiB"
    assert not host.exists(TARGET)


def test_too_many_files_are_refused():
    files = {f"f{i}.yaml": "" for i in range(po.MAX_FILES + 1)}
    assert problem(zipped(files)) == "policyd-override: the resource: more than 200 files"


def test_an_encrypted_member_cannot_be_extracted():
    data = marked_encrypted(zipped({"a.yaml": "x: '!'\n"}))
    assert problem(data) == "policyd-override: a.yaml: cannot be extracted"


@pytest.mark.parametrize("name", ["a\\..\\b.yaml", "C:x.yaml", "a/../../b.yaml", "a\nb.yaml"])
def test_unsafe_member_names_are_refused_and_shown_on_one_line(name):
    message = problem(zipped({name: "x: '!'\n"}))
    assert message.endswith(": unsafe file name (absolute or with ..)")
    assert "\n" not in message


def test_a_colon_is_no_drive_letter_past_the_first_character():
    assert po.read_zip(zipped({"os:api/10:00.yaml": "x: '!'\n"})) == {"x": "!"}


def test_a_long_file_name_is_shortened_in_the_message():
    message = problem(zipped({"d" * 300 + ".yaml": "- not a mapping\n"}))
    assert (
        message == f"policyd-override: {'d' * 57}...: not a mapping of policy rule names to rules"
    )


@pytest.mark.parametrize(
    "rules",
    [
        {"os_api:segments:index": "role:admin or project_id:%(project_id)s"},
        {"rule: with 'quotes' and \"doubles\"": "!", "ünïcode": "@", "#hash": ""},
        {},
    ],
)
def test_the_written_file_reads_back_as_the_rules(rules):
    text = po.render(rules)
    assert text.startswith("# Managed by the charm")
    assert yaml.safe_load(text) == rules


def test_oslo_policy_reads_the_written_file_as_overrides(tmp_path):
    # The library's tests run in every charm's environment; oslo.policy is in masakari's.
    cfg = pytest.importorskip("oslo_config.cfg")
    policy = pytest.importorskip("oslo_policy.policy")

    policy_dir = tmp_path / "policy.d"
    policy_dir.mkdir()
    rendered = po.render({"svc:thing:get": "!", "svc:thing:list": "role:reader"})
    (policy_dir / "charm-policyd-override.yaml").write_text(rendered)
    (tmp_path / "svc.conf").write_text("[DEFAULT]\n")
    conf = cfg.ConfigOpts()
    conf(["--config-file", str(tmp_path / "svc.conf")], project="svc", default_config_files=[])
    enforcer = policy.Enforcer(conf)
    enforcer.register_defaults(
        [policy.RuleDefault(n, "@") for n in ("svc:thing:get", "svc:thing:list", "svc:other")]
    )
    enforcer.load_rules()
    reader = {"roles": ["reader"]}
    assert not enforcer.enforce("svc:thing:get", {}, reader)
    assert enforcer.enforce("svc:thing:list", {}, reader)
    assert not enforcer.enforce("svc:thing:list", {}, {"roles": []})
    assert enforcer.enforce("svc:other", {}, {"roles": []})


def model_with(data: bytes | None, tmp_path) -> ops.Model:
    """A stand-in for ops.Model: only ``resources.fetch`` is used."""

    def fetch(name):
        if data is None:
            raise ops.ModelError(f"no resource {name}")
        path = tmp_path / "resource.zip"
        path.write_bytes(data)
        return path

    return types.SimpleNamespace(resources=types.SimpleNamespace(fetch=fetch))  # type: ignore[return-value]


def test_converge_writes_then_keeps_then_removes(tmp_path):
    host = FakeHost(tmp_path / "root")
    model = model_with(zipped({"a.yaml": "x: '!'\n"}), tmp_path)
    first = po.converge(host, model, True, TARGET, "svc", "app")
    assert first == po.Overrides(active=True, changed=True)
    assert host.owner_of(TARGET) == ("root", "svc", 0o640)
    assert po.converge(host, model, True, TARGET, "svc", "app").changed is False
    assert po.converge(host, model, False, TARGET, "svc", "app") == po.Overrides(False, True)
    assert not host.exists(TARGET)
    assert po.converge(host, model, False, TARGET, "svc", "app") == po.Overrides(False, False)


def test_converge_with_a_bad_resource_keeps_what_was_applied(tmp_path):
    host = FakeHost(tmp_path / "root")
    po.converge(host, model_with(zipped({"a.yaml": "x: '!'\n"}), tmp_path), True, TARGET, "g", "a")
    before = host.read_bytes(TARGET)
    result = po.converge(host, model_with(b"junk", tmp_path), True, TARGET, "g", "a")
    assert result.active and not result.changed
    assert result.problem == (
        "policyd-override: the resource: not a ZIP archive; the previous overrides stay in effect"
    )
    assert host.read_bytes(TARGET) == before


def test_converge_without_a_resource_names_the_attach_command(tmp_path):
    host = FakeHost(tmp_path / "root")
    result = po.converge(host, model_with(None, tmp_path), True, TARGET, "g", "svc-app")
    assert result == po.Overrides(
        active=False,
        changed=False,
        problem="use-policyd-override is true but no policyd-override resource is attached: "
        "juju attach-resource svc-app policyd-override=<zip of YAML files>",
    )


@pytest.mark.parametrize(
    "status",
    [ops.ActiveStatus("Unit is ready"), ops.BlockedStatus("x"), ops.WaitingStatus("y")],
)
def test_the_po_prefix_only_while_overrides_are_in_effect(status):
    on = po.prefixed(status, po.Overrides(active=True, changed=False))
    assert on == type(status)(f"PO: {status.message}")
    assert po.prefixed(status, po.Overrides(active=False, changed=True)) == status
    assert po.prefixed(status, None) == status
