"""Real OpenStack services for the end-to-end test, each started with its PID kept.

MariaDB (a private instance), epmd and RabbitMQ, memcached, keystone (gunicorn),
masakari-api and masakari-engine, and the Nova test double; all on 127.0.0.1 with state
under one directory. :meth:`ServiceStack.close` stops every process by PID.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

from pacemaker_cluster import stop_pid

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
# The services run from their own venv, resolved as of the charms' default release
# (caracal; see tests/functional/requirements-services.txt and tox -e func).
SERVICES_VENV = Path(os.environ.get("MASAKARI_SERVICES_VENV", ROOT / "build" / "services-venv"))
BIN = SERVICES_VENV / "bin"
PORTS = {"mysql": 13306, "keystone": 15357, "nova": 18774, "masakari": 15868, "memcached": 11211}
APT_PACKAGES = ("mariadb-server", "rabbitmq-server", "memcached")


def missing() -> list[str]:
    """What this stack needs that is not installed."""
    tools = [
        "mariadbd",
        "mariadb-install-db",
        "mysql",
        "rabbitmq-server",
        "rabbitmqctl",
        "epmd",
        "memcached",
    ]
    path = os.environ.get("PATH", "") + ":/usr/sbin:/usr/lib/rabbitmq/bin"
    found = [t for t in tools if shutil.which(t, path=path) is None]
    for venv_bin in (
        "keystone-manage",
        "gunicorn",
        "masakari-api",
        "masakari-engine",
        "masakari-hostmonitor",
    ):
        if not (BIN / venv_bin).exists():
            found.append(venv_bin)
    return found


def wait_until(check, timeout: float, what: str, interval: float = 0.5):
    """Poll ``check`` until it returns a truthy value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what}")


def http_ok(url: str) -> bool:
    """Whether ``url`` answers at all (any HTTP status)."""
    try:
        urllib.request.urlopen(url, timeout=2)
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


