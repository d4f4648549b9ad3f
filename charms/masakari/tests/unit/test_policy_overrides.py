"""Policy overrides: the policyd-override resource and the use-policyd-override option."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import zipfile
from collections.abc import Mapping

import masakari_workload as wl
import ops
import pytest
import yaml
from conftest import full_state
from ops import testing

READY = "Unit is ready"
ADMIN_ONLY = {"os_masakari_api:segments:index": "rule:context_is_admin"}


def archive(tmp_path, files: Mapping[str, str | bytes], name: str = "overrides.zip"):
    """A ZIP resource holding ``files`` (names as given, even unsafe ones)."""
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as zf:
        for member, content in files.items():
            zf.writestr(zipfile.ZipInfo(member), content)
    return path


def resource(path) -> testing.Resource:
    return testing.Resource(name="policyd-override", path=path)


def with_overrides(state: testing.State, path=None, enabled: bool = True) -> testing.State:
    config = {**state.config, "use-policyd-override": enabled}
    resources = {resource(path)} if path is not None else set()
    return dataclasses.replace(state, config=config, resources=resources)


@pytest.fixture
def active(ctx, installed):
    """A ready unit without overrides, and a host whose commands were forgotten."""
    out = ctx.run(ctx.on.config_changed(), full_state())
    assert out.unit_status == ops.ActiveStatus(READY)
    installed.clear()
    return out


def written_rules(host) -> dict:
    return yaml.safe_load(host.read_text(wl.POLICY_OVERRIDES))


def test_a_valid_archive_is_merged_written_for_masakari_and_restarts_apache_once(
    ctx, installed, active, tmp_path
):
    zipped = archive(
        tmp_path,
        {
            "segments.yaml": "os_masakari_api:segments:index: rule:context_is_admin\n",
            "sub/hosts.yml": "os_masakari_api:os-hosts:index: '!'\n",
            "README.txt": "ignored: it is not YAML by name",
        },
    )
    out = ctx.run(ctx.on.upgrade_charm(), with_overrides(active, zipped))
    assert written_rules(installed) == {
        "os_masakari_api:segments:index": "rule:context_is_admin",
        "os_masakari_api:os-hosts:index": "!",
    }
    assert installed.owner_of(wl.POLICY_OVERRIDES) == ("root", "masakari", 0o640)
    assert installed.restarted() == ["apache2"]
    assert out.unit_status == ops.ActiveStatus(f"PO: {READY}")


def test_the_same_resource_again_restarts_nothing_and_keeps_the_po_status(
    ctx, installed, active, tmp_path
):
    state = with_overrides(active, archive(tmp_path, {"a.yaml": yaml.safe_dump(ADMIN_ONLY)}))
    out = ctx.run(ctx.on.config_changed(), state)
    installed.clear()
    again = ctx.run(ctx.on.update_status(), out)
    assert installed.restarted() == []
    assert again.unit_status == ops.ActiveStatus(f"PO: {READY}")


def test_a_changed_resource_rewrites_the_rules_and_restarts_apache_once(
    ctx, installed, active, tmp_path
):
    first = archive(tmp_path, {"a.yaml": yaml.safe_dump(ADMIN_ONLY)}, "one.zip")
    out = ctx.run(ctx.on.upgrade_charm(), with_overrides(active, first))
    installed.clear()
    second = archive(tmp_path, {"a.yaml": "os_masakari_api:segments:index: '!'\n"}, "two.zip")
    ctx.run(ctx.on.upgrade_charm(), with_overrides(out, second))
    assert written_rules(installed) == {"os_masakari_api:segments:index": "!"}
    assert installed.restarted() == ["apache2"]


def test_turning_the_option_off_removes_the_overrides_and_the_po_prefix(
    ctx, installed, active, tmp_path
):
    zipped = archive(tmp_path, {"a.yaml": yaml.safe_dump(ADMIN_ONLY)})
    out = ctx.run(ctx.on.config_changed(), with_overrides(active, zipped))
    installed.clear()
    off = ctx.run(ctx.on.config_changed(), with_overrides(out, zipped, enabled=False))
    assert not installed.exists(wl.POLICY_OVERRIDES)
    assert installed.restarted() == ["apache2"]
    assert off.unit_status == ops.ActiveStatus(READY)
    installed.clear()
    ctx.run(ctx.on.update_status(), off)
    assert installed.restarted() == []


def test_the_option_off_with_a_resource_attached_applies_nothing(ctx, installed, active, tmp_path):
    zipped = archive(tmp_path, {"a.yaml": yaml.safe_dump(ADMIN_ONLY)})
    out = ctx.run(ctx.on.config_changed(), with_overrides(active, zipped, enabled=False))
    assert not installed.exists(wl.POLICY_OVERRIDES)
    assert installed.restarted() == []
    assert out.unit_status == ops.ActiveStatus(READY)


@pytest.fixture
def nothing_attached(monkeypatch):
    """Resources.fetch failing as it does on a unit where no revision was attached.

    ops.testing treats a resource missing from the State as a mistake of the test
    (RuntimeError); on a unit, resource-get fails and ops raises ModelError.
    """

    def fetch(self, name):
        raise ops.ModelError(f"ERROR could not download resource: resource#masakari/{name}")

    monkeypatch.setattr(ops.Resources, "fetch", fetch)


def test_the_option_on_without_a_resource_blocks_naming_it_and_how_to_attach(
    ctx, installed, active, nothing_attached
):
    out = ctx.run(ctx.on.config_changed(), with_overrides(active))
    assert out.unit_status == ops.BlockedStatus(
        "use-policyd-override is true but no policyd-override resource is attached: "
        "juju attach-resource masakari policyd-override=<zip of YAML files>"
    )
    assert not installed.exists(wl.POLICY_OVERRIDES)
    assert installed.restarted() == []


BAD_ARCHIVES = {
    "not-a-zip": (None, "the resource: not a ZIP archive"),
    "not-yaml": ({"bad.yaml": "rule: [unclosed\n"}, "bad.yaml: not valid YAML (line 2)"),
    "a-list": (
        {"list.yaml": "- rule:context_is_admin\n"},
        "list.yaml: not a mapping of policy rule names to rules",
    ),
    "a-rule-not-a-string": (
        {"v.yaml": "os_masakari_api:segments:index: true\n"},
        "v.yaml: rule os_masakari_api:segments:index: the rule is not a string",
    ),
    "a-name-not-a-string": ({"k.yaml": "42: '!'\n"}, "k.yaml: rule name 42 is not a string"),
    "control-characters-in-a-name": (
        {"c.yaml": '"os_masakari_api:\\x1b[2J": "!"\n'},
        "c.yaml: rule name 'os_masakari_api:\\x1b[2J' holds control characters",
    ),
    "a-line-break-in-a-rule": (
        {"n.yaml": 'r: "role:admin\\nor:@"\n'},
        "n.yaml: rule r: the rule holds control characters",
    ),
    "parent-directory": (
        {"../escape.yaml": "r: '!'\n"},
        "../escape.yaml: unsafe file name (absolute or with ..)",
    ),
    "absolute-path": (
        {"/etc/masakari/x.yaml": "r: '!'\n"},
        "/etc/masakari/x.yaml: unsafe file name (absolute or with ..)",
    ),
    "not-utf8": ({"latin1.yaml": b"r: '\xe9'\n"}, "latin1.yaml: not UTF-8 text"),
    "no-yaml-file": ({"rules.json": "{}"}, "the resource: no .yaml or .yml file in the archive"),
    "a-rule-in-two-files": (
        {"a.yaml": "r: '!'\n", "b.yaml": "r: '@'\n"},
        "b.yaml: rule r is also in a.yaml",
    ),
}


def bad_resource(tmp_path, files):
    if files is None:
        path = tmp_path / "overrides.zip"
        path.write_bytes(b"rule: this is YAML, not a ZIP archive\n")
        return path
    return archive(tmp_path, files)


@pytest.mark.parametrize("files,problem", BAD_ARCHIVES.values(), ids=BAD_ARCHIVES.keys())
def test_a_bad_archive_blocks_naming_the_file_and_writes_nothing(
    ctx, installed, active, tmp_path, files, problem
):
    out = ctx.run(ctx.on.upgrade_charm(), with_overrides(active, bad_resource(tmp_path, files)))
    assert out.unit_status == ops.BlockedStatus(f"policyd-override: {problem}")
    assert not installed.exists(wl.POLICY_OVERRIDES)
    assert not installed.exists(f"{wl.CONFIG_DIR}/policy.d/{files and next(iter(files))}")
    assert installed.restarted() == []


@pytest.mark.parametrize("files,problem", BAD_ARCHIVES.values(), ids=BAD_ARCHIVES.keys())
def test_a_bad_archive_keeps_the_previous_overrides_and_says_so(
    ctx, installed, active, tmp_path, files, problem
):
    good = archive(tmp_path, {"a.yaml": yaml.safe_dump(ADMIN_ONLY)}, "good.zip")
    out = ctx.run(ctx.on.upgrade_charm(), with_overrides(active, good))
    before = installed.read_bytes(wl.POLICY_OVERRIDES)
    installed.clear()
    bad = ctx.run(ctx.on.upgrade_charm(), with_overrides(out, bad_resource(tmp_path, files)))
    assert bad.unit_status == ops.BlockedStatus(
        f"PO: policyd-override: {problem}; the previous overrides stay in effect"
    )
    assert installed.read_bytes(wl.POLICY_OVERRIDES) == before
    assert installed.restarted() == []


def test_a_paused_unit_writes_the_overrides_and_restarts_apache_on_resume(
    ctx, installed, active, tmp_path
):
    paused = ctx.run(ctx.on.action("pause"), active)
    installed.clear()
    zipped = archive(tmp_path, {"a.yaml": yaml.safe_dump(ADMIN_ONLY)})
    out = ctx.run(ctx.on.upgrade_charm(), with_overrides(paused, zipped))
    assert written_rules(installed) == ADMIN_ONLY
    assert installed.restarted() == []
    assert out.unit_status.message.startswith("PO: ")
    ctx.run(ctx.on.action("resume"), out)
    assert "apache2" in installed.running


# Run by masakari's own interpreter in a child process (importing masakari loads eventlet,
# which the test process should not): masakari's rules in code, oslo.policy reading the
# config dir of the masakari.conf given (policy.d included), answers for an admin.
ENFORCE = """
import json, sys
from masakari import policies
from oslo_config import cfg
from oslo_policy import policy
conf = cfg.ConfigOpts()
conf(["--config-file", sys.argv[1]], project="masakari", default_config_files=[])
enforcer = policy.Enforcer(conf)
enforcer.register_defaults(policies.list_rules())
enforcer.load_rules()
admin = {"roles": ["admin"], "project_id": "p", "is_admin": True}
print(json.dumps({r: enforcer.enforce(r, {"project_id": "p"}, admin) for r in sys.argv[2:]}))
"""


def test_masakaris_policy_engine_enforces_the_written_overrides(ctx, installed, active, tmp_path):
    zipped = archive(tmp_path, {"deny.yaml": "os_masakari_api:segments:index: '!'\n"})
    ctx.run(ctx.on.config_changed(), with_overrides(active, zipped))
    rules = ["os_masakari_api:segments:index", "os_masakari_api:segments:detail"]
    proc = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", ENFORCE, str(installed.path(wl.MASAKARI_CONF))]
        + rules,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(proc.stdout) == {rules[0]: False, rules[1]: True}
