"""Run ``crm`` commands without paying crmsh's start-up each time (for the CIB tests).

A crmsh command spends most of its 0.7 s importing crmsh (and setuptools through it).
This server, run with the interpreter of the ``crm`` script, imports crmsh once, then
for each request forks a child that runs crmsh's own ``main.run()`` with the request's
argv and environment, exactly as the ``crm`` script does, and reports its exit code
and output. Requests and answers are JSON lines on stdin/stdout.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile


def _child(argv: list[str], env: dict[str, str], out: int, err: int) -> None:
    os.environ.clear()
    os.environ.update(env)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(err, 2)
    sys.argv = ["crm", *argv]
    from crmsh import main

    try:
        code = main.run()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)


def serve() -> None:
    """Answer requests until stdin closes."""
    from crmsh import log

    log.setup_logging()  # before crmsh.main, as the crm script does
    from crmsh import main, ui_root  # noqa: F401  (the imports are the point)

    for line in sys.stdin:
        request = json.loads(line)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            pid = os.fork()
            if pid == 0:
                _child(request["argv"], request["env"], out.fileno(), err.fileno())
            _, status = os.waitpid(pid, 0)
            out.seek(0)
            err.seek(0)
            answer = {
                "rc": os.waitstatus_to_exitcode(status),
                "stdout": out.read().decode(errors="replace"),
                "stderr": err.read().decode(errors="replace"),
            }
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve()
