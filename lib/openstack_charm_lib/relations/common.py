"""What every relation of the suite shares: the endpoint object and the reading rules.

An :class:`Endpoint` owns one relation endpoint of this unit: what the unit publishes on
it, and a reader of what the other side sent that returns a :class:`Ready` with a typed
view or a :class:`NotReady` whose ``reason`` says, for the status, what is still
missing. Readers never raise on malformed data: every field is checked for its form
(:mod:`..fields`, :mod:`..pem`) and a bad one is a reason naming the relation, the unit
and the field, so that nothing another application sends reaches a file unchecked.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Mapping
from typing import Generic, TypeVar
from urllib.parse import urlsplit

import ops

from .. import pem
from ..fields import is_host, is_host_name, is_token, port_number, problem

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Ready(Generic[T]):
    """The relation is complete; ``info`` holds what it provides."""

    info: T


@dataclasses.dataclass(frozen=True)
class NotReady:
    """The relation exists but cannot be used yet, for ``reason``."""

    reason: str


class Endpoint:
    """One endpoint of this unit's charm, with at most one relation (``limit: 1``)."""

    def __init__(self, model: ops.Model, name: str):
        self.model = model
        self.name = name

    @property
    def relation(self) -> ops.Relation | None:
        """The relation on this endpoint, if any."""
        return self.model.get_relation(self.name)

    @property
    def related(self) -> bool:
        """Whether the endpoint has a relation (complete or not)."""
        return self.relation is not None

    def not_related(self) -> NotReady:
        """The reason a reader gives when there is no relation to read."""
        return NotReady(f"{self.name}: not related")

    def _publish(self, data: Mapping[str, str]) -> None:
        if rel := self.relation:
            rel.data[self.model.unit].update(data)


def remote_units(relation: ops.Relation) -> list[tuple[str, Mapping[str, str]]]:
    """(unit name, data bag) of the remote units, ordered by unit name for determinism."""
    units = sorted(relation.units, key=lambda u: u.name)
    return [(u.name, relation.data[u]) for u in units]


def decode_base64(value: str) -> str | None:
    """Decode base64 text; None when it is not valid base64 of UTF-8 text."""
    try:
        return base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, ValueError):
        return None


def read_ca(value: str) -> str | None:
    """A CA bundle sent as PEM or as base64 of PEM, parsed; None when it is neither."""
    for text in (value, decode_base64(value)):
        if text:
            try:
                return "".join(pem.certificates(text))
            except pem.PemError:
                continue
    return None


def check_fields(
    relation: str,
    unit: str,
    data: Mapping[str, str],
    hosts: tuple[str, ...] = (),
    hostnames: tuple[str, ...] = (),
    ports: tuple[str, ...] = (),
    tokens: tuple[str, ...] = (),
    protocols: tuple[str, ...] = (),
) -> NotReady | None:
    """The first field of ``data`` that is present and not of its kind, as a reason."""
    kinds = (
        (hosts, is_host, "a host name or IP address"),
        (hostnames, is_host_name, "a host name"),
        (ports, lambda v: port_number(v) is not None, "a port number"),
        (tokens, is_token, "single-line text"),
        (protocols, lambda v: v in ("http", "https"), "http or https"),
    )
    for names, valid, expected in kinds:
        for name in names:
            if data.get(name) and not valid(data[name]):
                return NotReady(problem(relation, unit, name, expected))
    return None


def url_sides(**sides: str | None) -> dict[str, str]:
    """``<side>_host``, ``_port`` and ``_protocol`` keys of each ``side=URL`` given.

    Keystone's charm writes where each of its sides is served this way; the answer
    builders of the keystone relations share it.
    """
    data = {}
    for side, url in sides.items():
        if url is None:
            continue
        parts = urlsplit(url)
        data[f"{side}_host"] = parts.hostname or ""
        data[f"{side}_port"] = str(parts.port or "")
        data[f"{side}_protocol"] = parts.scheme
    return data
