"""End-to-end failover on real services, configured only by files the charms wrote.

The stack is :mod:`failover_stack`. The hypervisors register themselves through the
charms (masakari-monitors publishes, the masakari leader registers, disabling a spare's
nova-compute); the suite's zaza configure step then finds them through openstacksdk, as
zaza runs it; killing a hypervisor's pacemaker_remoted must end in a finished recovery,
for each recovery method, and the charm leaves the spares masakari used as masakari left
them; the day-2 actions run against the real API, and a host created by hand outlives
its masakari-monitors unit; an evacuation-delay shorter than a hypervisor's nova
service_down_time blocks the leader, and a failure there ends as it warned (nova refuses
to evacuate from a service it still sees up); 1,000 hosts register and leave. Through it
all the leader's state exporter, started from the files the charm wrote, and the Nagios
checks the charm wrote for nrpe report what changed: hosts on maintenance after the
failover, the recoveries finished, a notification forced into error.
"""

from __future__ import annotations

import datetime
import importlib.util
import os
import re
import signal
import subprocess
import time
import urllib.request

import charm_runs
import failover_stack
import pytest
import service_stack as ss
from ops import testing

MISSING = failover_stack.missing()
pytestmark = [
    pytest.mark.skipif(
        (bool(MISSING) or os.geteuid() != 0) and not os.environ.get("CI"),
        reason=f"needs root and {', '.join(MISSING) or 'nothing else'} (.ci/run installs them)",
    ),
    # openstacksdk's own deprecations, met inside its proxies.
    pytest.mark.filterwarnings("ignore::openstack.warnings.OpenStackDeprecationWarning"),
    pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
]
# The suite's zaza configure step (tests/zaza_masakari_setup.py), imported from its file.
_spec = importlib.util.spec_from_file_location(
    "zaza_masakari_setup", ss.ROOT / "tests" / "zaza_masakari_setup.py"
)
assert _spec is not None and _spec.loader is not None
zaza_setup = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(zaza_setup)
SPARE_REASON = "masakari: reserved host, kept free for evacuations"

MONITOR_HOST = "compute-0.maas"
# One failing hypervisor per recovery method, each in its own segment.
METHODS = {
    "auto": "compute-1.maas",
    "reserved_host": "compute-2.maas",
    "rh_priority": "compute-3.maas",
    "auto_priority": "compute-4.maas",
}
RESERVED = {"reserved_host": "reserved-2.maas", "rh_priority": "reserved-3.maas"}
# Where each hypervisor's masakari-monitors unit asks to be registered.
SEGMENT_OF = {
    MONITOR_HOST: "segment-auto",
    **{host: f"segment-{method}" for method, host in METHODS.items()},
    **{host: f"segment-{method}" for method, host in RESERVED.items()},
}
FIGURES: list[str] = []
EXPORTER_PORT = 9868  # the masakari charm's
EXPORTER_URL = f"http://127.0.0.1:{EXPORTER_PORT}/metrics"
_SAMPLE = re.compile(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)")


@pytest.fixture(scope="module")
def stack():
    if MISSING:
        pytest.fail(f"missing (bash .ci/run installs them): {', '.join(MISSING)}")
    # The engine marks a recovery in error failed (freeing its host) on its periodic
    # pass, every 120 s by default: the scenario of a refused evacuation waits for it.
    config = {
        "evacuation-delay": 1,
        "config-flags": "process_unfinished_notifications_interval=5",
    }
    stack = failover_stack.start([MONITOR_HOST, *METHODS.values()], masakari_config=config)
    try:
        failover_stack.start_hostmonitor(
            stack,
            MONITOR_HOST,
            {
                "host-monitoring-interval": 3,
                "host-monitoring-samples": 1,
                "host-stonith-wait": 1,
                "host-api-retry-interval": 2,
            },
        )
        FIGURES.append(f"stack up in {stack.started_in:.1f}s")
        yield stack
    finally:
        stack.close()
        for line in FIGURES:
            print(line)


