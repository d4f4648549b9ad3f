"""A private machine for running charms' real ``dispatch``: own mounts, network, name.

:func:`enter` re-runs the calling script under ``unshare --mount --net --uts`` (root),
then :class:`Sandbox` lays overlays over ``/etc``, ``/usr/local/lib`` and ``/var/lib``
(what the charms write there: configuration, the WSGI entry and the health daemons'
modules, state; it lands in a tmpfs and vanishes with the namespace), adds the users
and groups the charms chown to, pretends to be Ubuntu noble, brings up a private
loopback and listens on the ports a ready unit listens on. Nothing outside the
namespace is touched; no traffic leaves it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

INSIDE = "CHARM_BENCH_SANDBOX"
USERS = {"masakari": 64060, "haproxy": 64061, "hacluster": 64062, "memcache": 64063}
GROUPS = {"masakari": 64060, "haproxy": 64061, "haclient": 64062, "memcache": 64063}
# Where the charms write on the machine (the health daemons' flags and the nagios export
# live under /var/lib); /run and /var/log are not written by a steady-state hook.
OVERLAID = ("/etc", "/usr/local/lib", "/var/lib")
OS_RELEASE = 'NAME="Ubuntu"\nID=ubuntu\nVERSION_ID="24.04"\nVERSION_CODENAME=noble\n'


def enter() -> None:
    """Re-execute this script inside new mount and network namespaces (once)."""
    if os.environ.get(INSIDE) == "1":
        return
    if os.geteuid() != 0:
        sys.exit("needs root: it creates mount and network namespaces (run it with sudo)")
    os.environ[INSIDE] = "1"
    argv = ["unshare", "--mount", "--net", "--uts", "--fork", sys.executable, *sys.argv]
    sys.exit(subprocess.call(argv))


class Sandbox:
    """The namespace's machine: overlays where charms write, users, loopback, listeners."""

    def __init__(self, workdir: Path, hostname: str = "compute-0.maas"):
        self.workdir = workdir
        self.listeners: list[socket.socket] = []
        workdir.mkdir(parents=True, exist_ok=True)
        run(["mount", "--make-rprivate", "/"])
        run(["mount", "-t", "tmpfs", "tmpfs", str(workdir)])
        for directory in OVERLAID:
            name = directory.strip("/").replace("/", "-")
            upper, work = workdir / f"{name}-upper", workdir / f"{name}-work"
            upper.mkdir()
            work.mkdir()
            options = f"lowerdir={directory},upperdir={upper},workdir={work}"
            run(["mount", "-t", "overlay", "overlay", "-o", options, directory])
        run(["ip", "link", "set", "lo", "up"])
        self._accounts()
        Path("/etc/os-release").unlink(missing_ok=True)
        Path("/etc/os-release").write_text(OS_RELEASE)
        run(["hostname", hostname])
        hosts = Path("/etc/hosts").read_text()
        Path("/etc/hosts").write_text(f"127.0.1.1 {hostname} {hostname.split('.')[0]}\n{hosts}")

    def _accounts(self) -> None:
        passwd = Path("/etc/passwd").read_text()
        group = Path("/etc/group").read_text()
        for name, uid in USERS.items():
            if f"\n{name}:" not in f"\n{passwd}":
                passwd += f"{name}:x:{uid}:{uid}::/nonexistent:/usr/sbin/nologin\n"
        for name, gid in GROUPS.items():
            if f"\n{name}:" not in f"\n{group}":
                group += f"{name}:x:{gid}:\n"
        Path("/etc/passwd").write_text(passwd)
        Path("/etc/group").write_text(group)

    def listen(self, *ports: int, address: str = "127.0.0.1") -> None:
        """Hold ``ports`` open in LISTEN state, as the unit's services would."""
        for port in ports:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, port))
            sock.listen()
            self.listeners.append(sock)

    def add_address(self, address: str) -> None:
        """Another address on the private loopback (for a fake remote service)."""
        run(["ip", "addr", "add", f"{address}/32", "dev", "lo"])


def run(argv: list[str]) -> None:
    """Run a set-up command; failures raise."""
    subprocess.run(argv, check=True, capture_output=True)
