"""The masakari charm's rendered files, loaded by the software that reads them.

haproxy checks haproxy.cfg (``haproxy -c``); masakari's own option definitions load
masakari.conf and read every option with its type (the validator only checks names).
The engine options are also read back by the masakari of every release the charm
supports (the venvs of :mod:`release_matrix`), with the values they were given.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import textwrap

import charm
import masakari_workload as wl
import pytest
import release_matrix
from masakari_config import ENGINE_OPTIONS
from masakari_unit_fixtures import (
    CERT_PEM,
    KEY_PEM,
    MASAKARI_PACKAGES,
    OPT_NAMESPACES,
    PACKAGE_VERSIONS,
    SERVICE_PORTS,
    b64,
    full_state,
    synced,
)
from openstack_charm_lib.releases import OPENSTACK_RELEASES, release_index
from openstack_charm_testing import FakeHost
from ops import testing

CONFIGS = {
    "defaults": {},
    "tls-and-tunables": {
        "debug": True,
        "use-internal-endpoints": True,
        "worker-multiplier": 1.5,
        "haproxy-client-timeout": 30000,
        "coordination-backend-url": "etcd3+http://127.0.0.1:2379",
        "config-flags": "verify_interval=3",
        "ssl_cert": b64(CERT_PEM),
        "ssl_key": b64(KEY_PEM),
    },
}


# Every engine option away from its default; notification-delay-max only where it exists.
ENGINE_CONFIG = {
    "host-failure-recovery-threads": 8,
    "ignore-instances-in-error-state": True,
    "add-reserved-host-to-aggregate": True,
    "host-failure-metadata-key": "ha:host",
    "process-all-instances": True,
    "instance-failure-metadata-key": "HA instance",
    "wait-after-evacuation": 300,
    "wait-after-power-off": 30,
    "wait-after-power-on": 20,
    "duplicate-notification-interval": 0,
}
DELAY_RELEASE = "hibiscus"  # the first release whose masakari has notification_delay_max


def render(tmp_path, monkeypatch, config, release="caracal") -> FakeHost:
    """Run config-changed on a unit with ``release``'s masakari installed.

    The unit first applies its (default) origin on caracal's packages; the packages then
    move to ``release`` as an operator's own apt run would move them (a newer release
    from the unit's origin would be refused as a downgrade otherwise).
    """

    def versions(of: str) -> dict[str, str]:
        version = f"{13 + OPENSTACK_RELEASES.index(of)}.0.0-0ubuntu1"
        return PACKAGE_VERSIONS | dict.fromkeys(MASAKARI_PACKAGES, version)

    host = FakeHost(tmp_path / "root", available=versions(release), service_ports=SERVICE_PORTS)
    host.installed.update(versions("caracal"))
    monkeypatch.setattr(charm.MasakariCharm, "make_host", lambda self: host)
    ctx = testing.Context(charm.MasakariCharm)
    peers = {1: {"private-address": "10.5.0.51"}}
    state = full_state(peers=peers, app_data=synced(release))
    applied = ctx.run(ctx.on.config_changed(), state)
    host.installed.update(versions(release))
    host.remove_file(wl.MASAKARI_CONF)  # what follows is rendered for this release alone
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(applied, config=config))
    # blocked only for "2 units without HA"; anything else would leave files unwritten
    assert out.unit_status.name in ("active", "blocked"), out.unit_status
    assert not out.unit_status.message.startswith("Invalid config"), out.unit_status
    assert host.exists(wl.MASAKARI_CONF), out.unit_status
    return host


@pytest.fixture(params=list(CONFIGS), ids=list(CONFIGS))
def rendered(request, tmp_path, monkeypatch):
    return render(tmp_path, monkeypatch, CONFIGS[request.param])


@pytest.mark.skipif(
    shutil.which("haproxy") is None and not os.environ.get("CI"),
    reason="haproxy is not installed (.ci/run installs it; in CI this test never skips)",
)
def test_haproxy_accepts_the_rendered_config(rendered):
    result = subprocess.run(
        ["haproxy", "-c", "-f", str(rendered.path(wl.HAPROXY_CFG))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


TYPECHECK = textwrap.dedent(
    """
    import configparser, json, sys
    from oslo_config import cfg, generator
    written = configparser.ConfigParser(interpolation=None)
    written.read(sys.argv[1])
    present = {"DEFAULT", *written.sections()}
    conf = cfg.ConfigOpts()
    for _namespace, listing in generator._list_opts(sys.argv[2].split(",")):
        for group, opts in listing:
            name = getattr(group, "name", group) or "DEFAULT"
            if name not in present:
                continue  # only the sections the charm wrote (others may hold required opts)
            for opt in opts:
                try:
                    conf.register_opt(opt, group=None if name == "DEFAULT" else name)
                except cfg.DuplicateOptError:
                    pass
    conf(["--config-file", sys.argv[1]], project="masakari", default_config_files=[])
    # The typed value of each section/key asked for, "UNKNOWN" where masakari has none.
    asked = {}
    for wanted in filter(None, sys.argv[3].split(",")):
        group, key = wanted.split("/")
        try:
            asked[wanted] = getattr(conf if group == "DEFAULT" else getattr(conf, group), key)
        except cfg.NoSuchOptError:
            asked[wanted] = "UNKNOWN"
    print("VALUES " + json.dumps(asked))
    errors = 0
    for name in ["DEFAULT", *conf.list_all_sections()]:
        section = conf if name == "DEFAULT" else getattr(conf, name, None)
        for opt_name in list(section or ()):
            try:
                getattr(section, opt_name)
            except Exception as exc:
                errors += 1
                print(f"TYPE-ERROR [{name}] {opt_name}: {exc}")
    sys.exit(1 if errors else 0)
    """
)


def typecheck(
    text: str, tmp_path, python: str = sys.executable, keys: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """Load ``text`` with the masakari of ``python``; its stdout has the ``keys``' values."""
    target = tmp_path / "masakari.conf"
    target.write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    return subprocess.run(
        [python, "-c", TYPECHECK, str(target), ",".join(OPT_NAMESPACES), ",".join(keys)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def values_read(result: subprocess.CompletedProcess[str]) -> dict[str, object]:
    line = next(x for x in result.stdout.splitlines() if x.startswith("VALUES "))
    return json.loads(line.removeprefix("VALUES "))


def test_masakari_loads_every_option_with_its_type(rendered, tmp_path):
    result = typecheck(rendered.read_text(wl.MASAKARI_CONF), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_mistyped_value_is_caught(rendered, tmp_path):
    text = rendered.read_text(wl.MASAKARI_CONF).replace(
        "wait_period_after_service_update = ", "wait_period_after_service_update = soon"
    )
    result = typecheck(text, tmp_path)
    assert result.returncode == 1
    assert "TYPE-ERROR [DEFAULT] wait_period_after_service_update" in result.stdout


@pytest.mark.parametrize("release", list(release_matrix.RELEASES))
def test_each_releases_masakari_reads_the_engine_options_as_set(release, tmp_path, monkeypatch):
    try:
        venv = release_matrix.ensure_venv(
            release, [f"masakari=={release_matrix.RELEASES[release].masakari}"], "masakari-wsgi"
        )
    except release_matrix.MissingToolError as exc:
        pytest.skip(str(exc))
    has_delay = release_index(release) >= release_index(DELAY_RELEASE)
    config = ENGINE_CONFIG | ({"notification-delay-max": 2} if has_delay else {})
    host = render(tmp_path, monkeypatch, config, release)
    keys = tuple(f"{o.section}/{o.key}" for o in ENGINE_OPTIONS)
    python = str(release_matrix.venv_python(venv))
    result = typecheck(host.read_text(wl.MASAKARI_CONF), tmp_path, python, keys)
    assert result.returncode == 0, result.stdout + result.stderr
    expected = {f"{o.section}/{o.key}": config[o.name] for o in ENGINE_OPTIONS if o.name in config}
    # Before hibiscus masakari has no such option, which is why the charm refuses it there.
    expected["DEFAULT/notification_delay_max"] = 2 if has_delay else "UNKNOWN"
    assert values_read(result) == expected
