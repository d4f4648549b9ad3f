"""haproxy's view of masakari-api: a layer-7 check per release, and loopback-only listeners.

The rendered haproxy.cfg is parsed into sections (haproxy's own grammar: a keyword at
the start of a line opens a section, indented lines are its directives), so each
assertion is about the section it belongs to.
"""

from __future__ import annotations

import dataclasses

import masakari_workload as wl
import ops
import pytest
from conftest import MASAKARI_PACKAGES, full_state, synced
from openstack_charm_lib.releases import OPENSTACK_RELEASES
from test_relations_payloads import VIP, certificates_relation

SECTION_KEYWORDS = ("global", "defaults", "frontend", "backend", "listen")


def sections(cfg: str) -> dict[str, list[str]]:
    """``{"backend masakari-api_10.5.0.50": [directive, ...], ...}`` of a haproxy.cfg."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in cfg.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            assert line.split()[0] in SECTION_KEYWORDS, line
            current = found.setdefault(" ".join(line.split()), [])
        else:
            assert current is not None, line
            current.append(" ".join(line.split()))
    return found


def backends(cfg: str) -> dict[str, list[str]]:
    return {k: v for k, v in sections(cfg).items() if k.startswith("backend ")}


def binds(cfg: str) -> set[str]:
    return {d.split()[1] for lines in sections(cfg).values() for d in lines if d[:5] == "bind "}


def check_directives(cfg: str) -> set[tuple[str, ...]]:
    """The health-check directives, the same for every backend (asserted)."""
    found = {
        tuple(d for d in lines if d.startswith(("option httpchk", "http-check")))
        for lines in backends(cfg).values()
    }
    assert len(found) == 1, found
    return found.pop()


def layer7(path: str) -> tuple[str, ...]:
    return (
        "option httpchk",
        f"http-check send meth GET uri {path} ver HTTP/1.1 hdr Host localhost",
        "http-check expect status 200",
    )


@pytest.mark.parametrize("release", [*OPENSTACK_RELEASES, None])
def test_the_check_asks_for_healthcheck_from_gazpacho_and_the_version_document_before(release):
    has_healthcheck = release is not None and OPENSTACK_RELEASES.index(
        release
    ) >= OPENSTACK_RELEASES.index("gazpacho")
    assert wl.health_check_path(release) == ("/healthcheck" if has_healthcheck else "/")


def test_every_server_is_checked_at_layer_7_on_caracal(ctx, installed):
    peers = {1: {"private-address": "10.5.0.51"}}
    ctx.run(ctx.on.config_changed(), full_state(peers=peers, app_data=synced()))
    cfg = installed.read_text(wl.HAPROXY_CFG)
    assert check_directives(cfg) == layer7("/")
    servers = [d for lines in backends(cfg).values() for d in lines if d.startswith("server ")]
    assert servers == [
        "server masakari-0 10.5.0.50:15858 check",
        "server masakari-1 10.5.0.51:15858 check",
    ]


def test_an_upgrade_to_gazpacho_switches_the_check_to_healthcheck(ctx, installed):
    out = ctx.run(ctx.on.config_changed(), full_state(app_data=synced()))
    installed.available.update(dict.fromkeys(MASAKARI_PACKAGES, "1:21.0.0-0ubuntu1~cloud0"))
    installed.clear()
    out = ctx.run(
        ctx.on.config_changed(), dataclasses.replace(out, config={"openstack-origin": "gazpacho"})
    )
    assert check_directives(installed.read_text(wl.HAPROXY_CFG)) == layer7("/healthcheck")
    assert "haproxy" in installed.restarted()
    assert out.unit_status == ops.ActiveStatus("Unit is ready")


def test_with_tls_the_layer_7_check_runs_over_tls(ctx, installed):
    certs = certificates_relation(["juju-m-0.maas"])
    state = full_state(config={"vip": VIP}, extra=[certs], app_data=synced())
    ctx.run(ctx.on.relation_changed(certs), state)
    cfg = installed.read_text(wl.HAPROXY_CFG)
    assert check_directives(cfg) == layer7("/")
    servers = [d for lines in backends(cfg).values() for d in lines if d.startswith("server ")]
    assert servers == ["server masakari-0 10.5.0.50:15858 check check-ssl verify none"]


def test_stats_and_prometheus_listen_on_loopback_away_from_the_collectors_port(ctx, installed):
    ctx.run(ctx.on.config_changed(), full_state(app_data=synced()))
    cfg = installed.read_text(wl.HAPROXY_CFG)
    parsed = sections(cfg)
    assert "bind 127.0.0.1:8404" in parsed["listen stats"]
    exporter = parsed["frontend prometheus"]
    assert exporter[:2] == ["bind 127.0.0.1:8405", "mode http"]
    assert "http-request use-service prometheus-exporter if { path /metrics }" in exporter
    assert binds(cfg) == {"127.0.0.1:8404", "127.0.0.1:8405", "*:15868"}
    assert not any(":8888" in b for b in binds(cfg))
