"""One honest status: the first failing check decides the unit's status.

A charm lists its checks in priority order (config errors, pause, relations,
services); :func:`first_failure` returns the first one that fails, or None.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import ops

Check = Callable[[], ops.StatusBase | None]


def first_failure(checks: Iterable[Check]) -> ops.StatusBase | None:
    """Evaluate ``checks`` lazily; the first non-None status wins."""
    for check in checks:
        status = check()
        if status is not None:
            return status
    return None


def join_names(names: Iterable[str]) -> str:
    """``a, b and c`` for status messages."""
    items = list(names)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