def test_the_api_answers_through_the_units_haproxy_and_apache_as_the_catalog_says(stack):
    """The catalog lists what the charm published; a request there crosses haproxy, Apache."""
    token, catalog = stack.services.admin_token()
    entries = [s for s in catalog["token"]["catalog"] if s["type"] == "instance-ha"]
    assert [s["name"] for s in entries] == ["masakari"]
    published = stack.unit.identity_service
    listed = {e["interface"]: e["url"] for e in entries[0]["endpoints"]}
    project = catalog["token"]["project"]["id"]  # what keystone substitutes for tenant_id
    assert listed == {
        i: published[f"{i}_url"].replace("%(tenant_id)s", project)
        for i in ("public", "internal", "admin")
    }
    assert listed["public"] == f"http://127.0.0.1:{ss.PORTS['masakari']}/v1/{project}"
    access_log = stack.services.logs / "apache2" / "masakari_access.log"
    before = access_log.read_text().count("/segments")
    status, body = stack.services.call("GET", f"{listed['public']}/segments", token)
    assert status == 200 and body == {"segments": []}
    # haproxy (the charm's frontend) handed it to Apache (the charm's site), whose
    # mod_wsgi daemon runs the charm's WSGI entry as the masakari user.
    # (Apache logs a request once its answer has gone out.)
    ss.wait_until(lambda: access_log.read_text().count("/segments") == before + 1, 10, "log")
    wsgi_log = (stack.services.logs / "apache2" / "masakari_error.log").read_text()
    entry = "/usr/local/lib/masakari-charm/masakari-api.wsgi"
    assert f"Loading Python script file '{entry}'" in wsgi_log
    assert stack.services.pids["haproxy"] and stack.services.pids["apache2"]
    assert "masakari-api" not in stack.services.pids  # no standalone server


def test_haproxy_checks_the_api_at_layer_7_and_exports_what_it_sees(stack):
    """Each server is checked with a request masakari must answer, not a TCP connect.

    From gazpacho on that is /healthcheck, so disabling it (oslo.middleware's disable
    file) takes the unit out of haproxy, and enabling it brings it back.
    """
    import masakari_workload as wl

    def servers() -> list[dict[str, str]]:
        return [s for s in stack.services.haproxy_servers() if s["pxname"].startswith("masakari")]

    ss.wait_until(lambda: all(s["check_status"] == "L7OK" for s in servers()), 30, "L7OK")
    assert [s["status"] for s in servers()] == ["UP"]
    path = wl.health_check_path(charm_runs.RELEASE)
    access_log = stack.services.logs / "apache2" / "masakari_access.log"
    ss.wait_until(lambda: f'"GET {path} HTTP/1.1" 200' in access_log.read_text(), 30, "check")
    with urllib.request.urlopen("http://127.0.0.1:8405/metrics", timeout=5) as answer:
        page = answer.read().decode()
    assert 'haproxy_backend_active_servers{proxy="masakari-api_127.0.0.1"} 1' in page
    if path != "/healthcheck":
        return
    disable = stack.services.state / "masakari-etc" / "healthcheck_disable"
    disable.write_text("taken out by the functional test\n")
    try:
        ss.wait_until(lambda: servers()[0]["status"] == "DOWN", 60, "server DOWN")
        assert servers()[0]["check_status"] == "L7STS"
        # A TCP frontend with no server left closes the connection without an answer.
        assert not ss.http_ok(f"http://127.0.0.1:{ss.PORTS['masakari']}/")
    finally:
        disable.unlink()
    ss.wait_until(lambda: servers()[0]["status"] == "UP", 60, "server UP again")


