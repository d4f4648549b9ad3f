"""Properties of the registration pass and the segment actions against hostile input.

Hypothesis generates the actions' parameters (wrong types, control characters, huge
values, missing keys) and garbles the answers of the fake Masakari, Keystone and Nova
(not JSON, wrong JSON shapes, missing keys, wrong types). In every case the outcome is
an ``ApiError`` or a refusal with a message, never another exception, and the service
password appears in no message and no result.
"""

from __future__ import annotations

import json
import random
import re
import threading
import urllib.parse

import pytest
import segment_actions
from fake_masakari_api import FakeMasakari
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from masakari_api import ApiError, urllib_transport
from openstack_charm_lib.actions import ActionRefusedError
from openstack_charm_lib.relations.masakari_host import Hypervisor
from openstack_charm_testing import adversarial as adv
from registration import Managed, Settings, reconcile
from test_registration import RACK, client

SECRET = "ks-secret-pw"
AUTO = Settings("auto", "COMPUTE")
CASES = settings(
    max_examples=adv.budget(150), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
VALUE = st.one_of(
    TEXT,
    st.sampled_from(["compute-1", "rack-a", "on", "off", "auto", "x" * 300, "a\rb", "ok\x00"]),
    st.integers(-5, 5000),
    st.booleans(),
    st.none(),
    st.lists(TEXT, max_size=2),
)
KEYS = [
    "name",
    "hostname",
    "segment",
    "reserved",
    "state",
    "recovery-method",
    "service-type",
    "description",
    "status",
    "limit",
    "reason",
    "notification",
]
PARAMS = st.dictionaries(st.sampled_from(KEYS), VALUE, max_size=6)
DEPLOYMENT = segment_actions.Deployment(
    managed=Managed(),
    related_hosts=RACK,
    auto_register=True,
    recovery_method="auto",
    service_type="COMPUTE",
)


def deployment() -> FakeMasakari:
    fake = FakeMasakari()
    segment = fake.add_segment("rack-a")
    host = fake.add_host(segment, "compute-1")
    fake.add_host(segment, "spare-1", reserved=True)
    fake.add_notification(host, "finished")
    return fake


def outcome(run) -> str:
    """The action's results as text, or its clean failure's message."""
    try:
        results = run()
    except (ApiError, ActionRefusedError) as exc:
        return f"failed: {exc}"
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in results.items())
    return json.dumps(results)


@CASES
@given(action=st.sampled_from(sorted(segment_actions.HANDLERS)), params=PARAMS)
def test_any_action_parameters_succeed_or_fail_cleanly(action, params):
    fake = deployment()
    text = outcome(lambda: segment_actions.run(action, client(fake), params, DEPLOYMENT))
    assert SECRET not in text
    assert "\n" not in text.removeprefix("failed: ") or not text.startswith("failed")


ODD = [None, True, 0, -1, 2.5, "", "x" * 300, "\x00", "a\nb", [], {}, [1], {"k": None}]


def garble(rng: random.Random, answer: bytes) -> bytes:
    """``answer`` made hostile: other bytes, other JSON, or the same with parts broken."""
    kind = rng.choice(["bytes", "json", "mutate", "mutate"])
    if kind == "bytes":
        return rng.choice([b"", b"<html>", b"\xff\xfe", b"[" * 5000, rng.randbytes(12)])
    if kind == "json":
        return json.dumps(rng.choice(ODD)).encode()
    try:
        body = json.loads(answer)
    except ValueError:
        return answer
    return json.dumps(_mutate(rng, body)).encode()


def _mutate(rng: random.Random, value):
    """One key dropped or one value replaced, somewhere inside ``value``."""
    if isinstance(value, dict) and value:
        key = rng.choice(sorted(value))
        if rng.random() < 0.4:
            return {k: v for k, v in value.items() if k != key}
        inner = rng.choice(ODD) if rng.random() < 0.5 else _mutate(rng, value[key])
        return {**value, key: inner}
    if isinstance(value, list) and value:
        i = rng.randrange(len(value))
        return [*value[:i], _mutate(rng, value[i]), *value[i + 1 :]]
    return rng.choice(ODD)


def garbling(fake: FakeMasakari, rng: random.Random, target: str):
    """A transport whose answers to calls matching ``target`` are garbled."""
    lock = threading.Lock()  # registration adds hosts from several threads

    def transport(method, url, headers, body):
        status, head, raw = fake(method, url, headers, body)
        if re.fullmatch(target, f"{method} {urllib.parse.urlsplit(url).path}"):
            with lock:
                return status, head, garble(rng, raw)
        return status, head, raw

    return transport


CALLS = st.sampled_from(
    [
        "POST /v3/auth/tokens",
        "GET .*/segments",
        "POST .*/segments",
        "GET .*/hosts",
        "POST .*/hosts",
        "PUT .*/hosts/.*",
        "GET .*/notifications",
        "GET .*/os-services",
        "PUT .*/os-services/.*",
        "GET .*/servers/detail",
        ".*",
    ]
)


@CASES
@given(target=CALLS, rng=st.randoms(use_true_random=False))
def test_malformed_answers_never_crash_the_registration_pass(target, rng):
    fake = deployment()
    api = client(fake)
    api._transport = garbling(fake, rng, target)
    desired = {
        **RACK,
        "spare-1": Hypervisor("spare-1", "rack-a", True),
        "compute-9": Hypervisor("compute-9", "rack-b", True),
    }
    managed = Managed({"rack-a": {}}, {"compute-2": "rack-a"}, nova={"spare-1"})
    try:
        report = reconcile(api, desired, managed, AUTO)
    except ApiError as exc:
        assert SECRET not in str(exc)
        return
    text = json.dumps([report.done, report.blocked, report.retry, report.drift])
    assert SECRET not in text
    assert Managed.loads(report.managed.dumps()) == report.managed


@CASES
@given(
    action=st.sampled_from(sorted(segment_actions.HANDLERS)),
    target=CALLS,
    rng=st.randoms(use_true_random=False),
    hostname=st.sampled_from(["compute-1", "spare-1"]),
)
def test_malformed_answers_fail_actions_cleanly(action, target, rng, hostname):
    fake = deployment()
    fake.servers["compute-1"] = ["vm-1"]
    api = client(fake)
    api._transport = garbling(fake, rng, target)
    params = {
        "name": "edge",
        "hostname": hostname,
        "segment": "rack-a",
        "state": "on",
    }
    assert SECRET not in outcome(lambda: segment_actions.run(action, api, params, DEPLOYMENT))


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1/v3/auth/tokens",
        "http://10.5.0.11:99999/v3",
        "http://10.5.0.11:port/v3",
        "htt p://10.5.0.11/v3",
        "http://bad\nhost/v3",
        "http://\x00/v3",
        "://nothing",
        "",
    ],
)
def test_a_keystone_url_that_is_not_one_is_an_api_error(url):
    with pytest.raises(ApiError) as err:
        urllib_transport("POST", url, {}, b"{}")
    assert err.value.status is None
