"""Real OpenStack services for the end-to-end test, each started with its PID kept.

MariaDB (a private instance), epmd and RabbitMQ, memcached, keystone (gunicorn), the
Nova test double, and a masakari unit's own serving path: haproxy with the charm's
``haproxy.cfg`` on 15868 in front of Apache mod_wsgi with the charm's site and WSGI
entry on 15858, plus masakari-engine. All listen on 127.0.0.1 (haproxy's frontend binds
as the charm writes it) with state under one directory. Apache and haproxy run in
private mount namespaces where the charm's paths (``/usr/local/lib/masakari-charm``,
``/var/log/apache2``, ``/run/haproxy``) are bind mounts of this stack's own
directories, so the files are used exactly as rendered. The masakari processes run
from :attr:`ServiceStack.masakari_venv` (the stack's release unless a test installs
another, as an upgrade does); :meth:`ServiceStack.stop` stops one of them by PID and
:meth:`ServiceStack.close` stops every process by PID.
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
from collections.abc import Callable
from pathlib import Path
from typing import IO

import release_matrix
from pacemaker_cluster import stop_pid

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
# The services run from the venv of the stack's release (MASAKARI_RELEASE, default
# caracal), resolved as of that release's date (release_matrix; tox -e func builds it).
RELEASE = release_matrix.stack_release()
SERVICES_VENV = release_matrix.services_venv_path(RELEASE)
BIN = SERVICES_VENV / "bin"
PORTS = {
    "mysql": 13306,
    "keystone": 15357,
    "nova": 18774,
    "masakari": 15868,  # haproxy's frontend, as keystone's catalog says
    "apache": 15858,  # the charm's WSGI site, haproxy's back end
    "memcached": 11211,
}
# What the keystone charm registers for a service name it knows (its service table).
KEYSTONE_SERVICE_TYPES = {"masakari": "instance-ha"}
# The charm's haproxy.cfg asks for maxconn 20000 (2 x 20000 descriptors); where the
# descriptor limit cannot be raised, haproxy's own -n caps it without editing the file.
HAPROXY_MAXCONN = 4096
INTERFACES = ("public", "internal", "admin")
# Where masakari's api-paste.ini (gazpacho on) looks for the file that disables /healthcheck.
HEALTHCHECK_DISABLE = "/etc/masakari/healthcheck_disable"
APT_PACKAGES = ("mariadb-server", "rabbitmq-server", "memcached", "apache2", "haproxy")
MOD_WSGI = "/usr/lib/apache2/modules/mod_wsgi.so"
APACHE_MODULES = "/usr/lib/apache2/modules"


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
    tools += ["apache2", "haproxy", "unshare"]
    found = [t for t in tools if shutil.which(t, path=path) is None]
    if not Path(MOD_WSGI).exists():
        found.append("libapache2-mod-wsgi-py3")
    for venv_bin in (
        "keystone-manage",
        "gunicorn",
        "masakari-manage",
        "masakari-engine",
        "masakari-hostmonitor",
    ):
        if not (BIN / venv_bin).exists():
            found.append(venv_bin)
    return found


def ignore(_what: str) -> None:
    """A progress callback that shows nothing (the tests' default)."""


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
        self.masakari_venv = SERVICES_VENV  # the masakari code the unit has installed
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
        log = open(self.logs / f"{name}.out", "a")  # noqa: SIM115 - closed in stop()/close()
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

    def running(self, name: str) -> bool:
        """Whether the newest process started as ``name`` is alive."""
        procs = [proc for n, proc, _ in self._procs if n == name]
        return bool(procs) and procs[-1].poll() is None

    def stop(self, name: str) -> None:
        """Stop the processes started as ``name`` by PID and forget them."""
        for entry in [e for e in self._procs if e[0] == name]:
            self._stop(*entry)
            self._procs.remove(entry)
        self.pids.pop(name, None)

    def close(self) -> None:
        """Stop every process by PID, newest first."""
        for name, proc, log in reversed(self._procs):
            self._stop(name, proc, log)

    def _stop(self, name: str, proc: subprocess.Popen, log: IO[str]) -> None:
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

    def start_control_plane(self, progress: Callable[[str], object] = ignore) -> dict:
        """MariaDB, RabbitMQ, memcached, keystone and the nova double, started.

        Keystone holds what the keystone charm creates before services relate. Returns
        what the charms' relations carry about these services. ``progress`` is told
        what starts next.
        """
        progress("MariaDB")
        self.start_mariadb()
        progress("RabbitMQ")
        self.start_rabbitmq()
        progress("memcached")
        self.start_memcached()
        progress("keystone (and what the keystone charm creates)")
        self.start_keystone()
        ids = self.register()
        progress("the nova test double")
        self.start_nova_double()
        return {
            "keystone_port": PORTS["keystone"],
            "mysql_port": PORTS["mysql"],
            "project_id": ids["project_id"],
            "db_password": self.passwords["mysql-masakari"],
            "rabbit_password": self.passwords["rabbit"],
            "masakari_password": self.passwords["masakari"],
            "monitors_password": self.passwords["monitors"],
        }

    def masakari_flags(self) -> str:
        """The masakari charm's ``config-flags`` here: only log and lock directories move."""
        return "\n".join(
            [
                f"log_dir={self.state / 'masakari-logs'}",
                f"oslo_concurrency/lock_path={self.state / 'lock'}",
            ]
        )

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
        self,
        method: str,
        url: str,
        token: str,
        body: dict | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict]:
        """A JSON API call with ``token``; returns (status, body)."""
        data = None if body is None else json.dumps(body).encode()
        sent = {"Content-Type": "application/json", "X-Auth-Token": token, **(headers or {})}
        request = urllib.request.Request(url, data, sent, method=method)
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
        """What the keystone charm creates before any service relates: domain, project, users.

        Nova's endpoint too (the test double). The masakari endpoints come from what the
        masakari charm publishes: :meth:`register_endpoints`.
        """
        token, _ = self.admin_token()
        ks = self.keystone_url

        def create(path: str, key: str, body: dict) -> str:
            return self._create(token, path, key, body)

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
        nova = f"http://127.0.0.1:{PORTS['nova']}/v2.1"
        self._service_endpoints("nova", "compute", "RegionOne", dict.fromkeys(INTERFACES, nova))
        return {"domain_id": domain, "project_id": project}

    def register_endpoints(self, published: dict[str, str]) -> dict[str, str]:
        """The catalog entry the keystone charm makes from a unit's identity-service bag.

        ``service`` names the service (its type from keystone's table of known names),
        ``region`` and ``<interface>_url`` are registered as given. Returns the URLs.
        """
        service = published["service"]
        urls = {interface: published[f"{interface}_url"] for interface in INTERFACES}
        self._service_endpoints(
            service, KEYSTONE_SERVICE_TYPES[service], published["region"], urls
        )
        return urls

    def _create(self, token: str, path: str, key: str, body: dict) -> str:
        status, answer = self.call("POST", f"{self.keystone_url}/{path}", token, {key: body})
        assert status == 201, (path, status, answer)
        return answer[key]["id"]

    def _service_endpoints(self, name: str, kind: str, region: str, urls: dict[str, str]) -> None:
        token, _ = self.admin_token()
        service = self._create(token, "services", "service", {"name": name, "type": kind})
        for interface, url in urls.items():
            body = {"service_id": service, "interface": interface, "url": url, "region_id": region}
            self._create(token, "endpoints", "endpoint", body)

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

    def start_masakari(self, unit_root: Path) -> None:
        """A masakari unit as the charm left it under ``unit_root``, serving through haproxy.

        The leader's ``masakari-manage db sync``, then masakari-engine, Apache with the
        charm's site and WSGI entry, and haproxy with the charm's haproxy.cfg. Only the
        files' place changes: masakari reads ``OS_MASAKARI_CONFIG_DIR`` (its own
        setting) instead of /etc/masakari, with the charm's masakari.conf in it.
        """
        self.db_sync(unit_root)
        self.start_engine(unit_root)
        self.start_apache(unit_root)
        self.start_haproxy(unit_root)
        wait_until(lambda: http_ok(f"http://127.0.0.1:{PORTS['masakari']}/"), 90, "masakari-api")

    def db_sync(self, unit_root: Path) -> subprocess.CompletedProcess[str]:
        """The installed release's ``masakari-manage db sync`` with the unit's masakari.conf."""
        conf = self.masakari_etc(unit_root) / "masakari.conf"
        manage = self.masakari_venv / "bin" / "masakari-manage"
        return subprocess.run(
            [str(manage), "--config-file", str(conf), "db", "sync"],
            check=True,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def start_engine(self, unit_root: Path) -> None:
        """masakari-engine of the installed release with the unit's masakari.conf."""
        conf = self.masakari_etc(unit_root) / "masakari.conf"
        engine = self.masakari_venv / "bin" / "masakari-engine"
        self.spawn("masakari-engine", [str(engine), "--config-file", str(conf)])

    def schema_revision(self) -> str | None:
        """The masakari schema's alembic revision (None before the first migration).

        masakari keeps it in its own table; ``alembic_version`` is taskflow's, whose
        persistence tables share the database.
        """
        proc = self.sql("SELECT version_num FROM masakari.masakari_alembic_version", check=False)
        if proc.returncode != 0:  # no table yet
            return None
        return proc.stdout.strip() or None

    def sql(self, statement: str, *, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``statement`` run as the database's root (for what no API offers)."""
        return subprocess.run(
            ["mysql", f"--socket={self.mysql_socket}", "-uroot", "-N", "-e", statement],
            capture_output=True,
            text=True,
            timeout=60,
            check=check,
        )

    def masakari_etc(self, unit_root: Path) -> Path:
        """``OS_MASAKARI_CONFIG_DIR``: the charm's masakari.conf and the release's api-paste.ini.

        The API runs as the masakari user (the site's WSGIDaemonProcess), so the file is
        root:masakari 0640 as on a unit, and its log and lock directories are masakari's.
        """
        etc = self.state / "masakari-etc"
        etc.mkdir(exist_ok=True)
        conf = etc / "masakari.conf"
        shutil.copy(unit_root / "etc" / "masakari" / "masakari.conf", conf)
        shutil.chown(conf, "root", "masakari")
        conf.chmod(0o640)
        paste = self.masakari_venv / "etc" / "masakari" / "api-paste.ini"
        # The healthcheck's disable file moves with the rest (gazpacho on name it).
        text = paste.read_text().replace(
            f"= {HEALTHCHECK_DISABLE}", f"= {etc / 'healthcheck_disable'}"
        )
        (etc / "api-paste.ini").write_text(text)
        for directory in ("masakari-logs", "lock"):
            (self.state / directory).mkdir(exist_ok=True)
            shutil.chown(self.state / directory, "masakari", "masakari")
        return etc

    def spawn_with_mounts(
        self, name: str, mounts: dict[str, Path], argv: list[str], env: dict[str, str]
    ) -> subprocess.Popen:
        """``argv`` in a private mount namespace where each target is a bind of its source.

        The targets are the charm's paths on a unit; the sources are this stack's. The
        process execs in place, so the PID kept is the daemon's own.
        """
        binds = []
        for target, source in mounts.items():
            Path(target).mkdir(parents=True, exist_ok=True)
            binds.append(f"mount --bind {source} {target}")
        script = " && ".join([*binds, 'exec "$@"'])
        command = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, name]
        return self.spawn(name, [*command, *argv], env)

    def start_apache(self, unit_root: Path) -> None:
        """Apache with mod_wsgi serving the charm's site (and through it, its WSGI entry).

        A minimal main configuration of this stack's own loads the modules the site
        needs and points mod_wsgi at the services' venv, which is built from the
        interpreter mod_wsgi embeds; the site itself is included as the charm rendered it.
        """
        etc = self.masakari_etc(unit_root)
        venv = self.masakari_venv
        python = subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import sys; print(sys.base_prefix)"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if python != "/usr":
            raise RuntimeError(
                f"{venv} is built from {python}: mod_wsgi embeds the system "
                "Python, so the venv must be made with /usr/bin/python3"
            )
        run, logs = self.state / "apache-run", self.logs / "apache2"
        run.mkdir(exist_ok=True)
        logs.mkdir(exist_ok=True)
        site = unit_root / "etc" / "apache2" / "sites-available" / "charm-masakari-api.conf"
        main = self.state / "apache2.conf"
        modules = ("mpm_event", "authz_core", "alias", "wsgi")
        main.write_text(
            "\n".join(
                [
                    "# The functional stack's main Apache configuration; the site is the charm's.",
                    "ServerRoot /etc/apache2",
                    "ServerName localhost",
                    f"PidFile {run / 'apache2.pid'}",
                    f"DefaultRuntimeDir {run}",
                    f"Mutex file:{run} default",
                    "User www-data",
                    "Group www-data",
                    f"ErrorLog {self.logs / 'apache2-main.log'}",
                    # mod_wsgi says at info level which script each daemon process loads.
                    "LogLevel info",
                    'LogFormat "%h %l %u %t \\"%r\\" %>s %O %D" combined',
                    *(f"LoadModule {m}_module {APACHE_MODULES}/mod_{m}.so" for m in modules),
                    f"WSGIPythonHome {venv}",
                    f"WSGISocketPrefix {run}/wsgi",
                    f"Include {site}",
                    "",
                ]
            )
        )
        wsgi_dir = "/usr/local/lib/masakari-charm"
        mounts = {wsgi_dir: unit_root / wsgi_dir.lstrip("/"), "/var/log/apache2": logs}
        argv = ["apache2", "-f", str(main), "-DFOREGROUND"]
        self.spawn_with_mounts("apache2", mounts, argv, {"OS_MASAKARI_CONFIG_DIR": str(etc)})
        wait_until(lambda: not port_free(PORTS["apache"]), 30, "apache2")

    def haproxy_servers(self) -> list[dict[str, str]]:
        """Each server as haproxy sees it (``show stat`` on the charm's admin socket)."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(str(self.state / "haproxy-run" / "admin.sock"))
            sock.sendall(b"show stat\n")
            raw = b""
            while chunk := sock.recv(65536):
                raw += chunk
        header, *rows = raw.decode().lstrip("# ").splitlines()
        fields = header.split(",")
        stats = [dict(zip(fields, row.split(","), strict=True)) for row in rows if row]
        return [s for s in stats if s["svname"] not in ("FRONTEND", "BACKEND")]

    def start_haproxy(self, unit_root: Path) -> None:
        """The charm's haproxy.cfg in haproxy (frontend 15868, back end Apache on 15858)."""
        run = self.state / "haproxy-run"
        run.mkdir(exist_ok=True)
        cfg = unit_root / "etc" / "haproxy" / "haproxy.cfg"
        argv = ["haproxy", "-n", str(HAPROXY_MAXCONN), "-f", str(cfg), "-db"]
        self.spawn_with_mounts("haproxy", {"/run/haproxy": run}, argv, {})
        wait_until(lambda: not port_free(PORTS["masakari"]), 30, "haproxy")