def test_hypervisors_register_themselves_through_the_charms(stack):
    nova = stack.services.nova
    for host in [MONITOR_HOST, *METHODS.values()]:
        nova("POST", "/_double/service", {"host": host})
        stack.servers[host] = [
            nova("POST", "/_double/server", {"name": f"vm-{host}-{i}", "host": host})["id"]
            for i in range(2)
        ]
    # An operator disabled one spare by hand, as the deployment guide does; the charm
    # disables the other one when it registers it.
    nova("POST", "/_double/service", {"host": RESERVED["reserved_host"], "status": "disabled"})
    nova("POST", "/_double/service", {"host": RESERVED["rh_priority"]})
    nova("POST", "/_double/aggregate", {"name": "az-rack2", "hosts": [METHODS["reserved_host"]]})
    # An operator creates the segments that need another method than the charm's default.
    for method in METHODS:
        if method != "auto":
            result = stack.action(
                "create-segment", name=f"segment-{method}", **{"recovery-method": method}
            )
            assert result["segment"] == f"segment-{method}: {method}, COMPUTE"
    # Each hypervisor's masakari-monitors unit publishes where it belongs.
    for host, segment in SEGMENT_OF.items():
        config = {"segment-name": segment, "reserved-host": host in RESERVED.values()}
        _, bag = charm_runs.run_masakari_monitors(
            stack.root / f"registration-{host}", stack.facts, host, config
        )
        assert bag == {
            "protocol-version": "1",
            "hostname": host,
            "segment": segment,
            "reserved": str(host in RESERVED.values()).lower(),
            "service-down-time": "4",
            "resume-guests-state-on-host-boot": "false",
            "detection-time": "60",
        }
        stack.registration_bags[host] = bag

    first = stack.register()
    FIGURES.append(f"registration of {len(SEGMENT_OF)} hosts: {first.calls}, {first.seconds:.2f}s")
    assert first.status.message == "Unit is ready; hosts registered: 7, segments: 4", first.status
    assert first.writes == 1 + len(SEGMENT_OF) + 1  # segment-auto, every host, one spare
    assert nova_service(stack, RESERVED["rh_priority"])[1:] == ("disabled", SPARE_REASON)
    assert nova_service(stack, RESERVED["reserved_host"])[1:] == ("disabled", None)
    for method in METHODS:
        _, body = stack.masakari("GET", "/segments")
        segment = next(x for x in body["segments"] if x["name"] == f"segment-{method}")
        assert segment["recovery_method"] == method
        stack.segments[method] = segment["uuid"]
    assert set(stack.hosts("auto")) == {METHODS["auto"], MONITOR_HOST}
    assert stack.hosts("reserved_host")[RESERVED["reserved_host"]]["reserved"] is True
    assert stack.hosts("rh_priority")[METHODS["rh_priority"]]["reserved"] is False

    again = stack.register()
    assert again.writes == 0
    assert again.calls == {
        "token": 1,
        "GET versions": 1,
        "GET /segments": 1,
        "GET /segments/{id}/hosts": 4,
    }
    listing = stack.action("list-segments")["segments"].splitlines()
    assert "segment-auto: auto, COMPUTE, 2 hosts, auto (" in listing[0]
    assert f"  {RESERVED['reserved_host']} [reserved, auto]" in listing


def nova_service(stack, host: str) -> tuple[str, str, str | None]:
    """(id, status, disabled_reason) of ``host``'s nova-compute, as nova answers it."""
    url = f"http://127.0.0.1:{ss.PORTS['nova']}/v2.1/os-services?host={host}"
    service = stack.services.call("GET", url, "test")[1]["services"][0]
    return service["id"], service["status"], service["disabled_reason"]


def sdk_connection(stack):
    """An openstacksdk connection as zaza makes one: an admin session, internal endpoints."""
    from keystoneauth1 import session
    from keystoneauth1.identity import v3
    from openstack import connection

    auth = v3.Password(
        auth_url=stack.services.keystone_url,
        username="admin",
        password=stack.services.passwords["admin"],
        project_name="admin",
        user_domain_name="Default",
        project_domain_name="Default",
    )
    return connection.Connection(
        session=session.Session(auth=auth), interface="internal", region_name="RegionOne"
    )


def test_the_zaza_configure_step_finds_what_the_charms_registered(stack):
    """tests.yaml's configure step through openstacksdk; zaza's own one meets a 409."""
    from openstack import exceptions

    conn = sdk_connection(stack)
    assert zaza_setup.registered(conn, timeout=0) == SEGMENT_OF
    # zaza's create_segments: seg0, then every hypervisor registered again by hand.
    seg0 = conn.instance_ha.create_segment(
        name="seg0", recovery_method="auto", service_type="COMPUTE"
    )
    try:
        hypervisor = next(iter(conn.compute.hypervisors()))
        with pytest.raises(exceptions.ConflictException):
            conn.instance_ha.create_host(
                segment_id=seg0.uuid,
                name=hypervisor.name,
                control_attributes="SSH",
                type="COMPUTE",
            )
    finally:
        conn.instance_ha.delete_segment(seg0.uuid)
    # A hypervisor nova lists and nobody registered: the wait ends naming it.
    stack.services.nova("POST", "/_double/service", {"host": "zz-new.maas", "status": "disabled"})
    with pytest.raises(zaza_setup.RegistrationIncompleteError, match="zz-new.maas"):
        zaza_setup.registered(conn, timeout=1, interval=0.5)


