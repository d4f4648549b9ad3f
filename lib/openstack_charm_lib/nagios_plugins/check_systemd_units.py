#!/usr/bin/python3
"""Nagios plugin: CRITICAL unless every named systemd unit is active.

Usage: check_systemd_units.py [--paused-file PATH] UNIT [UNIT...]

Runs ``systemctl is-active`` once for all units (as the nagios user: no privilege
needed). While ``--paused-file`` exists the units are stopped on purpose (the charm's
pause action writes it), so the check says OK. Exit codes are Nagios': 0 OK,
2 CRITICAL, 3 UNKNOWN (also for a usage error). Standard library only: it runs on the
machine's python3.
"""

from __future__ import annotations

import os
import subprocess
import sys

try:  # in the library (its tests import the plugins as modules)
    from openstack_charm_lib.nagios_plugins import nagios_check as nc
except ImportError:  # installed: nrpe.plugin_files put the module next to this file
    import nagios_check as nc  # pyright: ignore[reportMissingImports]
TIMEOUT = 10


def _states(units: list[str]) -> list[str]:
    """``systemctl is-active`` of each unit, in order (one line per unit)."""
    try:
        done = subprocess.run(
            ["systemctl", "is-active", "--", *units],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise nc.UnknownError(f"systemctl failed ({type(error).__name__})") from None
    states = done.stdout.split()
    if len(states) != len(units):
        raise nc.UnknownError(
            f"systemctl is-active gave {len(states)} states for {len(units)} units"
        )
    return states


def check(argv: list[str]) -> tuple[int, str]:
    """The Nagios state and the line to print for ``argv``."""
    parser = nc.Parser(prog="check_systemd_units.py")
    parser.add_argument("--paused-file", help="while this file exists, report OK (paused)")
    parser.add_argument("units", nargs="+", metavar="UNIT")
    args = parser.parse_args(argv)
    if args.paused_file and os.path.exists(args.paused_file):
        return nc.OK, "OK: paused by the pause action"
    states = _states(args.units)
    pairs = zip(args.units, states, strict=True)  # _states gave one state per unit
    down = [f"{unit} is {state}" for unit, state in pairs if state != "active"]
    if down:
        return nc.CRITICAL, "CRITICAL: " + ", ".join(down)
    verb = "is" if len(args.units) == 1 else "are"
    return nc.OK, f"OK: {', '.join(args.units)} {verb} active"


def main(argv: list[str] | None = None) -> int:
    """Print one line and return the Nagios exit code."""
    return nc.main(check, argv)


if __name__ == "__main__":  # pragma: no cover - run as a program by nrpe
    sys.exit(main())
