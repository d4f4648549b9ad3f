"""The ``nrpe-external-master`` relation: Nagios checks run by the nrpe subordinate.

The layout is the classic OpenStack charms' (charmhelpers ``contrib.charmsupport.nrpe``),
which the nrpe charm and the Nagios server expect:

- ``/etc/nagios/nrpe.d/check_<shortname>.cfg`` holds ``command[check_<shortname>]=<cmd>``
  (nagios-nrpe-server reads it; the classic charms restart it after writing);
- ``/var/lib/nagios/export/service__<host>_check_<shortname>.cfg`` holds the service
  definition the Nagios server collects from the export directory;
- the relation carries ``monitors`` (YAML: ``monitors.remote.nrpe.<shortname>.command``)
  and ``primary`` (``True`` from a principal, ``False`` from a subordinate: the nrpe charm
  names the Nagios host after the primary unit);
- the Nagios host name is the one the nrpe charm sends (``nagios_hostname``), else
  ``<nagios_context>-<unit name with / as ->``; service groups default to the context.

Plugins (:data:`PLUGINS`, shipped in ``nagios_plugins/``) go to ``PLUGIN_DIR``.

Every value that reaches a file is checked first: the context, service groups and host
name are operator or remote input, and Nagios ends a value at ``;`` and a definition at
a ``}`` line, so only plain names pass (:func:`validate`, and
:class:`~.rendering.UnsafeValueError` from :func:`check_files`). Files written here
start with a marker line naming the charm, so :func:`owned_paths` finds ours and never
another charm's.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath

import yaml

from .fields import is_single_line
from .host import Host
from .rendering import ManagedFile, UnsafeValueError

PLUGIN_DIR = "/usr/local/lib/nagios/plugins"
NRPE_DIR = "/etc/nagios/nrpe.d"
EXPORT_DIR = "/var/lib/nagios/export"
NRPE_SERVICE = "nagios-nrpe-server"
PLUGINS = ("check_exporter_metric.py", "check_systemd_units.py")
PLUGIN_SUPPORT = "nagios_check.py"  # what the plugins share, installed next to them
_PLUGIN_SOURCE = Path(__file__).parent / "nagios_plugins"

# charmhelpers' shortname pattern.
_SHORTNAME = re.compile(r"[A-Za-z0-9_.@-]+")
# A Nagios object name from operator or remote input: no blank, no ``;`` (a comment),
# no brace, bracket or character of Nagios' default illegal_object_name_chars.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@:+-]{0,254}")
# What a service_description may not hold (Nagios' default illegal_object_name_chars,
# plus ``;`` and the backslash that escapes it).
_NOT_IN_DESCRIPTION = set("`~!$%^&*|'\"<>?,()=;\\")
# nrpe reads its configuration in lines of at most 2048 bytes.
_MAX_LINE = 2000
_FIELD = "{key:<32}"  # charmhelpers' column layout


@dataclasses.dataclass(frozen=True)
class Check:
    """One Nagios check: ``command`` is the whole command line nrpe runs (a shell line)."""

    shortname: str
    description: str
    command: str

    def __post_init__(self):
        # Charm-defined values: a bad one is a bug, raised when the check is built.
        if not _SHORTNAME.fullmatch(self.shortname):
            raise ValueError(f"nrpe check shortname {self.shortname[:40]!r} is not a plain name")
        if not is_single_line(self.description) or _NOT_IN_DESCRIPTION & set(self.description):
            raise ValueError(f"nrpe check {self.shortname}: description has a forbidden character")
        line = f"command[check_{self.shortname}]={self.command}"
        if not is_single_line(self.command) or not self.command.strip():
            raise ValueError(f"nrpe check {self.shortname}: command must be one line")
        if len(line.encode()) > _MAX_LINE:
            raise ValueError(f"nrpe check {self.shortname}: command longer than nrpe reads")

    @property
    def name(self) -> str:
        """The nrpe command name, ``check_<shortname>``."""
        return f"check_{self.shortname}"


def plugin_command(plugin: str, *args: str) -> str:
    """The command line running one of :data:`PLUGINS` with ``args``, each shell-quoted."""
    if plugin not in PLUGINS:
        raise ValueError(f"unknown nagios plugin {plugin!r}")
    return shlex.join([f"{PLUGIN_DIR}/{plugin}", *args])


def marker(managed_by: str) -> str:
    """First line of every file written for ``managed_by`` (the charm's name)."""
    return f"# Managed by the {managed_by} charm"


def nagios_hostname(
    relation_data_of_remote_unit: Mapping[str, str] | None, nagios_context: str, unit_name: str
) -> str:
    """The Nagios host name: the nrpe charm's, else ``<context>-<unit with / as ->``."""
    sent = (relation_data_of_remote_unit or {}).get("nagios_hostname")
    if sent:
        return sent
    return f"{nagios_context}-{unit_name.replace('/', '-')}"


def _servicegroups(servicegroups: str, nagios_context: str) -> str:
    """Service groups as one normalised list; an empty option means the context."""
    # Only blanks are stripped: any other character must pass validate() as it is.
    groups = [g.strip(" ") for g in servicegroups.split(",")] if servicegroups.strip(" ") else []
    return ",".join(groups) if groups else nagios_context


def validate(
    *, nagios_context: str, servicegroups: str = "", nagios_hostname: str | None = None
) -> list[str]:
    """Why these values cannot be written, naming each option (never its value)."""
    problems = []
    if not _NAME.fullmatch(nagios_context):
        problems.append("nagios_context is not a plain Nagios name (letters, digits, ._@:+-)")
    if servicegroups.strip(" ") and not all(
        _NAME.fullmatch(g.strip(" ")) for g in servicegroups.split(",")
    ):
        problems.append("nagios_servicegroups is not a comma-separated list of plain names")
    if nagios_hostname is not None and not _NAME.fullmatch(nagios_hostname):
        problems.append("nrpe-external-master: nagios_hostname is not a plain host name")
    return problems


def _service_definition(check: Check, hostname: str, servicegroups: str) -> str:
    fields = [
        ("use", "active-service"),
        ("host_name", hostname),
        ("service_description", f"{hostname}[{check.shortname}] {check.description}"),
        ("check_command", f"check_nrpe!{check.name}"),
        ("servicegroups", servicegroups),
    ]
    lines = [f"    {_FIELD.format(key=key)}{value}".rstrip() for key, value in fields]
    return "define service {\n" + "\n".join(lines) + "\n}\n"


def check_files(
    checks: Sequence[Check],
    *,
    nagios_context: str,
    servicegroups: str,
    nagios_hostname: str,
    managed_by: str = "openstack",
) -> list[ManagedFile]:
    """The nrpe.d command files and exported service definitions of ``checks``.

    The nrpe.d files restart nagios-nrpe-server when they change (it reads them only
    at start). Raises :class:`UnsafeValueError` naming the option when a value is not
    a plain name; :func:`validate` gives the same verdict for a status.
    """
    found = validate(
        nagios_context=nagios_context,
        servicegroups=servicegroups,
        nagios_hostname=nagios_hostname,
    )
    if found:
        raise UnsafeValueError("; ".join(found))
    if not _SHORTNAME.fullmatch(managed_by):
        raise UnsafeValueError("managed_by is not a plain name")
    names = [c.shortname for c in checks]
    if len(set(names)) != len(names):
        raise ValueError("nrpe check shortnames must be unique")
    groups = _servicegroups(servicegroups, nagios_context)
    head = marker(managed_by)
    files = []
    for check in checks:
        command = "\n".join(
            [
                head,
                f"# check {check.shortname}",
                "# The following header was added automatically by juju",
                "# Modifying it will affect nagios monitoring and alerting",
                f"# servicegroups: {groups}",
                f"command[{check.name}]={check.command}",
                "",
            ]
        )
        service = "\n".join(
            [
                head,
                "#---------------------------------------------------",
                "# This file is Juju managed",
                "#---------------------------------------------------",
                _service_definition(check, nagios_hostname, groups),
            ]
        )
        files.append(
            ManagedFile(f"{NRPE_DIR}/{check.name}.cfg", command, restarts=(NRPE_SERVICE,))
        )
        files.append(
            ManagedFile(f"{EXPORT_DIR}/service__{nagios_hostname}_{check.name}.cfg", service)
        )
    return files


def plugin_files(names: Sequence[str]) -> list[ManagedFile]:
    """Copies of our plugins ``names`` for ``PLUGIN_DIR``, executable by nrpe (0755).

    With them goes :data:`PLUGIN_SUPPORT`, the module they import (readable, 0644).
    """
    files = []
    for name in names:
        if name not in PLUGINS:
            raise ValueError(f"unknown nagios plugin {name!r}")
        content = (_PLUGIN_SOURCE / name).read_bytes()
        files.append(ManagedFile(f"{PLUGIN_DIR}/{name}", content, mode=0o755))
    if files:
        support = (_PLUGIN_SOURCE / PLUGIN_SUPPORT).read_bytes()
        files.append(ManagedFile(f"{PLUGIN_DIR}/{PLUGIN_SUPPORT}", support, mode=0o644))
    return files


def _ours_by_name(path: str) -> bool:
    """Whether ``path`` has the name of a file :func:`check_files` writes."""
    pure = PurePosixPath(path)
    if str(pure.parent) == NRPE_DIR:
        return pure.name.startswith("check_") and pure.suffix == ".cfg"
    if str(pure.parent) == EXPORT_DIR:
        return pure.name.startswith("service__") and "_check_" in pure.name
    return False


def owned_paths(host: Host, managed_by: str = "openstack") -> list[str]:
    """Check files on the machine whose first line is ``managed_by``'s marker."""
    head = marker(managed_by).encode() + b"\n"
    found = []
    for directory, pattern in ((NRPE_DIR, "check_*.cfg"), (EXPORT_DIR, "service__*_check_*.cfg")):
        for path in sorted(host.path(directory).glob(pattern)):
            machine_path = f"{directory}/{path.name}"
            content = host.read_bytes(machine_path)
            if content is not None and content.startswith(head):
                found.append(machine_path)
    return found


def stale_paths(present: Iterable[str], wanted: Sequence[ManagedFile]) -> list[str]:
    """Which of ``present`` (our files now on disk, see :func:`owned_paths`) to delete.

    Only paths named like the files :func:`check_files` writes are ever returned, so a
    caller's mistake cannot remove the nrpe charm's own configuration.
    """
    keep = {spec.path for spec in wanted}
    return sorted({p for p in present if p not in keep and _ours_by_name(p)})


def relation_bag(checks: Sequence[Check], *, primary: bool = True) -> dict[str, str]:
    """The unit's ``nrpe-external-master`` data, as charmhelpers' ``NRPE.write`` sets it."""
    nrpe = {check.shortname: {"command": check.name} for check in checks}
    monitors = {"monitors": {"remote": {"nrpe": nrpe}}}
    return {
        "monitors": yaml.safe_dump(monitors, default_flow_style=False, sort_keys=True),
        "primary": str(bool(primary)),
    }
