"""A pytest plugin: ``kill PID`` stops a functional run the way Ctrl-C does.

The stacks start their daemons in sessions of their own, so that a Ctrl-C in the
terminal reaches only pytest, whose teardowns then stop them by PID. A SIGTERM would
end pytest without its teardowns and leave the daemons listening on the ports the next
run needs; this turns it into the same KeyboardInterrupt.
"""

from __future__ import annotations

import signal


def pytest_configure(config) -> None:
    """Interrupt on SIGTERM, as on SIGINT."""

    def interrupt(_signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
