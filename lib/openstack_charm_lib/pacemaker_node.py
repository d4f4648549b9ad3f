"""The pacemaker-node relation: pacemaker-remote tells masakari-monitors its node name.

Masakari's host monitor reports a failed hypervisor by its Pacemaker node name, and
masakari finds the host only when that name is also nova's compute host and the name
masakari-monitors registered. The monitors charm checks all three, so it needs the
node name the pacemaker-remote charm on the same machine registers with hacluster.

Protocol (interface ``pacemaker-node-name``, container scope, one remote unit):

* the provider (pacemaker-remote) publishes in its unit bag ``node-name``: the raw
  host name (not JSON) it gives hacluster as ``remote-hostname``, once that name is
  valid; it withdraws the key while its option is invalid;
* the requirer (masakari-monitors) reads it with :func:`read`; a missing key is
  "waiting", a value that is not one host name is a reason naming the relation, the
  unit and the field, never the value.
"""

from __future__ import annotations

import ops

from .relations import NotReady, Ready, check_fields, remote_units

RELATION = "pacemaker-node"
KEY = "node-name"


def publish(relation: ops.Relation, unit: ops.Unit, node_name: str | None) -> None:
    """Publish ``node_name`` in ``unit``'s bag; None withdraws it."""
    bag = relation.data[unit]
    if node_name is None:
        bag.pop(KEY, None)
    elif bag.get(KEY) != node_name:
        bag[KEY] = node_name


def read(relation: ops.Relation) -> Ready[str] | NotReady:
    """The node name the pacemaker-remote unit on this machine published."""
    for unit, data in remote_units(relation):
        if not data.get(KEY):
            continue
        bad = check_fields(relation.name, unit, data, hostnames=(KEY,))
        return bad or Ready(data[KEY])
    return NotReady(f"{relation.name}: waiting for pacemaker-remote to publish its node name")
