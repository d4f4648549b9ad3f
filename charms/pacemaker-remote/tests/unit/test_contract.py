"""The published bag decoded exactly as hacluster decodes it.

hacluster's parse_data: take the value, try ``json.loads``, and on failure
``ast.literal_eval`` (a raw host name fails both and crashes its hook).
"""

from __future__ import annotations

import ast
import json

import remote_relation as rr
from conftest import published, state
from hypothesis import given
from hypothesis import strategies as st


def hacluster_decode(value: str):
    try:
        return json.loads(value)
    except ValueError:
        return ast.literal_eval(value)


def test_hacluster_decodes_the_types_it_needs(ctx, installed):
    installed.resolvable.add("compute-1.maas")
    for config in ({}, {"enable-stonith": True, "enable-resources": True}):
        bag = {
            k: hacluster_decode(v)
            for k, v in published(ctx.run(ctx.on.config_changed(), state(config=config))).items()
        }
        assert (
            isinstance(bag["remote-hostname"], str) and bag["remote-hostname"] == "compute-1.maas"
        )
        assert isinstance(bag["remote-ip"], str) and bag["remote-ip"] == "10.5.0.21"
        assert bag["stonith-hostname"] is None or isinstance(bag["stonith-hostname"], str)
        assert isinstance(bag["enable-resources"], bool)


def test_a_raw_hostname_would_not_decode():
    try:
        hacluster_decode("compute-1.maas")
    except SyntaxError:
        return
    raise AssertionError("a raw host name must not be decodable")  # pragma: no cover


@given(
    hostname=st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,10}){0,3}", fullmatch=True),
    ip=st.ip_addresses().map(str),
    stonith=st.one_of(st.none(), st.from_regex(r"[a-z][a-z0-9.-]{0,30}", fullmatch=True)),
    resources=st.booleans(),
)
def test_any_node_info_round_trips_through_hacluster_decoding(hostname, ip, stonith, resources):
    bag = rr.NodeInfo(hostname, ip, stonith, resources).relation_data()
    decoded = {k: hacluster_decode(v) for k, v in bag.items()}
    assert decoded == {
        "remote-hostname": hostname,
        "remote-ip": ip,
        "stonith-hostname": stonith,
        "enable-resources": resources,
    }
