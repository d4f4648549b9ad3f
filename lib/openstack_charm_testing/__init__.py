"""A fake machine for charm unit tests (kept out of the library, so no packed charm has it).

Real files under a temporary root; scripted commands and services.

:class:`FakeHost` writes files for real (so tests parse what the charm rendered) but
records ownership instead of calling chown, answers ``systemctl``, ``dpkg-query`` and
``apt-get`` from in-memory state, and records every command it was asked to run. A test
models a workload's own programs with :attr:`FakeHost.programs` and watches what runs
each time a service starts with :attr:`FakeHost.start_watchers`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from openstack_charm_lib.host import CommandError, Host


class FakeHost(Host):
    """A :class:`Host` whose commands and services are simulated."""

    def __init__(
        self,
        root: str | Path,
        *,
        fqdn: str = "juju-machine-0.maas",
        series: str = "noble",
        cpus: int = 4,
        available: Mapping[str, str] | None = None,
        service_ports: Mapping[str, Sequence[int]] | None = None,
    ):
        super().__init__(root)
        self._fqdn = fqdn
        self.series = series
        self.cpus = cpus
        # Version apt would install for each package name.
        self.available: dict[str, str] = dict(available or {})
        self.installed: dict[str, str] = {}
        self.running: set[str] = set()
        self.enabled: set[str] = set()
        self.masked: set[str] = set()
        self.service_ports = {k: set(v) for k, v in (service_ports or {}).items()}
        self.commands: list[list[str]] = []
        self.owners: dict[str, tuple[str, str]] = {}
        self.failing: dict[str, int] = {}  # argv[0] or "argv0 argv1" -> exit code
        self.resolvable: set[str] = {fqdn}
        self.unit_groups: dict[str, str] = {}  # service -> Group= of its unit file
        self.depends: dict[str, list[str]] = {}  # package -> what apt installs with it
        # package -> services its maintainer scripts (re)start when apt installs or upgrades
        # it, as deb-systemd-invoke does (a masked service is left alone).
        self.maintainer_starts: dict[str, list[str]] = {}
        # Services systemd starts (the command succeeds) but whose process exits at once.
        self.dies_on_start: set[str] = set()
        # What add-apt-repository added, in order: a PPA, a Cloud Archive pocket, or
        # "proposed" for the series' own proposed pocket.
        self.sources: list[str] = []
        # argv[0] -> what that program does on this machine: argv -> (exit code, stdout).
        self.programs: dict[str, Callable[[list[str]], tuple[int, str]]] = {}
        # Called with each service as a start, restart, enable --now, maintainer script or
        # reboot gives it a new process, which runs the code installed at that moment.
        self.start_watchers: list[Callable[[str], None]] = []

    # -- files -------------------------------------------------------------
    def chown(self, path: Path, owner: str, group: str) -> None:
        """Record ownership (tests do not run as the named users)."""
        self.owners[str(path.resolve())] = (owner, group)

    def write_file(self, path, content, *, owner="root", group="root", mode=0o644):
        """Write for real; remember the final path's owner (the temp file is renamed)."""
        outcome = super().write_file(path, content, owner=owner, group=group, mode=mode)
        self.owners[str(self.path(path).resolve())] = (owner, group)
        return outcome

    def stat_owner_mode(self, path: str | Path) -> tuple[str, str, int] | None:
        """Recorded owner/group with the real mode."""
        target = self.path(path)
        if not target.exists():
            return None
        owner, group = self.owners.get(str(target.resolve()), ("root", "root"))
        return owner, group, target.stat().st_mode & 0o7777

    def owner_of(self, path: str) -> tuple[str, str, int] | None:
        """``(owner, group, mode)`` as the charm left ``path``."""
        return self.stat_owner_mode(path)

    # -- facts ---------------------------------------------------------------
    def fqdn(self) -> str:
        """Configured FQDN."""
        return self._fqdn

    def hostname(self) -> str:
        """Short form of the configured FQDN."""
        return self._fqdn.split(".")[0]

    def resolves(self, name: str) -> bool:
        """Whether ``name`` is in :attr:`resolvable`."""
        return name in self.resolvable

    def cpu_count(self) -> int:
        """Configured CPU count."""
        return self.cpus

    def os_release(self) -> dict[str, str]:
        """An Ubuntu os-release for the configured series."""
        return {"ID": "ubuntu", "VERSION_CODENAME": self.series}

    def listening_tcp_ports(self) -> set[int]:
        """Ports of the running services."""
        ports: set[int] = set()
        for service in self.running:
            ports |= self.service_ports.get(service, set())
        return ports

    # -- commands --------------------------------------------------------------
    def run(
        self,
        argv: Sequence[str],
        *,
        check: bool = True,
        env: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Record ``argv`` and simulate the commands charms use."""
        argv = list(argv)
        self.commands.append(argv)
        code = self.failing.get(" ".join(argv[:2]), self.failing.get(argv[0], 0))
        stdout = ""
        if code == 0:
            program = self.programs.get(argv[0])
            code, stdout = program(argv) if program else self._simulate(argv)
        if check and code != 0:
            raise CommandError(argv, code, f"simulated failure of {argv[0]}")
        return subprocess.CompletedProcess(argv, code, stdout, "")

    def _simulate(self, argv: list[str]) -> tuple[int, str]:
        if argv[0] == "systemctl":
            return self._systemctl(argv[1:])
        if argv[0] == "dpkg-query":
            return 0, self._dpkg_query(argv[3:])
        if argv[:2] == ["apt-cache", "depends"]:
            return 0, self._apt_cache_depends([a for a in argv[2:] if not a.startswith("-")])
        if argv[0] in ("a2ensite", "a2dissite", "a2enmod"):
            self._apache_links(argv[0], argv[1:])
        if argv[0] == "apt-get":
            self._apt_get(argv)
        if argv[0] == "add-apt-repository":
            self._add_repository(argv[1:])
        return 0, ""

    def _add_repository(self, args: list[str]) -> None:
        if "--pocket" in args:
            source = args[args.index("--pocket") + 1]
        else:
            source = [a for a in args if not a.startswith("-")][-1]
        if source not in self.sources:
            self.sources.append(source)

    def _dpkg_query(self, names: list[str]) -> str:
        lines = [
            f"{p} install ok installed {self.installed[p]}"
            for p in names or sorted(self.installed)
            if p in self.installed
        ]
        return "\n".join(lines) + ("\n" if lines else "")

    def _apache_links(self, command: str, names: list[str]) -> None:
        kind = "mods" if command == "a2enmod" else "sites"
        for name in names:
            link = self.path(f"/etc/apache2/{kind}-enabled/{name}.conf")
            if command == "a2dissite":
                link.unlink(missing_ok=True)
            else:
                link.parent.mkdir(parents=True, exist_ok=True)
                link.write_text("")

    def _apt_get(self, argv: list[str]) -> None:
        before = dict(self.installed)
        if argv[1] == "install":
            only_upgrade = "--only-upgrade" in argv
            for package in (a for a in argv[2:] if not a.startswith("-") and "::" not in a):
                if not (only_upgrade and package not in self.installed):
                    self._install(package, only_upgrade)
        if argv[1] == "dist-upgrade":
            for package in self.installed:
                self.installed[package] = self.available.get(package, self.installed[package])
        changed = [p for p, v in self.installed.items() if before.get(p) != v]
        if changed:
            self.packages_installed([p for p in changed if p not in before])
            self.packages_changed(changed)

    def _install(self, package: str, only_upgrade: bool) -> None:
        for name in (package, *self.depends.get(package, ())):
            if only_upgrade and name in self.installed and name != package:
                continue  # a dependency already there is upgraded only when named
            current = self.installed.get(name, "1.0-0ubuntu1")
            self.installed[name] = self.available.get(name, current)

    def _apt_cache_depends(self, packages: list[str]) -> str:
        """``apt-cache depends --recurse --installed`` over :attr:`depends`."""
        seen: list[str] = []
        todo = list(packages)
        while todo:
            package = todo.pop(0)
            if package in seen:
                continue
            seen.append(package)
            todo.extend(d for d in self.depends.get(package, ()) if d in self.installed)
        lines = []
        for package in seen:
            lines.append(package)
            lines.extend(f"  Depends: {d}" for d in self.depends.get(package, ()))
        return "\n".join(lines) + "\n"

    def packages_installed(self, packages: list[str]) -> None:
        """A first install enables the package's services (deb-systemd-helper)."""
        for package in packages:
            self.enabled.update(self.maintainer_starts.get(package, ()))

    def packages_changed(self, packages: list[str]) -> None:
        """What the maintainer scripts of newly installed or upgraded ``packages`` do."""
        for package in packages:
            for service in self.maintainer_starts.get(package, ()):
                self.commands.append(["deb-systemd-invoke", "restart", service])
                if service not in self.masked:
                    self._start({service})

    def reboot(self) -> None:
        """Restart the machine: only the enabled, unmasked services run afterwards."""
        self.running = set()
        self._start({s for s in self.enabled if s not in self.masked})

    def _start(self, names: set[str], *, restart: bool = True) -> None:
        """(Re)start ``names``: each that does not die at once runs, watched as it starts.

        A plain start leaves a running service's process alone.
        """
        for service in sorted(names if restart else names - self.running):
            for watch in self.start_watchers:
                watch(service)
        self.running |= names - self.dies_on_start

    def _systemctl(self, args: list[str]) -> tuple[int, str]:
        verb, services = args[0], [a for a in args[1:] if not a.startswith("-")]
        quiet = "--quiet" in args
        if verb == "show":
            return 0, self.unit_groups.get(services[-1], "") + "\n"
        if verb == "is-enabled":
            states = [
                "masked"
                if name in self.masked
                else ("enabled" if name in self.enabled else "disabled")
                for name in services
            ]
            code = 0 if all(s == "enabled" for s in states) else 1
            return code, "" if quiet else "\n".join(states) + "\n"
        if verb == "is-active":
            states = ["active" if s in self.running else "inactive" for s in services]
            code = 0 if all(s == "active" for s in states) else 3
            return code, "" if quiet else "\n".join(states) + "\n"
        now = "--now" in args
        starts = verb in ("restart", "reload-or-restart", "start") or (verb == "enable" and now)
        if starts and self.masked & set(services):
            return 1, ""  # systemd refuses to start a masked unit
        self._systemctl_change(verb, services, now)
        return 0, ""

    def _systemctl_change(self, verb: str, services: list[str], now: bool) -> None:
        names = set(services)
        if verb == "mask":
            self.masked |= names
        elif verb == "unmask":
            self.masked -= names
        elif verb in ("restart", "reload-or-restart", "start"):
            self._start(names, restart=verb != "start")
        elif verb == "stop":
            self.running -= names
        elif verb == "enable":
            self.enabled |= names
        elif verb == "disable":
            self.enabled -= names
        if now and verb in ("enable",):
            self._start(names, restart=False)
        elif now and verb in ("disable", "mask"):
            self.running -= names

    # -- assertions helpers -----------------------------------------------------
    def ran(self, *prefix: str) -> list[list[str]]:
        """Commands that start with ``prefix``."""
        return [c for c in self.commands if c[: len(prefix)] == list(prefix)]

    def restarted(self) -> list[str]:
        """Services restarted (by restart or reload-or-restart), in order."""
        return [
            c[2]
            for c in self.commands
            if c[:2] in (["systemctl", "restart"], ["systemctl", "reload-or-restart"])
        ]

    def clear(self) -> None:
        """Forget recorded commands (state is kept)."""
        self.commands.clear()
