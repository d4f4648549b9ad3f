"""How a unit is watched: its health daemon, ``cos-agent`` and ``nrpe-external-master``.

A charm describes what it offers in a :class:`Watch` each pass; :func:`apply` makes the
machine and the two relations say exactly that:

- the health daemon (a :class:`Daemon`: modules the charm copies side by side, run by the
  system python3 under systemd, serving Prometheus metrics on loopback) is installed,
  restarted when one of its files changed and started when it is not running; a unit
  that should not run it (``Watch.run_daemon`` false) has it stopped and its files,
  configuration included, removed;
- on ``cos-agent`` the unit's bag holds the scrape jobs, log files, alert rules and
  dashboards (:mod:`.cos_agent`);
- on ``nrpe-external-master`` (and only where the nrpe subordinate created
  ``/etc/nagios/nrpe.d``) the checks and plugins are written, ours that are no longer
  wanted removed, nagios-nrpe-server restarted when its files changed, and the relation
  told the check names (:mod:`.nrpe`). Without the relation our check files go.

When the unit is removed, :func:`forget` stops the daemon and deletes what was written
for it and for nrpe (a removed unit must not keep a password or a check behind).

The checks of stopped services say OK while the unit is paused: the charm's pause
leaves a flag file (:func:`paused_flag`) that the service checks read.

Problems that the operator must fix (an invalid ``nagios_context``, a daemon that does not
start) come back as messages for the unit's status; nothing here raises out of a hook
except what the charm's error boundary turns into a status.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import ops

from . import cos_agent, nrpe, services
from .host import CommandError, Host
from .rendering import ManagedFile, apply_files

COS_AGENT = "cos-agent"
NRPE = "nrpe-external-master"
SYSTEMD_DIR = "/etc/systemd/system"
PYTHON = "/usr/bin/python3"  # the machine's: the daemons import only the standard library


@dataclasses.dataclass(frozen=True)
class Daemon:
    """A health daemon: ``modules`` copied into ``directory``, the first one run."""

    service: str
    description: str
    directory: str
    modules: tuple[Path, ...]
    config_path: str
    config_text: str = dataclasses.field(default="", repr=False)  # may hold a password

    @classmethod
    def of(cls, module: ModuleType, service: str, description: str, config_text: str) -> Daemon:
        """The daemon of ``module``: its ``DAEMON_DIR``, ``COPIED_MODULES`` and ``CONFIG``."""
        return cls(
            service=service,
            description=description,
            directory=module.DAEMON_DIR,
            modules=tuple(module.COPIED_MODULES),
            config_path=module.CONFIG,
            config_text=config_text,
        )

    @property
    def unit_path(self) -> str:
        """The systemd unit file."""
        return f"{SYSTEMD_DIR}/{self.service}.service"

    def unit_text(self) -> str:
        """The systemd unit: restarted whenever it stops, after the network is up."""
        entry = f"{self.directory}/{self.modules[0].name}"
        return "\n".join(
            [
                "# Written by the charm; changes are overwritten.",
                "[Unit]",
                f"Description={self.description}",
                "After=network-online.target",
                "Wants=network-online.target",
                "",
                "[Service]",
                f"ExecStart={PYTHON} {entry} --config {self.config_path}",
                "Restart=always",
                "RestartSec=10",
                # The daemons copy their own modules: no user site, no working directory.
                "Environment=PYTHONNOUSERSITE=1",
                "WorkingDirectory=/",
                "",
                "[Install]",
                "WantedBy=multi-user.target",
                "",
            ]
        )

    def files(self) -> list[ManagedFile]:
        """Everything the daemon needs on disk; each change restarts it."""
        restart = (self.service,)
        files = [ManagedFile(self.unit_path, self.unit_text(), restarts=restart)]
        files += [
            ManagedFile(f"{self.directory}/{module.name}", module.read_bytes(), restarts=restart)
            for module in self.modules
        ]
        files.append(ManagedFile(self.config_path, self.config_text, mode=0o600, restarts=restart))
        return files


@dataclasses.dataclass(frozen=True)
class Watch:
    """What one unit offers to be watched, this pass."""

    daemon: Daemon
    run_daemon: bool
    offer: cos_agent.Observability
    checks: tuple[nrpe.Check, ...]
    primary: bool  # the nrpe charm names the Nagios host after the primary (principal) unit
    plugins: tuple[str, ...] = nrpe.PLUGINS


def nagios_options(config: ops.ConfigData) -> tuple[str, str]:
    """``nagios_context`` and ``nagios_servicegroups`` as given (validated on use)."""
    context = config.get("nagios_context")
    groups = config.get("nagios_servicegroups")
    return (
        context if isinstance(context, str) else "juju",
        groups if isinstance(groups, str) else "",
    )


def paused_flag(managed_by: str) -> str:
    """The file that exists while the unit is paused (the service checks then say OK)."""
    return f"/var/lib/{managed_by}-charm/paused"


def service_check(managed_by: str, service: str) -> nrpe.Check:
    """The classic charms' process check of one systemd service (shortname: the service)."""
    return nrpe.Check(
        shortname=service,
        description=f"process check {{{service}}}",
        command=nrpe.plugin_command(
            "check_systemd_units.py", "--paused-file", paused_flag(managed_by), service
        ),
    )


