"""Rendering of configuration files, change detection and the restart map.

A :class:`ManagedFile` is the desired state of one file (content, owner, group,
mode and the services that read it). :func:`apply_files` writes only what differs and
returns the services to restart: exactly those whose inputs changed content.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jinja2

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


class Renderer:
    """Renders jinja2 templates from a charm's ``templates/`` and the library's own."""

    def __init__(self, charm_templates: Path | None = None):
        paths = [str(p) for p in (charm_templates, _LIB_TEMPLATES) if p is not None]
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(paths),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            autoescape=False,  # noqa: S701 - these are config files, not HTML
        )

    def render(self, template: str, context: dict[str, Any]) -> str:
        """Render ``template`` with ``context``; undefined names are errors."""
        return self._env.get_template(template).render(**context)


def render_ini(sections: dict[str, dict[str, str]], header: str) -> str:
    """Serialize an oslo.config style file: ``[section]`` blocks of ``key = value``."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    for section, options in sections.items():
        if not options:
            continue
        lines.append("")
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {value}" for key, value in options.items())
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
