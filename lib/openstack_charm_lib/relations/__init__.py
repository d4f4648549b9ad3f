"""The relations of the suite's charms, one module per relation.

Each module holds the wire format of one relation with an existing charm (raw strings,
one value per key), the typed view a reader returns and the :class:`~.common.Endpoint`
that owns this unit's side: ``shared_db`` (mysql-router, percona-cluster), ``amqp``
(rabbitmq-server), ``identity_service`` and ``identity_credentials`` (keystone), and
``masakari_host``, the versioned protocol between masakari-monitors and masakari.
``certificates`` (vault) lives in :mod:`..tls` and ``ha`` (hacluster) in
:mod:`..hacluster`, next to the files and payloads they shape. :mod:`.common` holds
``Ready``/``NotReady`` and the field checks every reader applies.
"""

from .common import (
    Endpoint,
    NotReady,
    Ready,
    check_fields,
    decode_base64,
    read_ca,
    remote_units,
)

__all__ = [
    "Endpoint",
    "NotReady",
    "Ready",
    "check_fields",
    "decode_base64",
    "read_ca",
    "remote_units",
]
