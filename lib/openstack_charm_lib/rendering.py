"""Rendering of configuration files, change detection and the restart map.

A :class:`ManagedFile` is the desired state of one file (content, owner, group,
mode and the services that read it). :func:`apply_files` writes only what differs and
returns the services to restart: exactly those whose inputs changed content.
:func:`apply_when_changed` skips rendering altogether when the inputs are those of the
last pass and the files on disk are still what that pass left (most hooks).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from pathlib import Path
from typing import Any

from .fields import is_single_line
from .host import Host

_LIB_TEMPLATES = Path(__file__).parent / "templates"


@dataclasses.dataclass(frozen=True)
class ManagedFile:
    """Desired state of one file on the machine."""

    path: str
    content: str | bytes
    owner: str = "root"
    group: str = "root"
    mode: int = 0o644
    restarts: tuple[str, ...] = ()


@functools.cache
def _environment(paths: tuple[str, ...]) -> Any:
    """One jinja2 environment per template path list and process (templates compile once)."""
    # Imported on first use: hooks whose inputs did not change never render.
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(list(paths)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # noqa: S701 - these are config files, not HTML
    )


class Renderer:
    """Renders jinja2 templates from a charm's ``templates/`` and the library's own."""

    def __init__(self, charm_templates: Path | None = None):
        self.paths = [p for p in (charm_templates, _LIB_TEMPLATES) if p is not None]
        self._env: Any = None
        self._digest: str | None = None

    def render(self, template: str, context: dict[str, Any]) -> str:
        """Render ``template`` with ``context``; undefined names are errors."""
        if self._env is None:
            self._env = _environment(tuple(str(p) for p in self.paths))
        return self._env.get_template(template).render(**context)

    def digest(self) -> str:
        """Digest of every template's text (a charm upgrade may change them).

        Read once per process: the templates only change with the charm, and every hook
        of a new charm revision is a new process.
        """
        if self._digest is None:
            sha = hashlib.sha256()
            for path in self.paths:
                for template in sorted(path.glob("*.j2")):
                    sha.update(template.name.encode() + b"\0" + template.read_bytes())
            self._digest = sha.hexdigest()
        return self._digest


class UnsafeValueError(ValueError):
    """A value would change the structure of the file; the message names where (not what)."""


_INI_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")


def oslo_literal(value: str) -> str:
    """``value`` written so that oslo.config reads it back unchanged.

    oslo.config substitutes ``$name``, strips surrounding blanks and drops one pair of
    matching quotes: ``$`` is doubled, and a value that would lose blanks or quotes is
    wrapped in one more pair of quotes, which the parser removes.
    """
    escaped = value.replace("$", "$$")
    quoted = len(value) > 0 and value[0] == value[-1] and value[0] in "'\""
    if quoted or value != value.strip():
        return f'"{escaped}"'
    return escaped


def render_ini(sections: dict[str, dict[str, str]], header: str) -> str:
    """Serialize an oslo.config style file: ``[section]`` blocks of ``key = value``.

    The last line of defence behind the readers' checks: a section or key that is not
    a plain name, or a value that could end its line, raises :class:`UnsafeValueError`
    instead of being written.
    """
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    for section, options in sections.items():
        if not options:
            continue
        if not _INI_NAME.fullmatch(section):
            raise UnsafeValueError(f"section {section[:40]!r} is not a plain name")
        lines.append("")
        lines.append(f"[{section}]")
        for key, value in options.items():
            if not _INI_NAME.fullmatch(key):
                raise UnsafeValueError(f"[{section}] key {key[:40]!r} is not a plain name")
            if not is_single_line(value):
                raise UnsafeValueError(f"[{section}] {key}: the value holds a line break")
            lines.append(f"{key} = {value}".rstrip())
    return "\n".join(lines) + "\n"


@dataclasses.dataclass
class Applied:
    """Result of :func:`apply_files`: paths whose content changed, services to restart."""

    changed: list[str] = dataclasses.field(default_factory=list)
    restarts: list[str] = dataclasses.field(default_factory=list)


def apply_files(host: Host, files: Iterable[ManagedFile]) -> Applied:
    """Write every file whose content or permissions differ.

    Services are listed for restart, in first-seen order, only when a file they read
    changed content; a permission fix alone restarts nothing.
    """
    applied = Applied()
    for spec in files:
        outcome = host.write_file(
            spec.path, spec.content, owner=spec.owner, group=spec.group, mode=spec.mode
        )
        if outcome.content_changed:
            applied.changed.append(spec.path)
            applied.restarts.extend(s for s in spec.restarts if s not in applied.restarts)
    return applied


def _file_state(host: Host, path: str) -> list | None:
    """Digest, owner, group and mode of ``path`` as it is on disk."""
    stat = host.stat_owner_mode(path)
    content = host.read_bytes(path) if stat else None
    if stat is None or content is None:
        return None
    return [hashlib.sha256(content).hexdigest(), *stat]


def _canonical(value: Any, path: tuple[int, ...] = ()) -> Any:
    """A JSON-encodable, order-independent image of ``value`` for the inputs' digest.

    Total over what charms pass (it must never raise out of a hook): dict keys of any
    type are compared by their ``repr``, dataclasses become their fields, containers that
    contain themselves (a YAML recursive alias) become a marker, and anything else its
    ``repr``.
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if id(value) in path:
        return ["<cycle>"]
    inner = (*path, id(value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return {"<dataclass>": type(value).__name__, **_canonical(fields, inner)}
    if isinstance(value, Mapping):
        items = [(_key(k), _canonical(v, inner)) for k, v in value.items()]
        return dict(sorted(items, key=lambda item: item[0]))
    if isinstance(value, (list, tuple)):
        return [_canonical(v, inner) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_canonical(v, inner) for v in value), key=repr)
    return repr(value)


def _key(key: Any) -> str:
    """A dict key as a string; non-strings are tagged so that ``1`` and ``"1"`` differ."""
    return key if isinstance(key, str) else f"<{type(key).__name__}>{key!r}"


def apply_when_changed(
    host: Host,
    record: MutableMapping[str, Any],
    inputs: Any,
    build: Callable[[], Iterable[ManagedFile]],
) -> Applied:
    """:func:`apply_files` on ``build()``, unless nothing can have changed.

    ``inputs`` (values, dataclasses, lists and dicts of them) must hold everything the
    rendered files depend on, templates' digest included. ``record`` (the charm's
    stored state) keeps a digest of them and the state of each file after the last
    pass; when the inputs are the same and every file is still as left, nothing is
    rendered or written.
    """
    encoded = json.dumps(_canonical(inputs), sort_keys=True)
    key = hashlib.sha256(encoded.encode()).hexdigest()
    files = record.get("files") or {}
    if record.get("key") == key and files:
        if all(_file_state(host, path) == list(state) for path, state in files.items()):
            return Applied()
    specs = list(build())
    applied = apply_files(host, specs)
    record["key"] = key
    record["files"] = {spec.path: _file_state(host, spec.path) for spec in specs}
    return applied
