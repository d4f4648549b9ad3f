"""What a single value from another application or an operator may hold.

Relation data is input from another application and options come from an operator:
before either reaches a file, each field is checked for its form here. A field that
fails is reported by name (never by value: it may be a password) through
:func:`problem`, and nothing is written.
"""

from __future__ import annotations

import unicodedata

from .network import is_hostname, is_ip

# Characters that end a line for some reader (str.splitlines, universal newlines) or
# that no configuration file should hold: C0/C1 controls, DEL, line/paragraph separators.
_UNSAFE_CATEGORIES = ("Cc", "Zl", "Zp")
MAX_FIELD = 4096


def is_single_line(value: object) -> bool:
    """Whether ``value`` is text that cannot open a new line, key or section anywhere."""
    return isinstance(value, str) and not any(
        unicodedata.category(ch) in _UNSAFE_CATEGORIES for ch in value
    )


def is_token(value: object, max_length: int = MAX_FIELD) -> bool:
    """Non-empty single-line text of at most ``max_length`` characters (a password, a name)."""
    return is_single_line(value) and 0 < len(value) <= max_length  # type: ignore[arg-type]


def port_number(value: object) -> int | None:
    """``value`` as a TCP port (ASCII digits, 1 to 65535), else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 < value < 65536 else None
    if not (isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 5):
        return None
    number = int(value)
    return number if 0 < number < 65536 else None


def whole_number(value: object, minimum: int, maximum: int) -> int | None:
    """``value`` as ASCII decimal digits between ``minimum`` and ``maximum``, else None."""
    if not (isinstance(value, str) and value.isascii() and value.isdigit()):
        return None
    if len(value) > len(str(maximum)):
        return None  # no huge int() on another unit's input
    number = int(value)
    return number if minimum <= number <= maximum else None


def is_host(value: object) -> bool:
    """Whether ``value`` is an IP address or a DNS host name."""
    return isinstance(value, str) and (is_ip(value) or (value.isascii() and is_hostname(value)))


def is_host_name(value: object) -> bool:
    """Whether ``value`` is one DNS host name, whole (no blank or line break around it)."""
    return isinstance(value, str) and is_hostname(value)


def problem(relation: str, unit: str, field: str, expected: str) -> str:
    """A status reason naming where a bad field came from, without quoting it."""
    return f"{relation}: {unit} sent an invalid {field} ({expected})"