@pytest.fixture(scope="module")
def watched(stack):
    """The leader's state exporter, run from the charm's files, and the checks it wrote."""
    unit = charm_runs.watch_masakari(stack.root / "masakari-watched", stack.facts, stack.config)
    assert ss.port_free(EXPORTER_PORT), f"something else listens on {EXPORTER_PORT}"
    stack.services.spawn("masakari-exporter", unit.daemon_argv)
    ss.wait_until(lambda: ss.http_ok(EXPORTER_URL), 60, "the state exporter to serve")
    yield unit
    stack.services.stop("masakari-exporter")


def scrape() -> dict[tuple[str, frozenset], float]:
    """The exporter's page as (family, labels) -> value."""
    with urllib.request.urlopen(EXPORTER_URL, timeout=30) as answer:
        text = answer.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            match = _SAMPLE.fullmatch(line)
            assert match, line
            labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match[2] or ""))
            samples[(match[1], labels)] = float(match[3])
    return samples


def family(samples: dict, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, got), v in samples.items() if n == name and wanted <= got)


def nagios_check(unit: charm_runs.WatchedUnit, name: str) -> tuple[int, str]:
    """Run one nrpe command as nrpe does (a shell line); its exit code and line."""
    line = unit.checks[name]
    proc = subprocess.run(line, shell=True, capture_output=True, text=True, timeout=60)  # noqa: S602
    return proc.returncode, proc.stdout.strip()


def wait_for_scrape(what: str, condition, timeout: float = 120) -> dict:
    """Scrape until ``condition(samples)`` holds (the exporter reuses a collection 30 s)."""
    found: dict = {}

    def holds() -> bool:
        found.update(samples=scrape())
        return bool(condition(found["samples"]))

    ss.wait_until(holds, timeout, what, interval=2)
    return found["samples"]


BEFORE: dict = {}


def test_before_a_failover_the_exporter_and_the_checks_see_a_healthy_cloud(stack, watched):
    targets = {
        j["static_configs"][0]["targets"][0] for j in watched.cos_agent["metrics_scrape_jobs"]
    }
    assert targets == {f"127.0.0.1:{EXPORTER_PORT}", "127.0.0.1:8405"}
    samples = wait_for_scrape(
        "the exporter to see every registered host",
        lambda s: family(s, "masakari_segment_hosts", segment="segment-auto") >= 2,
    )
    assert family(samples, "masakari_api_up") == 1
    for method, failing in METHODS.items():
        labels = {"segment": f"segment-{method}", "host": failing}
        assert family(samples, "masakari_host_on_maintenance", **labels) == 0
    assert family(samples, "masakari_segment_hosts_reserved", segment="segment-reserved_host") == 1
    calls = family(samples, "masakari_exporter_api_calls")
    segments = len(stack.masakari("GET", "/segments")[1]["segments"])
    # segments, hosts per segment, one page of 24 h, three unfinished statuses, one finished
    assert calls <= 1 + segments + 5 + 3 + 1 + 2, calls  # + token and versions at start
    BEFORE.update(
        finished=family(samples, "masakari_notifications", type="COMPUTE_HOST", status="finished"),
        last=family(samples, "masakari_last_recovery_finished_timestamp_seconds"),
    )
    for name in ("check_masakari-state", "check_masakari-api"):
        assert nagios_check(watched, name)[0] == 0, nagios_check(watched, name)
    code, line = nagios_check(watched, "check_masakari-hosts-maintenance")
    assert code == 0, line
    assert nagios_check(watched, "check_masakari-notifications-error")[0] == 0


