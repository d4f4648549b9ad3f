"""Section-aware ``config-flags``: operator overrides merged into an oslo.config file.

Syntax: entries separated by newlines or commas; each entry is ``key=value`` (for the
``[DEFAULT]`` section) or ``section/key=value``. A comma inside a value is kept when
what follows it is not a new ``[section/]key=`` entry, so
``memcached_servers=a:11211,b:11211`` works. Flags win over the charm's own settings.
"""

from __future__ import annotations

import re

_NAME = r"[A-Za-z_][A-Za-z0-9_.\-]*"
_ENTRY_START = re.compile(rf"(?:^|[,\n])\s*(?=(?:{_NAME}/)?{_NAME}\s*=)")
_ENTRY = re.compile(rf"^\s*(?:(?P<section>{_NAME})/)?(?P<key>{_NAME})\s*=\s*(?P<value>.*?)\s*$")


class ConfigFlagsError(ValueError):
    """The flags cannot be parsed; the message quotes the bad entry (never its value)."""


def parse_config_flags(text: str) -> dict[str, dict[str, str]]:
    """Parse ``text`` into ``{section: {key: value}}``."""
    flags: dict[str, dict[str, str]] = {}
    text = text.strip()
    if not text:
        return flags
    entries = list(_ENTRY_START.finditer(text))
    if not entries or text[: entries[0].end()].strip(" ,\n"):
        first = text.split(",")[0].split("\n")[0].split("=")[0].strip()
        raise ConfigFlagsError(f"config-flags: cannot parse {first!r}; use [section/]key=value")
    ends = [m.start() for m in entries[1:]] + [len(text)]
    for entry, end in zip(entries, ends, strict=True):
        chunk = text[entry.end() : end]
        match = _ENTRY.match(chunk)
        if not match or "\n" in match["value"]:
            raise ConfigFlagsError(
                f"config-flags: cannot parse {chunk.split('=')[0].strip()!r}; "
                "use [section/]key=value"
            )
        section = match["section"] or "DEFAULT"
        flags.setdefault(section, {})[match["key"]] = match["value"]
    return flags


def merge_flags(
    sections: dict[str, dict[str, str]], flags: dict[str, dict[str, str]]
) -> dict[str, dict[str, str]]:
    """Return ``sections`` with ``flags`` applied on top (new sections appended)."""
    merged = {name: dict(options) for name, options in sections.items()}
    for section, options in flags.items():
        merged.setdefault(section, {}).update(options)
    return merged
