"""The ``pacemaker-remote`` relation with hacluster: what this node publishes, the key it reads.

This unit publishes the node hacluster should create (:class:`NodeInfo`), JSON-encoded
value by value: hacluster decodes every value with ``json.loads``, falling back to
``ast.literal_eval``, and a raw host name would crash it. hacluster answers with the
cluster's ``pacemaker-key`` (base64); every hacluster unit must send the same one.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json

import ops
from openstack_charm_lib.relations import Endpoint, remote_units

RELATION = "pacemaker-remote"
MIN_KEY_BYTES = 16
MAX_KEY_BYTES = 4096


@dataclasses.dataclass(frozen=True)
class NodeInfo:
    """What this unit publishes about itself."""

    remote_hostname: str
    remote_ip: str
    stonith_hostname: str | None
    enable_resources: bool

    def relation_data(self) -> dict[str, str]:
        """The unit data bag, each value JSON-encoded as hacluster expects."""
        return {
            "remote-hostname": json.dumps(self.remote_hostname),
            "remote-ip": json.dumps(self.remote_ip),
            "stonith-hostname": json.dumps(self.stonith_hostname),
            "enable-resources": json.dumps(self.enable_resources),
        }


def fenced_names(stonith_hostname: str) -> tuple[str, ...]:
    """The node names hacluster's st-maas lists for ``stonith_hostname``.

    hacluster puts every stonith-hostname and, for a dotted name, its first label into the
    resource's ``hostnames`` parameter; Pacemaker fences only nodes named there.
    """
    short = stonith_hostname.split(".")[0]
    return (stonith_hostname,) if short == stonith_hostname else (stonith_hostname, short)


class AuthKeyError(ValueError):
    """The pacemaker-key from hacluster is unusable; the message says why."""


def decode_key(value: str) -> bytes:
    """Decode hacluster's base64 ``pacemaker-key``; raise AuthKeyError when unusable."""
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise AuthKeyError("pacemaker-key from hacluster is not valid base64") from None
    if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
        raise AuthKeyError(
            f"pacemaker-key from hacluster is {len(key)} bytes; "
            f"expected {MIN_KEY_BYTES} to {MAX_KEY_BYTES}"
        )
    return key


class HaclusterRemote(Endpoint):
    """The unit's side of the relation with hacluster."""

    def __init__(self, model: ops.Model):
        super().__init__(model, RELATION)

    def address(self) -> str:
        """The unit's ingress address on the relation's binding; "" while it has none."""
        relation = self.relation
        binding = self.model.get_binding(relation) if relation is not None else None
        network = binding.network if binding is not None else None
        address = network.ingress_address if network is not None else None
        return str(address) if address else ""

    def publish(self, info: NodeInfo) -> None:
        """Tell hacluster the node to create."""
        self._publish(info.relation_data())

    def read_key(self) -> bytes | ops.StatusBase:
        """The authkey all hacluster units agree on, or the status explaining why not."""
        relation = self.relation
        units = remote_units(relation) if relation is not None else []
        sent = {
            unit: data["pacemaker-key"].strip()
            for unit, data in units
            if data.get("pacemaker-key")
        }
        if not sent:
            return ops.WaitingStatus("Waiting for the pacemaker authkey from hacluster")
        if len(set(sent.values())) > 1:
            return ops.BlockedStatus(
                f"hacluster units send different pacemaker-key values ({', '.join(sent)}); "
                "set hacluster's pacemaker_key option so that they agree"
            )
        try:
            return decode_key(next(iter(sent.values())))
        except AuthKeyError as exc:
            # Name the relation, the units and the field; never the value.
            return ops.BlockedStatus(f"{RELATION} relation, {', '.join(sent)}: {exc}")