def test_killing_a_hypervisor_recovers_it_with_every_method(stack):
    names = {h["uuid"]: name for m in METHODS for name, h in stack.hosts(m).items()}
    killed_at = {}
    for failing in METHODS.values():
        node = stack.remotes[failing]
        node.read_pids()
        os.kill(node.pids["pacemaker-remoted"], signal.SIGKILL)
        killed_at[failing] = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)

    def finished_all():
        by_host = {}
        for n in stack.notifications():
            name = names.get(n.get("source_host_uuid"))
            if n["type"] == "COMPUTE_HOST" and name in killed_at:
                by_host.setdefault(name, n)
                # masakari's own timestamps: created, and last updated (finished).
                seen_at[name] = failover_stack.masakari_time(n["created_at"])
                if n["status"] == "finished":
                    done_at[name] = failover_stack.masakari_time(n["updated_at"])
        bad = [n for n in by_host.values() if n["status"] in ("failed", "ignored")]
        assert not bad, bad
        return len(done_at) == len(killed_at)

    seen_at: dict[str, datetime.datetime] = {}
    done_at: dict[str, datetime.datetime] = {}
    ss.wait_until(finished_all, 300, "every host notification to finish", interval=1)

    calls = stack.nova_calls()
    evacuations = [
        c for c in calls if c["method"] == "POST" and c["body"] and "evacuate" in c["body"]
    ]
    for method, failing in METHODS.items():
        to_notify = (seen_at[failing] - killed_at[failing]).total_seconds()
        to_finish = (done_at[failing] - killed_at[failing]).total_seconds()
        FIGURES.append(
            f"{method:14} kill -> notification {to_notify:5.1f}s, -> finished {to_finish:5.1f}s "
            "(masakari's timestamps, 1 s resolution)"
        )
        host = stack.hosts(method)[failing]
        assert host["on_maintenance"] is True, host
        disabled = [
            c for c in calls if c["method"] == "PUT" and c["body"].get("status") == "disabled"
        ]
        assert disabled, "the failed host's nova-compute service was not disabled"
        mine = [c for c in evacuations if c["path"].split("/")[3] in stack.servers[failing]]
        assert len(mine) == 2, (method, mine)
        targets = {c["body"]["evacuate"].get("host") for c in mine}
        if method in ("reserved_host", "rh_priority"):
            assert targets == {RESERVED[method]}, (method, targets)
            assert stack.hosts(method)[RESERVED[method]]["reserved"] is False
        else:
            assert targets == {None}, (method, targets)
    servers = {s["id"]: s for s in stack.services.nova("GET", "/_double/servers")["servers"]}
    for failing in METHODS.values():
        assert all(servers[s]["host"] != failing for s in stack.servers[failing])


def test_after_the_failover_the_hosts_on_maintenance_and_recoveries_are_counted(stack, watched):
    failed = set(METHODS.values())

    def seen(samples) -> bool:
        on = {
            dict(labels)["host"]
            for (n, labels), v in samples.items()
            if n == "masakari_host_on_maintenance" and v == 1
        }
        return failed <= on

    samples = wait_for_scrape("the failed hosts on maintenance", seen)
    finished = family(samples, "masakari_notifications", type="COMPUTE_HOST", status="finished")
    assert finished >= BEFORE["finished"] + len(METHODS)
    assert family(samples, "masakari_last_recovery_finished_timestamp_seconds") > max(
        BEFORE["last"], time.time() - 600
    )
    assert family(samples, "masakari_notifications_unfinished", status="error") == 0
    code, line = nagios_check(watched, "check_masakari-hosts-maintenance")
    assert code == 1, line  # WARNING, naming the hosts left on maintenance
    assert all(host in line for host in sorted(failed)[:3]), line
    assert nagios_check(watched, "check_masakari-notifications-error")[0] == 0


def test_a_notification_forced_into_error_fires_the_check(stack, watched):
    # The engine retries notifications in error within seconds: stopped, it leaves one be.
    stack.services.stop("masakari-engine")
    try:
        uuid = next(
            n["notification_uuid"] for n in stack.notifications() if n["status"] == "finished"
        )
        stack.services.sql(
            f"UPDATE masakari.notifications SET status='error' WHERE notification_uuid='{uuid}'"
        )
        samples = wait_for_scrape(
            "the notification in error",
            lambda s: family(s, "masakari_notifications_unfinished", status="error") == 1,
        )
        assert family(samples, "masakari_notification_oldest_unfinished_age_seconds") > 0
        code, line = nagios_check(watched, "check_masakari-notifications-error")
        assert code == 2, line
        stack.services.sql(
            f"UPDATE masakari.notifications SET status='finished' WHERE notification_uuid='{uuid}'"
        )
        wait_for_scrape(
            "no notification in error",
            lambda s: family(s, "masakari_notifications_unfinished", status="error") == 0,
        )
        assert nagios_check(watched, "check_masakari-notifications-error")[0] == 0
    finally:
        assert stack.unit is not None
        stack.services.start_engine(stack.unit.root)


