"""Access to the machine a charm runs on: files, commands and a few facts.

Everything that touches the system goes through :class:`Host`, so that unit tests can
substitute :class:`openstack_charm_testing.FakeHost` and assert on what would have
happened. Writes are atomic and report whether content changed.
"""

from __future__ import annotations

import enum
import grp
import os
import pwd
import socket
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path


class Write(enum.Enum):
    """Outcome of :meth:`Host.write_file`."""

    UNCHANGED = "unchanged"
    PERMISSIONS = "permissions"  # same content, owner/group/mode corrected
    CONTENT = "content"

    @property
    def content_changed(self) -> bool:
        """Whether readers of the file must reload it."""
        return self is Write.CONTENT


class CommandError(Exception):
    """A command exited non-zero; ``output`` holds what it printed (never secrets)."""

    def __init__(self, argv: Sequence[str], returncode: int, output: str):
        self.argv = list(argv)
        self.returncode = returncode
        self.output = output
        super().__init__(f"{argv[0]} exited {returncode}")


class Host:
    """The real machine. ``root`` prefixes every path (``/`` in production)."""

    def __init__(self, root: str | Path = "/"):
        self.root = Path(root)

    # -- paths and files -------------------------------------------------
    def path(self, path: str | Path) -> Path:
        """Map an absolute machine path to the filesystem this host writes."""
        return self.root / str(path).lstrip("/")

    def exists(self, path: str | Path) -> bool:
        """Whether ``path`` exists."""
        return self.path(path).exists()

    def read_bytes(self, path: str | Path) -> bytes | None:
        """Content of ``path``, or None when it does not exist."""
        try:
            return self.path(path).read_bytes()
        except FileNotFoundError:
            return None

    def read_text(self, path: str | Path) -> str | None:
        """Text of ``path`` (UTF-8), or None when it does not exist.

        Files read here belong to other software and may hold anything: bytes that are
        not UTF-8 become U+FFFD rather than an exception, so a reader sees text it can
        reject by its own rules.
        """
        data = self.read_bytes(path)
        return None if data is None else data.decode(errors="replace")

    def write_file(
        self,
        path: str | Path,
        content: str | bytes,
        *,
        owner: str = "root",
        group: str = "root",
        mode: int = 0o644,
    ) -> Write:
        """Write ``content`` atomically with the given ownership and mode.

        The temporary file gets its final owner and mode before it is renamed into
        place, so a secret is never readable by others, not even for an instant.
        """
        data = content.encode() if isinstance(content, str) else content
        target = self.path(path)
        if self.read_bytes(path) == data:
            if self.stat_owner_mode(path) == (owner, group, mode):
                return Write.UNCHANGED
            self.chown(target, owner, group)
            os.chmod(target, mode)
            return Write.PERMISSIONS
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            self.chown(Path(tmp), owner, group)
            os.chmod(tmp, mode)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return Write.CONTENT

    def remove_file(self, path: str | Path) -> bool:
        """Remove ``path``; True when something was removed."""
        try:
            self.path(path).unlink()
        except FileNotFoundError:
            return False
        return True

    def stat_owner_mode(self, path: str | Path) -> tuple[str, str, int] | None:
        """``(owner, group, mode)`` of ``path``, or None when it does not exist."""
        try:
            st = self.path(path).stat()
        except FileNotFoundError:
            return None
        return (_user_name(st.st_uid), _group_name(st.st_gid), st.st_mode & 0o7777)

    def chown(self, path: Path, owner: str, group: str) -> None:
        """Set the owner and group of an already mapped path."""
        os.chown(path, pwd.getpwnam(owner).pw_uid, grp.getgrnam(group).gr_gid)

    # -- commands ----------------------------------------------------------
    def run(
        self,
        argv: Sequence[str],
        *,
        check: bool = True,
        env: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command, capturing its output; raise CommandError when ``check``."""
        full_env = None if env is None else {**os.environ, **env}
        try:
            proc = subprocess.run(
                list(argv),
                capture_output=True,
                text=True,
                env=full_env,
                timeout=timeout,
                check=False,
            )
        except FileNotFoundError as exc:
            proc = subprocess.CompletedProcess(list(argv), 127, "", str(exc))
        if check and proc.returncode != 0:
            raise CommandError(argv, proc.returncode, (proc.stdout + proc.stderr)[-2000:])
        return proc

    # -- facts ---------------------------------------------------------------
    def fqdn(self) -> str:
        """The machine's fully qualified domain name."""
        return socket.getfqdn()

    def hostname(self) -> str:
        """The machine's short host name."""
        return socket.gethostname()

    def resolves(self, name: str) -> bool:
        """Whether ``name`` resolves to an address (DNS or /etc/hosts)."""
        try:
            socket.getaddrinfo(name, None)
        except (OSError, UnicodeError):
            return False
        return True

    def cpu_count(self) -> int:
        """Number of CPUs available to this machine (at least 1)."""
        return os.cpu_count() or 1

    def os_release(self) -> dict[str, str]:
        """Parsed ``/etc/os-release``."""
        text = self.read_text("/etc/os-release") or ""
        result: dict[str, str] = {}
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                result[key.strip()] = value.strip().strip('"')
        return result

    def listening_tcp_ports(self) -> set[int]:
        """TCP ports in LISTEN state on any address (from /proc/net/tcp{,6})."""
        ports: set[int] = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            text = self.read_text(table) or ""
            for line in text.splitlines()[1:]:
                fields = line.split()
                if len(fields) > 3 and fields[3] == "0A":
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        return ports


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)