def metric_check(
    shortname: str, description: str, port: int, family: str, *arguments: str
) -> nrpe.Check:
    """A check of one metric family of a health daemon (or haproxy) on this machine."""
    url = f"http://127.0.0.1:{port}/metrics"
    return nrpe.Check(
        shortname=shortname,
        description=description,
        command=nrpe.plugin_command(
            "check_exporter_metric.py", "--url", url, "--family", family, *arguments
        ),
    )


def apply(charm: ops.CharmBase, host: Host, watch: Watch, *, paused: bool) -> list[str]:
    """Bring the daemon and both relations in line with ``watch``; the problems found."""
    problems = _apply_daemon(host, watch.daemon, watch.run_daemon)
    cos_agent.publish(charm, COS_AGENT, watch.offer)
    problems += _apply_nrpe(charm, host, watch, paused)
    return problems


def forget(charm: ops.CharmBase, host: Host, watch: Watch) -> None:
    """The unit is being removed: its daemon stopped, the daemon's and our check files gone."""
    _remove_daemon(host, watch.daemon)
    for path in nrpe.owned_paths(host, charm.meta.name):
        host.remove_file(path)
    host.remove_file(paused_flag(charm.meta.name))


def _apply_daemon(host: Host, daemon: Daemon, run: bool) -> list[str]:
    if not run:
        _remove_daemon(host, daemon)
        return []
    applied = apply_files(host, daemon.files())
    if daemon.unit_path in applied.changed:
        host.run(["systemctl", "daemon-reload"])
    if not applied.restarts and services.is_running(host, daemon.service):
        return []  # the steady state: one question to systemd
    if services.converge(host, [daemon.service], set(applied.restarts)):
        return [f"{daemon.service} does not start: see juju debug-log"]
    return []


def _remove_daemon(host: Host, daemon: Daemon) -> None:
    if not host.exists(daemon.unit_path):
        return
    host.run(["systemctl", "disable", "--now", daemon.service], check=False)
    for spec in daemon.files():
        host.remove_file(spec.path)
    host.run(["systemctl", "daemon-reload"])


def _sent_hostname(relation: ops.Relation) -> str | None:
    """The Nagios host name the nrpe charm sent (its first unit that sent one)."""
    for unit in sorted(relation.units, key=lambda u: u.name):
        sent = relation.data[unit].get("nagios_hostname")
        if sent:
            return sent
    return None


def _nrpe_problems(context: str, groups: str, sent: str | None) -> list[str]:
    options = nrpe.validate(nagios_context=context, servicegroups=groups)
    problems = [f"Invalid config: {'; '.join(options)}"] if options else []
    if sent is not None:
        problems += nrpe.validate(nagios_context="juju", nagios_hostname=sent)
    return problems


def _apply_nrpe(charm: ops.CharmBase, host: Host, watch: Watch, paused: bool) -> list[str]:
    relation = charm.model.get_relation(NRPE)
    managed_by = charm.meta.name  # marks the check files and names the pause flag
    wanted: Sequence[ManagedFile] = []
    if relation is not None and host.exists(nrpe.NRPE_DIR):
        context, groups = nagios_options(charm.config)
        sent = _sent_hostname(relation)
        problems = _nrpe_problems(context, groups, sent)
        if problems:  # the files stay as they are until the value is fixed
            return problems
        hostname = nrpe.nagios_hostname(
            {"nagios_hostname": sent} if sent else None, context, charm.unit.name
        )
        wanted = nrpe.check_files(
            watch.checks,
            nagios_context=context,
            servicegroups=groups,
            nagios_hostname=hostname,
            managed_by=managed_by,
        ) + nrpe.plugin_files(watch.plugins)
    flag = paused_flag(managed_by)
    if paused and relation is not None:
        host.write_file(flag, "paused by the charm's pause action\n")
    else:
        host.remove_file(flag)
    applied = apply_files(host, wanted)
    stale = nrpe.stale_paths(nrpe.owned_paths(host, managed_by), wanted)
    for path in stale:
        host.remove_file(path)
    if relation is not None:
        data = relation.data[charm.unit]
        # Name only checks whose files exist: nrpe may not have created nrpe.d yet.
        named = watch.checks if wanted else ()
        for key, value in nrpe.relation_bag(named, primary=watch.primary).items():
            if data.get(key) != value:
                data[key] = value
    reread = applied.restarts or any(p.startswith(nrpe.NRPE_DIR + "/") for p in stale)
    if reread and services.is_running(host, nrpe.NRPE_SERVICE):
        try:
            services.restart(host, nrpe.NRPE_SERVICE)
        except CommandError:
            return [f"{nrpe.NRPE_SERVICE} did not restart: see juju debug-log"]
    return []