def test_instance_failure_stops_and_starts_the_instance(stack):
    server = stack.servers[MONITOR_HOST][0]
    payload = {"event": "LIFECYCLE", "instance_uuid": server, "vir_domain_event": "STOPPED_FAILED"}
    status, body = stack.notify("VM", MONITOR_HOST, payload)
    assert 200 <= status < 300, body
    uuid = body["notification"]["notification_uuid"]
    ss.wait_until(lambda: stack.notification(uuid)["status"] == "finished", 120, "VM notification")
    actions = [
        next(iter(c["body"]))
        for c in stack.nova_calls()
        if c["method"] == "POST" and c["path"].endswith(f"/servers/{server}/action")
    ]
    assert "os-stop" in actions and "os-start" in actions, actions
    assert actions.index("os-stop") < actions.index("os-start")
    stack.duplicate_payload = payload


def test_duplicate_and_maintenance_notifications_are_refused(stack):
    status, body = stack.notify("VM", MONITOR_HOST, stack.duplicate_payload)
    assert status == 409, body
    assert "duplicate" in str(body).lower()
    status, body = stack.notify(
        "COMPUTE_HOST",
        METHODS["auto"],
        {"event": "STOPPED", "host_status": "NORMAL", "cluster_status": "OFFLINE"},
    )
    assert status == 409, body
    assert "maintenance" in str(body).lower()


def test_the_way_back_after_a_failover_uses_the_actions(stack):
    failed = METHODS["auto"]
    listing = stack.action("list-notifications", hostname=failed, status="finished")
    assert listing["count"] == "1"
    assert "COMPUTE_HOST" in listing["notifications"] and failed in listing["notifications"]
    # The post-mortem: the recovery's steps and where each instance went.
    uuid = listing["notifications"].split()[-1]
    recent = stack.action("list-notifications", segment="segment-auto", since="1d")
    assert uuid in recent["notifications"], recent
    assert (
        uuid
        not in stack.action("list-notifications", segment="segment-rh_priority")["notifications"]
    )
    shown = stack.action("show-notification", notification=uuid)
    assert shown["notification"].startswith(f"{uuid}: COMPUTE_HOST finished, host {failed}")
    assert "EvacuateInstancesTask: SUCCESS" in shown["recovery"].splitlines(), shown
    moves = stack.action("list-vmoves", notification=uuid)
    assert moves["count"] == "2", moves
    for server in stack.servers[failed]:
        (line,) = [m for m in moves["vmoves"].splitlines() if f" {server}: " in m]
        assert f"{server}: {failed} -> " in line and line.endswith("evacuation succeeded"), line
    assert moves["vmoves"] == shown["vmoves"]
    # The failed node's unit goes away while masakari still holds it on maintenance.
    others = [h for h in SEGMENT_OF if h != failed]
    run = stack.register(others)
    assert run.status.name == "waiting"
    assert f"not removing {failed} from segment-auto: it is on maintenance" in run.status.message
    assert failed in stack.hosts("auto")
    # The operator's documented way back: maintenance off once the node is dealt with.
    result = stack.action("set-host-maintenance", hostname=failed, state="off")
    assert result["host"].startswith(f"{failed} is off maintenance")
    run = stack.register(others)
    assert run.status.message == "Unit is ready; hosts registered: 6, segments: 4"
    assert set(stack.hosts("auto")) == {MONITOR_HOST}
    # masakari evacuated onto the spares and cleared their reserved flag: still so.
    for method, spare in RESERVED.items():
        assert stack.hosts(method)[spare]["reserved"] is False, (method, spare)
        assert nova_service(stack, spare)[1] == "enabled"
    with pytest.raises(testing.ActionFailed) as refused:
        stack.action("reserve-host", hostname=RESERVED["reserved_host"])
    assert refused.value.message.startswith(f"{RESERVED['reserved_host']} still hosts 2 instances")
    assert nova_service(stack, RESERVED["reserved_host"])[1] == "enabled"  # put back
    with pytest.raises(testing.ActionFailed) as refused:
        stack.action("remove-host", hostname=MONITOR_HOST)
    assert refused.value.message.startswith(f"automatic registration keeps {MONITOR_HOST}")
    # A hypervisor added by hand is the operator's: when its masakari-monitors unit
    # comes, the charm leaves the host alone and says so, and its departure keeps it.
    stack.services.nova("POST", "/_double/service", {"host": "bench-1.maas"})
    added = stack.action("add-host", segment="segment-auto", hostname="bench-1.maas")
    assert added["host"] == "bench-1.maas is a host of segment-auto"
    by_hand = stack.hosts("auto")["bench-1.maas"]
    stack.registration_bags["bench-1.maas"] = {
        "hostname": "bench-1.maas",
        "segment": "segment-auto",
        "reserved": "false",
    }
    run = stack.register([*others, "bench-1.maas"])
    assert run.writes == 0
    assert run.status.message == (
        "Unit is ready; hosts registered: 7, segments: 4; host bench-1.maas in segment "
        "segment-auto registered by hand, left alone"
    )
    run = stack.register(others)  # its unit departs
    assert run.writes == 0 and run.status.message.endswith("hosts registered: 6, segments: 4")
    assert stack.hosts("auto")["bench-1.maas"] == by_hand
    assert stack.action("remove-host", hostname="bench-1.maas") == {
        "removed": "bench-1.maas from segment-auto"
    }


