"""Debian packages and the install source named by ``openstack-origin``.

Cloud Archive pockets and PPAs are added with ``add-apt-repository`` (which knows the
archive locations and keys); a ``deb`` line is written to its own sources file with
its ASCII-armoured key. Credentials in a ``deb`` URL go to apt's own auth.conf.d
(root-only), never into the world-readable sources file. Package operations never
prompt and keep the charm's own configuration files.
"""

from __future__ import annotations

import hashlib
from urllib.parse import unquote, urlsplit, urlunsplit

from .host import Host
from .releases import Origin

APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}
_DPKG_OPTS = ["-o", "Dpkg::Options::=--force-confold", "-o", "Dpkg::Options::=--force-confdef"]
DEB_SOURCE_FILE = "/etc/apt/sources.list.d/openstack-origin.list"
DEB_KEY_FILE = "/etc/apt/keyrings/openstack-origin.asc"
DEB_AUTH_FILE = "/etc/apt/auth.conf.d/openstack-origin.conf"


def installed_versions(host: Host, packages: list[str]) -> dict[str, str]:
    """Installed version of each package that is installed (absent ones are left out)."""
    return _query_installed(host, "${Package}", packages)


def all_installed(host: Host) -> dict[str, str]:
    """Installed version of every installed package (multi-arch ones as ``name:arch``)."""
    return _query_installed(host, "${binary:Package}", [])


def _query_installed(host: Host, name_field: str, packages: list[str]) -> dict[str, str]:
    # Without package names dpkg-query lists every package it knows; with names, an
    # unknown one makes it exit 1 after listing the others.
    proc = host.run(
        ["dpkg-query", "-W", f"-f={name_field} ${{Status}} ${{Version}}\\n", *packages],
        check=False,
    )
    versions: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        fields = line.split()
        # "<pkg> install ok installed <version>"
        if len(fields) == 5 and fields[3] == "installed":
            versions[fields[0]] = fields[4]
    return versions


def missing_packages(host: Host, packages: list[str]) -> list[str]:
    """The packages of ``packages`` that are not installed."""
    present = installed_versions(host, packages)
    return [p for p in packages if p not in present]


def update(host: Host) -> None:
    """Refresh the package index."""
    host.run(["apt-get", "update", "-q"], env=APT_ENV)


def install(host: Host, packages: list[str]) -> None:
    """Install ``packages`` without recommends and without prompts."""
    if packages:
        host.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", *_DPKG_OPTS, *packages],
            env=APT_ENV,
        )


def dependency_closure(host: Host, packages: list[str]) -> list[str]:
    """``packages`` and every installed package they depend on, directly or not.

    Only hard dependencies (Depends, Pre-Depends) count: recommends and suggests are
    not installed by the charm, and another application's package is not the charm's
    to upgrade because it happens to suggest one.
    """
    proc = host.run(
        [
            "apt-cache", "depends", "--recurse", "--installed", "--no-recommends",
            "--no-suggests", "--no-conflicts", "--no-breaks", "--no-replaces",
            "--no-enhances", *packages,
        ]
    )  # fmt: skip
    # Each package reached is a line of its own; its dependencies are indented below it
    # and virtual packages are written <like-this>.
    names = {line.split(":")[0] for line in proc.stdout.splitlines() if line[:1].isalnum()}
    return sorted(names | set(packages))


def upgrade_packages(host: Host, packages: list[str]) -> list[str]:
    """Upgrade ``packages`` and their dependencies from the configured sources, nothing else.

    Returns every change apt made, installs of new dependencies included, as
    ``"<package> <old> -> <new>"`` (``none`` for a package that was not installed).
    """
    before = all_installed(host)
    present = {name.split(":")[0] for name in before}
    # The closure names the alternatives of a dependency too, installed or not; with
    # --only-upgrade apt would skip those, but the command should say what it upgrades.
    targets = [p for p in dependency_closure(host, packages) if p in present]
    host.run(
        ["apt-get", "install", "-y", "-q", "--only-upgrade", "--no-install-recommends",
         *_DPKG_OPTS, *targets],
        env=APT_ENV,
    )  # fmt: skip
    after = all_installed(host)
    return [
        f"{name} {before.get(name, 'none')} -> {version}"
        for name, version in sorted(after.items())
        if before.get(name) != version
    ]


def upgrade(host: Host, packages: list[str]) -> None:
    """Upgrade the whole system to the configured sources, pulling new dependencies."""
    host.run(["apt-get", "dist-upgrade", "-y", "-q", *_DPKG_OPTS], env=APT_ENV)
    install(host, packages)


def configure_origin(host: Host, origin: Origin) -> bool:
    """Make ``origin`` an apt source; True when the sources changed (run :func:`update`)."""
    if origin.kind == "distro":
        if origin.proposed:
            host.run(["add-apt-repository", "--yes", "--no-update", "--pocket", "proposed"])
            return True
        return False
    if origin.kind == "cloud":
        host.run(["add-apt-repository", "--yes", "--no-update", origin.cloud_archive_name])
        return True
    if origin.kind == "ppa":
        host.run(["add-apt-repository", "--yes", "--no-update", origin.value])
        return True
    return _configure_deb_line(host, origin)


def _split_credentials(url: str) -> tuple[str, str | None]:
    """``url`` without its user:password, and the apt auth.conf entry holding them."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    netloc = parts.hostname or ""
    netloc = f"[{netloc}]" if ":" in netloc else netloc
    if parts.port is not None:
        netloc += f":{parts.port}"
    bare = urlunsplit(parts._replace(netloc=netloc))
    machine = netloc + parts.path
    entry = (
        f"machine {machine} login {unquote(parts.username)} "
        f"password {unquote(parts.password or '')}\n"
    )
    return bare, entry


def _configure_deb_line(host: Host, origin: Origin) -> bool:
    words = origin.deb_line.split()
    changed = False
    auth = None
    for i, word in enumerate(words):
        if "://" in word:
            words[i], auth = _split_credentials(word)
    if auth is not None:
        changed |= host.write_file(DEB_AUTH_FILE, auth, mode=0o600).content_changed
    else:
        changed |= host.remove_file(DEB_AUTH_FILE)
    if origin.key:  # parse_origin checked it is one armoured public key
        changed |= host.write_file(DEB_KEY_FILE, origin.key.strip() + "\n").content_changed
        words = [words[0], f"[signed-by={DEB_KEY_FILE}]", *words[1:]]
    digest = hashlib.sha1(origin.display.encode()).hexdigest()[:7]
    content = f"# openstack-origin {digest}\n{' '.join(words)}\n"
    changed |= host.write_file(DEB_SOURCE_FILE, content).content_changed
    return changed
