"""What runs on a pacemaker-remote unit and what it tells hacluster.

The relation bag is JSON-encoded value by value (hacluster decodes every value with
``json.loads``, falling back to ``ast.literal_eval``; a raw host name would crash it).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json

PACKAGES = ["pacemaker-remote", "resource-agents"]
SERVICE = "pacemaker_remote"
PORT = 3121
AUTHKEY = "/etc/pacemaker/authkey"
# Left by a corosync package (the old charm installed one): with it, this host could
# start corosync and form a cluster of its own instead of being a remote node.
COROSYNC_LEFTOVERS = ("/etc/corosync/corosync.conf",)
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