def test_a_segment_disabled_for_maintenance_ignores_failures_until_enabled(stack):
    """The maintenance window of the README: disable-segment, a failure, enable-segment."""
    result = stack.action("disable-segment", segment="segment-auto", reason="kernel updates")
    assert result["segment"].startswith("segment-auto is disabled (kernel updates)")
    listing = stack.action("list-segments")["segments"].splitlines()
    (line,) = [entry for entry in listing if entry.startswith("segment-auto:")]
    assert ", DISABLED (kernel updates) (" in line
    # Any instance will do: masakari looks at the segment before it looks at nova.
    payload = {
        "event": "LIFECYCLE",
        "instance_uuid": "00000000-0000-4000-8000-0000000000aa",
        "vir_domain_event": "STOPPED_FAILED",
    }
    status, body = stack.notify("VM", MONITOR_HOST, payload)
    assert 200 <= status < 300, body
    uuid = body["notification"]["notification_uuid"]
    ss.wait_until(lambda: stack.notification(uuid)["status"] == "ignored", 60, "ignored")
    result = stack.action("enable-segment", segment="segment-auto")
    assert (
        result["segment"] == "segment-auto is enabled: masakari recovers its hosts' failures again"
    )
    listing = stack.action("list-segments")["segments"]
    assert "DISABLED" not in listing and "kernel updates" not in listing


