"""Section-aware ``config-flags``: operator overrides merged into an oslo.config file.

Syntax: entries separated by newlines or commas; each entry is ``key=value`` (for the
``[DEFAULT]`` section) or ``section/key=value``. A comma inside a value is kept when
what follows it is not a new ``[section/]key=`` entry, so
``memcached_servers=a:11211,b:11211`` works. Flags win over the charm's own settings.
A value may not hold a carriage return or any other control character: it would open
a new line (and key) in the file. Errors name the entry by position and key only:
values often are passwords.
"""

from __future__ import annotations

import re

from .fields import is_single_line

_NAME = r"[A-Za-z_][A-Za-z0-9_.\-]*"
_ENTRY_START = re.compile(rf"(?:^|[,\n])\s*(?=(?:{_NAME}/)?{_NAME}\s*=)")
_ENTRY = re.compile(rf"^\s*(?:(?P<section>{_NAME})/)?(?P<key>{_NAME})\s*=\s*(?P<value>.*?)\s*$")


class ConfigFlagsError(ValueError):
    """The flags cannot be parsed; the message quotes the bad entry (never its value)."""


def _entry_problem(position: int, name: str) -> ConfigFlagsError:
    shown = f" ({name!r})" if re.fullmatch(rf"(?:{_NAME}/)?{_NAME}", name) else ""
    return ConfigFlagsError(
        f"config-flags: cannot parse entry {position}{shown}; use [section/]key=value, "
        "one line per value"
    )


def parse_config_flags(text: str) -> dict[str, dict[str, str]]:
    """Parse ``text`` into ``{section: {key: value}}``."""
    flags: dict[str, dict[str, str]] = {}
    text = text.strip()
    if not text:
        return flags
    entries = list(_ENTRY_START.finditer(text))
    if not entries or text[: entries[0].end()].strip(" ,\n"):
        raise _entry_problem(1, "")
    ends = [m.start() for m in entries[1:]] + [len(text)]
    for position, (entry, end) in enumerate(zip(entries, ends, strict=True), start=1):
        chunk = text[entry.end() : end]
        match = _ENTRY.match(chunk)
        name = chunk.split("=")[0].strip()
        if not match or not is_single_line(match["value"]):
            raise _entry_problem(position, name)
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