def port_free(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:``port``."""
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


class ServiceStack:
    """Starts the services one by one; every PID is kept in :attr:`pids`."""

    def __init__(self, state: Path):
        self.state = state
        state.chmod(0o755)  # mysql and rabbitmq run as their own users
        self.logs = state / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.pids: dict[str, int] = {}
        self._procs: list[tuple[str, subprocess.Popen, IO[str]]] = []
        self.passwords = {
            "mysql-keystone": "ks-db-pw",
            "mysql-masakari": "mk-db-pw",
            "rabbit": "mq-pw",
            "admin": "admin-pw",
            "masakari": "mk-svc-pw",
            "monitors": "mon-svc-pw",
        }

    # -- processes ---------------------------------------------------------------------
    def spawn(
        self, name: str, argv: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen:
        """Start a daemon in its own session; its PID is recorded."""
        log = open(self.logs / f"{name}.out", "w")  # noqa: SIM115 - closed in close()
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        self._procs.append((name, proc, log))
        self.pids[name] = proc.pid
        return proc

    def close(self) -> None:
        """Stop every process by PID, newest first."""
        for name, proc, log in reversed(self._procs):
            for pid in self._extra_pids(name):
                stop_pid(pid)
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
            log.close()

    def _extra_pids(self, name: str) -> list[int]:
        if name == "rabbitmq":
            pidfile = self.state / "rabbitmq" / "rabbit.pid"
            if pidfile.exists() and pidfile.read_text().strip().isdigit():
                return [int(pidfile.read_text().strip())]
        return []

    # -- MariaDB -----------------------------------------------------------------------
    def start_mariadb(self) -> None:
        """A private MariaDB on 127.0.0.1 with the keystone and masakari databases."""
        data, run = self.state / "mysql", self.state / "mysqld"
        data.mkdir()
        run.mkdir()
        shutil.chown(data, "mysql", "mysql")
        shutil.chown(run, "mysql", "mysql")
        subprocess.run(
            [
                "mariadb-install-db",
                "--user=mysql",
                f"--datadir={data}",
                "--skip-test-db",
                "--auth-root-authentication-method=socket",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        self.mysql_socket = run / "mysqld.sock"
        self.spawn(
            "mariadb",
            [
                "/usr/sbin/mariadbd",
                "--no-defaults",
                "--user=mysql",
                f"--datadir={data}",
                f"--socket={self.mysql_socket}",
                f"--port={PORTS['mysql']}",
                "--bind-address=127.0.0.1",
                f"--log-error={self.logs / 'mariadb.err'}",
                "--character-set-server=utf8mb4",
                f"--pid-file={run / 'mysqld.pid'}",
            ],
        )
        wait_until(
            lambda: (
                subprocess.run(
                    ["mysqladmin", f"--socket={self.mysql_socket}", "ping"], capture_output=True
                ).returncode
                == 0
            ),
            60,
            "mariadb",
        )
        sql = ""
        for db in ("keystone", "masakari"):
            pw = self.passwords[f"mysql-{db}"]
            sql += (
                f"CREATE DATABASE {db}; CREATE USER '{db}'@'127.0.0.1' IDENTIFIED BY '{pw}';"
                f"GRANT ALL ON {db}.* TO '{db}'@'127.0.0.1';"
            )
        subprocess.run(
            ["mysql", f"--socket={self.mysql_socket}", "-uroot", "-e", sql], check=True, timeout=60
        )

    # -- RabbitMQ ----------------------------------------------------------------------
    def start_rabbitmq(self) -> None:
        """Epmd and a RabbitMQ node with vhost and user ``masakari``."""
        home = self.state / "rabbitmq"
        home.mkdir()
        self.rabbit_env = {
            "HOME": str(home),
            "RABBITMQ_NODENAME": "rabbit-func@localhost",
            "RABBITMQ_MNESIA_BASE": str(home / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.logs),
            "RABBITMQ_PID_FILE": str(home / "rabbit.pid"),
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": "5672",
            "RABBITMQ_DIST_PORT": "25672",
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(home / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(home / "rabbitmq"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }
        (home / "enabled_plugins").write_text("[].\n")
        (home / "rabbitmq.conf").write_text("loopback_users = none\n")
        self.spawn("epmd", ["epmd", "-address", "127.0.0.1"], self.rabbit_env)
        # The scripts under /usr/sbin switch to the rabbitmq user (and its cookie); the
        # real ones run as root with this node's own HOME and cookie.
        real = Path("/usr/lib/rabbitmq/bin")
        self.spawn("rabbitmq", [str(real / "rabbitmq-server")], self.rabbit_env)
        ctl = [str(real / "rabbitmqctl"), "-n", "rabbit-func@localhost"]
        wait_until(
            lambda: (
                subprocess.run(
                    [*ctl, "await_startup"],
                    capture_output=True,
                    env={**os.environ, **self.rabbit_env},
                    timeout=60,
                ).returncode
                == 0
            ),
            120,
            "rabbitmq",
        )
        for cmd in (
            ["add_vhost", "masakari"],
            ["add_user", "masakari", self.passwords["rabbit"]],
            ["set_permissions", "-p", "masakari", "masakari", ".*", ".*", ".*"],
        ):
            subprocess.run(
                [*ctl, *cmd],
                check=True,
                capture_output=True,
                env={**os.environ, **self.rabbit_env},
                timeout=60,
            )

    def start_memcached(self) -> None:
        """The token cache the charm's masakari.conf points keystonemiddleware at."""
        self.spawn(
            "memcached",
            [
                "memcached",
                "-u",
                "nobody",
                "-l",
                "127.0.0.1",
                "-p",
                str(PORTS["memcached"]),
                "-m",
                "32",
            ],
        )

    # -- keystone ------------------------------------------------------------------------
    def start_keystone(self) -> None:
        """Keystone on gunicorn, bootstrapped with region RegionOne."""
        etc = self.state / "keystone"
        etc.mkdir()
        conf = etc / "keystone.conf"
        conf.write_text(
            textwrap.dedent(f"""\
            [DEFAULT]
            log_file = {self.logs / "keystone.log"}
            [database]
            connection = mysql+pymysql://keystone:{self.passwords["mysql-keystone"]}@127.0.0.1:{PORTS["mysql"]}/keystone
            [identity]
            # Keystone's bcrypt default (12 rounds) costs ~0.6 s per password check, and
            # masakari authenticates to nova on every host it adds: keep this stack fast.
            password_hash_rounds = 4
            [token]
            provider = fernet
            [fernet_tokens]
            key_repository = {etc / "fernet-keys"}
            [credential]
            key_repository = {etc / "credential-keys"}
            [cache]
            enabled = false
            """)
        )
        manage = [str(BIN / "keystone-manage"), "--config-file", str(conf)]
        url = self.keystone_url
        for cmd in (
            ["db_sync"],
            ["fernet_setup", "--keystone-user", "root", "--keystone-group", "root"],
            ["credential_setup", "--keystone-user", "root", "--keystone-group", "root"],
            [
                "bootstrap",
                "--bootstrap-password",
                self.passwords["admin"],
                "--bootstrap-region-id",
                "RegionOne",
                "--bootstrap-admin-url",
                url,
                "--bootstrap-internal-url",
                url,
                "--bootstrap-public-url",
                url,
            ],
        ):
            subprocess.run([*manage, *cmd], check=True, capture_output=True, timeout=300)
        # keystone's WSGI init parses sys.argv; gunicorn's own flags must not reach it.
        (etc / "ks_wsgi.py").write_text(
            "import sys\nsys.argv = sys.argv[:1]\n"
            "from keystone.server.wsgi import initialize_public_application\n"
            "application = initialize_public_application()\n"
        )
        self.spawn(
            "keystone",
            [
                str(BIN / "gunicorn"),
                "--chdir",
                str(etc),
                "--bind",
                f"127.0.0.1:{PORTS['keystone']}",
                "--workers",
                "2",
                "ks_wsgi:application",
            ],
            {"OS_KEYSTONE_CONFIG_FILES": str(conf)},
        )
        wait_until(lambda: http_ok(url), 60, "keystone")

    @property
    def keystone_url(self) -> str:
        """Keystone's v3 URL."""
        return f"http://127.0.0.1:{PORTS['keystone']}/v3"

    def admin_token(
        self, user="admin", password=None, domain="Default", project="admin"
    ) -> tuple[str, dict]:
        """A project-scoped token and its catalog."""
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": user,
                            "domain": {"name": domain},
                            "password": password or self.passwords["admin"],
                        }
                    },
                },
                "scope": {"project": {"name": project, "domain": {"name": domain}}},
            }
        }
        request = urllib.request.Request(
            f"{self.keystone_url}/auth/tokens",
            json.dumps(body).encode(),
            {"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.headers["X-Subject-Token"], json.loads(resp.read())

    def call(
        self, method: str, url: str, token: str, body: dict | None = None
    ) -> tuple[int, dict]:
        """A JSON API call with ``token``; returns (status, body)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            url, data, {"Content-Type": "application/json", "X-Auth-Token": token}, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else {}
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                return err.code, json.loads(raw)
            except ValueError:
                return err.code, {"raw": raw.decode(errors="replace")}

    def register(self) -> dict[str, str]:
        """What the keystone charm would create: domain, project, users, services, endpoints."""
        token, _ = self.admin_token()
        ks = self.keystone_url

        def create(path: str, key: str, body: dict) -> str:
            status, answer = self.call("POST", f"{ks}/{path}", token, {key: body})
            assert status == 201, (path, status, answer)
            return answer[key]["id"]

        domain = create("domains", "domain", {"name": "service_domain"})
        project = create("projects", "project", {"name": "services", "domain_id": domain})
        _, roles = self.call("GET", f"{ks}/roles?name=admin", token)
        admin_role = roles["roles"][0]["id"]
        for user, pw in (
            ("masakari", self.passwords["masakari"]),
            ("masakari-monitors", self.passwords["monitors"]),
        ):
            uid = create("users", "user", {"name": user, "domain_id": domain, "password": pw})
            status, _ = self.call(
                "PUT", f"{ks}/projects/{project}/users/{uid}/roles/{admin_role}", token
            )
            assert status == 204
        for name, kind, url in (
            ("masakari", "instance-ha", f"http://127.0.0.1:{PORTS['masakari']}/v1/%(tenant_id)s"),
            ("nova", "compute", f"http://127.0.0.1:{PORTS['nova']}/v2.1"),
        ):
            service = create("services", "service", {"name": name, "type": kind})
            for interface in ("public", "internal", "admin"):
                create(
                    "endpoints",
                    "endpoint",
                    {
                        "service_id": service,
                        "interface": interface,
                        "url": url,
                        "region_id": "RegionOne",
                    },
                )
        return {"domain_id": domain, "project_id": project}

    # -- nova double and masakari --------------------------------------------------------------
    def start_nova_double(self) -> None:
        """The Nova test double on 127.0.0.1."""
        self.spawn(
            "nova-test-double",
            [sys.executable, str(HERE / "nova_test_double.py"), str(PORTS["nova"])],
        )
        wait_until(
            lambda: http_ok(f"http://127.0.0.1:{PORTS['nova']}/_double/calls"),
            30,
            "nova test double",
        )

    def nova(self, method: str, path: str, body: dict | None = None) -> dict:
        """Set up or inspect the Nova test double."""
        return self.call(method, f"http://127.0.0.1:{PORTS['nova']}{path}", "test-double", body)[1]

    def start_masakari(self, conf: Path) -> None:
        """masakari-manage db sync, then masakari-api and masakari-engine with ``conf``."""
        subprocess.run(
            [str(BIN / "masakari-manage"), "--config-file", str(conf), "db", "sync"],
            check=True,
            capture_output=True,
            timeout=300,
        )
        self.spawn("masakari-api", [str(BIN / "masakari-api"), "--config-file", str(conf)])
        self.spawn("masakari-engine", [str(BIN / "masakari-engine"), "--config-file", str(conf)])
        wait_until(lambda: http_ok(f"http://127.0.0.1:{PORTS['masakari']}/"), 60, "masakari-api")
