"""The ``shared-db`` relation (interface ``mysql-shared``) with mysql-router or percona-cluster.

The unit asks for a database and a user of the same name, used from its address; the
database side answers with ``db_host``, ``db_port``, ``password``, ``allowed_units``
and optionally ``ssl_ca``, as raw strings.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import quote

import ops

from ..fields import port_number, problem
from ..network import format_host
from .common import Endpoint, NotReady, Ready, check_fields, read_ca, remote_units


@dataclasses.dataclass(frozen=True)
class Database:
    """Connection details granted by mysql-router or percona-cluster."""

    host: str
    port: int | None
    password: str
    ssl_ca: str | None = None  # PEM text

    def uri(self, database: str, username: str, ca_file: str | None = None) -> str:
        """SQLAlchemy URI; the password is URL-quoted."""
        port = f":{self.port}" if self.port else ""
        url = (
            f"mysql+pymysql://{quote(username, safe='')}:{quote(self.password, safe='')}"
            f"@{format_host(self.host)}{port}/{database}?charset=utf8"
        )
        if ca_file and self.ssl_ca:
            url += f"&ssl_ca={ca_file}"
        return url


class SharedDb(Endpoint):
    """The unit's side of ``shared-db``."""

    def __init__(self, model: ops.Model, name: str = "shared-db"):
        super().__init__(model, name)

    def publish(self, database: str, address: str) -> None:
        """Ask for ``database``, owned by a user of that name, used from ``address``."""
        self._publish({"database": database, "username": database, "hostname": address})

    def read(self) -> Ready[Database] | NotReady:
        """Whether the database is granted to this unit."""
        relation = self.relation
        if relation is None:
            return self.not_related()
        unit_name = self.model.unit.name
        for unit, data in remote_units(relation):
            if data.get("cluster-series-upgrading", "").lower() == "true":
                return NotReady(f"{self.name}: the database is being series-upgraded")
            if not (data.get("db_host") and data.get("password") and data.get("allowed_units")):
                continue
            if unit_name not in data["allowed_units"].split():
                return NotReady(f"{self.name}: {unit_name} is not yet in allowed_units")
            bad = check_fields(
                self.name, unit, data, hosts=("db_host",), ports=("db_port",), tokens=("password",)
            )
            if bad:
                return bad
            ssl_ca = read_ca(data["ssl_ca"]) if data.get("ssl_ca") else None
            if data.get("ssl_ca") and ssl_ca is None:
                return NotReady(problem(self.name, unit, "ssl_ca", "PEM or base64-encoded PEM"))
            port = port_number(data.get("db_port", ""))
            return Ready(Database(data["db_host"], port, data["password"], ssl_ca))
        return NotReady(f"{self.name}: waiting for database credentials")


def mysql_answer(
    password: str, allowed_units: str, *, host: str = "127.0.0.1", port: int = 3306
) -> dict[str, str]:
    """What mysql-router (or percona-cluster) writes on shared-db once it granted the user.

    For tests, demos and benchmarks that stand in for the database side.
    """
    return {
        "db_host": host,
        "db_port": str(port),
        "password": password,
        "allowed_units": allowed_units,
    }