def test_a_delay_shorter_than_novas_service_down_time_blocks_and_fails_as_said(stack):
    """The leader's timing check, and the failure it warns of, on the real engine.

    slow-1's nova says service_down_time 300; the engine waits evacuation-delay 1 after a
    notification its host monitor sends 3 s after the failure. nova still sees the
    service up when masakari evacuates, refuses, and the recovery fails. (300 s, not a
    realistic 30: the engine's retry of the recovery must also fall inside the window,
    and on a loaded machine a retry has come 30 s after the heartbeats stopped.)
    """
    nova = stack.services.nova
    host = "slow-1.maas"
    nova("POST", "/_double/service", {"host": host})
    server = nova("POST", "/_double/server", {"name": "vm-slow", "host": host})["id"]
    options = {"segment-name": "segment-auto", "host-monitoring-interval": 3}
    _, bag = charm_runs.run_masakari_monitors(
        stack.root / f"registration-{host}", stack.facts, host, options, service_down_time=300
    )
    assert (bag["service-down-time"], bag["detection-time"]) == ("300", "3"), bag
    stack.registration_bags[host] = bag
    others = [h for h in SEGMENT_OF if h != METHODS["auto"]]
    run = stack.register([*others, host])
    assert run.status.name == "blocked"
    assert run.status.message.startswith(
        f"evacuation-delay 1 + detection 3s on {host} is shorter than nova's "
        "service_down_time 300: raise evacuation-delay to at least 297"
    ), run.status.message
    assert host in stack.hosts("auto")  # registered all the same
    # The failure it warns of: nova's heartbeats from slow-1 stop as the host dies.
    nova("POST", "/_double/heartbeats-stopped", {"host": host, "service_down_time": 300})
    status, body = stack.notify(
        "COMPUTE_HOST",
        host,
        {"event": "STOPPED", "host_status": "NORMAL", "cluster_status": "OFFLINE"},
    )
    assert 200 <= status < 300, body
    uuid = body["notification"]["notification_uuid"]
    ss.wait_until(lambda: stack.notification(uuid)["status"] == "failed", 120, "failed recovery")
    refused = [
        c
        for c in stack.nova_calls()
        if c["method"] == "POST"
        and c["path"].endswith(f"/servers/{server}/action")
        and "evacuate" in (c["body"] or {})
    ]
    assert refused, "masakari did not try to evacuate"
    (moved,) = [s for s in nova("GET", "/_double/servers")["servers"] if s["id"] == server]
    assert moved["host"] == host
    shown = stack.action("show-notification", notification=uuid)
    assert shown["notification"].startswith(f"{uuid}: COMPUTE_HOST failed, host {host}"), shown
    assert f"Failed to evacuate instances '{server}' from host '{host}'" in shown["recovery"]
    # One VM move per attempt: the engine retries a recovery in error once, then fails it.
    lines = [m for m in shown["vmoves"].splitlines() if f" {server}: " in m]
    assert lines, shown["vmoves"]
    for line in lines:
        assert f"{server}: {host} -> ?, evacuation failed (" in line, line
        assert f"Compute service of {host} is still in use" in line, line
    # The setting the status names clears it.
    fixed = charm_runs.register_hypervisors(
        stack.root / "masakari-leader",
        stack.facts,
        stack.related,
        config={**stack.config, "evacuation-delay": 297},
        app_data=stack.managed,
    )
    assert fixed.status.message == "Unit is ready; hosts registered: 7, segments: 4"
    # slow-1 goes, by the documented way back.
    assert stack.register(others).status.name == "waiting"
    stack.action("set-host-maintenance", hostname=host, state="off")
    run = stack.register(others)
    assert run.status.message == "Unit is ready; hosts registered: 6, segments: 4"
    assert host not in stack.hosts("auto")


def test_registering_a_thousand_hypervisors(stack):
    """Ten monitors applications of 100 hypervisors each: first pass, no-change pass, removal."""
    segments = [f"scale-{i}" for i in range(10)]
    bags: dict[str, list[dict]] = {s: [] for s in segments}
    for i in range(1000):
        name = f"scale-{i:04d}.maas"
        stack.services.nova("POST", "/_double/service", {"host": name})
        bags[segments[i % 10]].append(
            {"hostname": name, "segment": segments[i % 10], "reserved": "false"}
        )
    root = stack.root / "scale-leader"

    def record(label: str, run: charm_runs.RegistrationPass) -> None:
        FIGURES.append(
            f"1000 hosts, {label}: {sum(run.calls.values())} API calls "
            f"({run.writes} writes) in {run.seconds:.1f}s"
        )

    first = charm_runs.register_hypervisors(root, stack.facts, bags)
    record("first pass", first)
    assert first.status.message == "Unit is ready; hosts registered: 1000, segments: 10"
    assert first.writes == 1010
    again = charm_runs.register_hypervisors(root, stack.facts, bags, app_data=first.app_data)
    record("no-change pass", again)
    assert again.writes == 0
    assert again.calls == {
        "token": 1,
        "GET versions": 1,
        "GET /segments": 1,
        "GET /segments/{id}/hosts": 10,
    }
    gone = charm_runs.register_hypervisors(root, stack.facts, {}, app_data=first.app_data)
    record("every unit departed", gone)
    assert gone.status.message == "Unit is ready"
    assert gone.writes == 1010  # every host, then every emptied segment
    _, body = stack.masakari("GET", "/segments")
    assert not [s for s in body["segments"] if s["name"].startswith("scale-")]
