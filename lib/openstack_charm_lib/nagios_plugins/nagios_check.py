"""What the suite's Nagios plugins share: exit codes, usage errors as UNKNOWN, one line out.

:func:`nrpe.plugin_files <openstack_charm_lib.nrpe.plugin_files>` installs this module
next to the plugins, which import it from there (the machine's python3 has no charm
library). Standard library only.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
NAMES = ("OK", "WARNING", "CRITICAL", "UNKNOWN")


class UnknownError(Exception):
    """The state cannot be known; the message says why."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are UNKNOWN."""

    def error(self, message: str):  # type: ignore[override]
        """Raise UnknownError: argparse would exit 2, which Nagios reads as CRITICAL."""
        raise UnknownError(f"usage: {message}")


def main(check: Callable[[list[str]], tuple[int, str]], argv: list[str] | None) -> int:
    """Run ``check`` on ``argv`` (the command line when None), print one line, exit code."""
    try:
        code, line = check(sys.argv[1:] if argv is None else argv)
    except UnknownError as error:
        code, line = UNKNOWN, f"UNKNOWN: {error}"
    except Exception as error:  # noqa: BLE001 - a plugin must always answer Nagios
        code, line = UNKNOWN, f"UNKNOWN: {type(error).__name__}"
    # One line: Nagios shows the first; a label value or a unit's state may hold a break.
    print(" ".join(line.splitlines()))
    return code
