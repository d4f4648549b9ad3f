"""The masakari charm's rendered files, loaded by the software that reads them.

haproxy checks haproxy.cfg (``haproxy -c``); masakari's own option definitions load
masakari.conf and read every option with its type (the validator only checks names).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import charm
import masakari_workload as wl
import pytest
from masakari_unit_fixtures import (
    CERT_PEM,
    KEY_PEM,
    OPT_NAMESPACES,
    PACKAGE_VERSIONS,
    SERVICE_PORTS,
    b64,
    full_state,
    synced,
)
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
        "config-flags": "host_failure_recovery_threads=3",
        "ssl_cert": b64(CERT_PEM),
        "ssl_key": b64(KEY_PEM),
    },
}


@pytest.fixture(params=list(CONFIGS), ids=list(CONFIGS))
def rendered(request, tmp_path, monkeypatch):
    host = FakeHost(tmp_path / "root", available=PACKAGE_VERSIONS, service_ports=SERVICE_PORTS)
    host.installed.update(PACKAGE_VERSIONS)
    monkeypatch.setattr(charm.MasakariCharm, "_make_host", lambda self: host)
    ctx = testing.Context(charm.MasakariCharm)
    peers = {1: {"private-address": "10.5.0.51"}}
    out = ctx.run(
        ctx.on.config_changed(),
        full_state(config=CONFIGS[request.param], peers=peers, app_data=synced()),
    )
    # blocked only for "2 units without HA"; anything else would leave files unwritten
    assert out.unit_status.name in ("active", "blocked"), out.unit_status
    assert not out.unit_status.message.startswith("Invalid config"), out.unit_status
    return host


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
    import configparser, sys
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


def typecheck(text: str, tmp_path) -> subprocess.CompletedProcess[str]:
    target = tmp_path / "masakari.conf"
    target.write_text(text)
    return subprocess.run(
        [sys.executable, "-c", TYPECHECK, str(target), ",".join(OPT_NAMESPACES)],
        capture_output=True,
        text=True,
        timeout=120,
    )


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
