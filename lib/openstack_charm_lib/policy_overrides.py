"""Operator policy overrides: a ZIP of YAML rule files, attached as a charm resource.

The convention of the classic OpenStack charms: with the boolean option
``use-policyd-override`` true, the ``policyd-override`` resource (a ZIP archive) holds
``.yaml``/``.yml`` files, each a mapping of oslo.policy rule names to rule strings.
:func:`read_zip` validates the whole archive before anything is written (any bad file
rejects the archive, so a unit never serves half of an operator's change) and merges
the files into one mapping; :func:`converge` writes it as one file in the service's
oslo.policy directory (``policy.d``, which oslo.policy reads on top of the policy in
code, with or without a ``policy.yaml``) or removes it when the option is off.

Unlike the classic charms, a bad archive leaves the overrides that were in place (an
operator fixing a typo does not open or close the API meanwhile); the charm blocks
naming the resource, the file and the problem. YAML comes from PyYAML, which ops
itself depends on.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import zipfile
from collections.abc import Mapping
from pathlib import PurePosixPath

import ops

from .fields import is_single_line
from .host import Host

logger = logging.getLogger(__name__)

OPTION = "use-policyd-override"
RESOURCE = "policyd-override"
STATUS_PREFIX = "PO: "
SUFFIXES = (".yaml", ".yml")
# Bounds on what a hook reads from an operator's archive (a ZIP can expand a thousandfold).
MAX_FILE_BYTES = 1 << 20
MAX_FILES = 200
MAX_ARCHIVE_BYTES = 16 << 20
_MAX_NAME_SHOWN = 60
# Entries macOS's archiver adds next to every file (resource forks, not YAML).
_IGNORED_PREFIXES = ("__MACOSX/",)


class OverrideError(ValueError):
    """The archive cannot be applied; the message names the resource, the file and why."""

    def __init__(self, where: str, what: str):
        super().__init__(f"{RESOURCE}: {where}: {what}")


@dataclasses.dataclass(frozen=True)
class Overrides:
    """What :func:`converge` left: whether overrides are in effect, and what changed."""

    active: bool  # an overrides file is in place (the service enforces it)
    changed: bool  # the file was written or removed: the service must reload it
    problem: str | None = None  # why the resource could not be applied (for a blocked status)


def shown(name: str) -> str:
    """A file name from the archive as a status may show it (one line, bounded)."""
    text = name if is_single_line(name) else repr(name)
    return text if len(text) <= _MAX_NAME_SHOWN else text[: _MAX_NAME_SHOWN - 3] + "..."


def _safe_member(name: str) -> bool:
    """Whether ``name`` is a relative path inside the archive (no ``..``, root or drive)."""
    if not name or not is_single_line(name) or "\\" in name:
        return False
    path = PurePosixPath(name)
    drive = len(name) > 1 and name[1] == ":" and name[0].isascii() and name[0].isalpha()
    return not path.is_absolute() and ".." not in path.parts and not drive


def _rules_of(where: str, text: str) -> dict[str, str]:
    import yaml  # a dependency of ops; imported here, as only this path needs it

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise OverrideError(where, f"not valid YAML{line}") from None
    if data is None:  # an empty file overrides nothing
        return {}
    if not isinstance(data, dict):
        raise OverrideError(where, "not a mapping of policy rule names to rules")
    for name, rule in data.items():
        if not isinstance(name, str) or not name:
            raise OverrideError(where, f"rule name {shown(repr(name))} is not a string")
        if not is_single_line(name):
            raise OverrideError(where, f"rule name {shown(name)} holds control characters")
        if not isinstance(rule, str):
            raise OverrideError(where, f"rule {shown(name)}: the rule is not a string")
        if not is_single_line(rule):
            raise OverrideError(where, f"rule {shown(name)}: the rule holds control characters")
    return data


def _holds_rules(name: str) -> bool:
    """Whether the archive member ``name`` is a YAML file of rules (refused if unsafe)."""
    if not _safe_member(name):
        raise OverrideError(shown(name), "unsafe file name (absolute or with ..)")
    if name.startswith(_IGNORED_PREFIXES):
        return False
    if not name.lower().endswith(SUFFIXES):
        logger.warning("%s: ignoring %s (not .yaml or .yml)", RESOURCE, name)
        return False
    return True


def _member_text(archive: zipfile.ZipFile, member: zipfile.ZipInfo, where: str) -> str:
    """The UTF-8 text of one archive member, read no further than the size limit."""
    if member.file_size > MAX_FILE_BYTES:
        raise OverrideError(where, f"larger than {MAX_FILE_BYTES >> 20} MiB")
    try:
        with archive.open(member) as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError):
        # Corrupt data, an unknown compression method, or encryption.
        raise OverrideError(where, "cannot be extracted") from None
    if len(raw) > MAX_FILE_BYTES:  # the header lied about the size
        raise OverrideError(where, f"larger than {MAX_FILE_BYTES >> 20} MiB")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise OverrideError(where, "not UTF-8 text") from None


def read_zip(data: bytes) -> dict[str, str]:
    """Every rule of the archive's YAML files, merged; :class:`OverrideError` if any is bad.

    Directories are flattened (only the rules matter); files without a YAML suffix are
    ignored, as by the classic charms, but an archive with no YAML file is refused. A
    rule defined by two files is refused too: which one wins would be an accident of
    the archive's order.
    """
    if len(data) > MAX_ARCHIVE_BYTES:
        raise OverrideError("the resource", f"larger than {MAX_ARCHIVE_BYTES >> 20} MiB")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError):
        raise OverrideError("the resource", "not a ZIP archive") from None
    rules: dict[str, str] = {}
    origin: dict[str, str] = {}  # rule name -> the file that defines it
    yaml_files = 0
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) > MAX_FILES:
            raise OverrideError("the resource", f"more than {MAX_FILES} files")
        for member in members:
            if not _holds_rules(member.filename):
                continue
            yaml_files += 1
            name = member.filename
            where = shown(name)
            text = _member_text(archive, member, where)
            for rule, check in _rules_of(where, text).items():
                if rule in origin:
                    raise OverrideError(where, f"rule {shown(rule)} is also in {origin[rule]}")
                origin[rule] = where
                rules[rule] = check
        if not yaml_files:
            raise OverrideError("the resource", "no .yaml or .yml file in the archive")
    return rules


def render(rules: Mapping[str, str]) -> str:
    """The overrides file: the merged rules as YAML, sorted, one rule a line."""
    import yaml

    header = f"# Managed by the charm from its {RESOURCE} resource; local changes are lost.\n"
    if not rules:
        return header + "{}\n"
    body = yaml.safe_dump(dict(sorted(rules.items())), default_flow_style=False, width=1 << 16)
    return header + body


def fetch_resource(model: ops.Model) -> bytes | None:
    """The attached ``policyd-override`` resource, or None when none is attached."""
    try:
        path = model.resources.fetch(RESOURCE)
    except (ops.ModelError, NameError):
        return None
    with path.open("rb") as handle:  # what read_zip needs to refuse an oversized one
        return handle.read(MAX_ARCHIVE_BYTES + 1)


def converge(
    host: Host, model: ops.Model, enabled: bool, target: str, group: str, app: str
) -> Overrides:
    """Bring ``target`` to what the option and the resource ask.

    Off: the file is removed. On with a valid resource: the merged rules are written
    (root:``group`` 0640, as the service's other configuration). On with no resource
    or a bad one: nothing changes, and :attr:`Overrides.problem` says what to do.
    """
    if not enabled:
        return Overrides(active=False, changed=host.remove_file(target))
    in_place = host.exists(target)
    kept = "; the previous overrides stay in effect" if in_place else ""
    data = fetch_resource(model)
    if data is None:
        problem = (
            f"{OPTION} is true but no {RESOURCE} resource is attached: "
            f"juju attach-resource {app} {RESOURCE}=<zip of YAML files>{kept}"
        )
        return Overrides(active=in_place, changed=False, problem=problem)
    try:
        rules = read_zip(data)
    except OverrideError as exc:
        logger.error("%s", exc)
        return Overrides(active=in_place, changed=False, problem=f"{exc}{kept}")
    written = host.write_file(target, render(rules), group=group, mode=0o640)
    if written.content_changed:
        logger.info("%s: %d rules applied to %s", RESOURCE, len(rules), target)
    return Overrides(active=True, changed=written.content_changed)


def prefixed(status: ops.StatusBase, overrides: Overrides | None) -> ops.StatusBase:
    """``status`` with ``PO: `` in front while overrides are in effect."""
    if overrides is None or not overrides.active:
        return status
    return type(status)(STATUS_PREFIX + status.message)  # type: ignore[call-arg]
