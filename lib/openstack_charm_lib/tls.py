"""TLS material: the ``certificates`` relation with vault, and the static ``ssl_*`` options.

Request shape (classic tls-certificates client): ``unit_name`` = ``<app>_<n>`` and
``cert_requests`` = JSON ``{cn: {"sans": [...]}}``. Vault answers with ``ca``,
optional ``chain`` and ``<unit_name>.processed_requests`` = JSON
``{cn: {"cert": pem, "key": pem}}``.

Every certificate, chain, CA and key is parsed (:mod:`.pem`) and the key must belong
to its certificate before any of it is written.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping

import ops

from . import pem
from .relations import Endpoint, NotReady, Ready, decode_base64, remote_units


@dataclasses.dataclass(frozen=True)
class Certificate:
    """A certificate (with chain appended) and its key, both PEM."""

    cert: str
    key: str


@dataclasses.dataclass(frozen=True)
class TlsMaterial:
    """Certificates by common name, and the CA that signed them."""

    certificates: Mapping[str, Certificate]
    ca: str | None


def juju_unit_key(unit_name: str) -> str:
    """``masakari/0`` as vault keys it: ``masakari_0``."""
    return unit_name.replace("/", "_")


class Certificates(Endpoint):
    """The unit's side of ``certificates`` (interface ``tls-certificates``)."""

    def __init__(self, model: ops.Model, name: str = "certificates"):
        super().__init__(model, name)

    def publish(self, requests: Mapping[str, list[str]]) -> None:
        """Ask for one certificate per common name, with its SANs."""
        body = {cn: {"sans": sorted(set(sans))} for cn, sans in requests.items()}
        self._publish(
            {
                "unit_name": juju_unit_key(self.model.unit.name),
                "cert_requests": json.dumps(body, sort_keys=True),
            }
        )

    def read(self, common_names: list[str]) -> Ready[TlsMaterial] | NotReady:
        """Certificates for every requested common name, once vault issued them all."""
        relation = self.relation
        if relation is None:
            return self.not_related()
        key = juju_unit_key(self.model.unit.name)
        for unit, data in remote_units(relation):
            ca = data.get("ca")
            raw = data.get(f"{key}.processed_requests")
            if ca and raw:
                return _read_issued(f"{self.name}: {unit} sent", data, raw, common_names)
        return NotReady(f"{self.name}: waiting for vault to issue certificates")


def vault_answer(
    unit_name: str, issued: Mapping[str, Mapping[str, object]], ca: str, chain: str = ""
) -> dict[str, str]:
    """What vault writes on ``certificates`` once it issued ``issued`` for ``unit_name``.

    ``issued`` maps each common name to its ``{"cert": pem, "key": pem}`` entry (written
    as given, so that a test can send a broken one). For tests, demos and benchmarks that
    stand in for vault.
    """
    answer = {
        "ca": ca,
        f"{juju_unit_key(unit_name)}.processed_requests": json.dumps(
            {cn: dict(entry) for cn, entry in issued.items()}
        ),
    }
    if chain:
        answer["chain"] = chain
    return answer


def _read_issued(
    where: str, data: Mapping[str, str], raw: str, common_names: list[str]
) -> Ready[TlsMaterial] | NotReady:
    """One vault unit's answer: its CA, chain and the certificate of each common name."""
    try:
        processed = json.loads(raw)
    except ValueError:
        processed = None
    if not isinstance(processed, dict):
        return NotReady(f"{where} unreadable processed_requests (not a JSON object)")
    bundles = {}
    for field in ("ca", "chain"):
        try:
            bundles[field] = "".join(pem.certificates(data[field])) if data.get(field) else ""
        except pem.PemError as exc:
            return NotReady(f"{where} an invalid {field}: {exc}")
    certs: dict[str, Certificate] = {}
    for cn in common_names:
        entry = processed.get(cn)
        if not (isinstance(entry, dict) and entry.get("cert") and entry.get("key")):
            return NotReady(f"certificates: waiting for a certificate for {cn}")
        try:
            cert, private = pem.check_pair(entry["cert"], entry["key"])
        except pem.PemError as exc:
            return NotReady(f"{where} an invalid certificate or key for {cn}: {exc}")
        certs[cn] = Certificate(cert + bundles["chain"], private)
    return Ready(TlsMaterial(certs, bundles["ca"]))


def read_static(
    ssl_cert: str, ssl_key: str, ssl_ca: str, common_name: str
) -> Ready[TlsMaterial] | NotReady | None:
    """The ``ssl_cert``/``ssl_key``/``ssl_ca`` options: None when unset, else parsed."""
    if not (ssl_cert or ssl_key):
        return None
    if not (ssl_cert and ssl_key):
        return NotReady("ssl_cert and ssl_key must be set together")
    decoded = {}
    for option, value in (("ssl_cert", ssl_cert), ("ssl_key", ssl_key), ("ssl_ca", ssl_ca)):
        text = decode_base64(value) if value else ""
        if value and text is None:
            return NotReady(f"{option} is not base64-encoded PEM")
        decoded[option] = text or ""
    try:
        cert, key = pem.check_pair(decoded["ssl_cert"], decoded["ssl_key"])
    except pem.PemError as exc:
        return NotReady(f"ssl_cert and ssl_key: {exc}")
    try:
        ca = "".join(pem.certificates(decoded["ssl_ca"])) if ssl_ca else None
    except pem.PemError as exc:
        return NotReady(f"ssl_ca: {exc}")
    return Ready(TlsMaterial({common_name: Certificate(cert, key)}, ca))
