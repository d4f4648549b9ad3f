#!/usr/bin/env python3
"""Run the unit tests of every charm and of the shared library, per interpreter, with coverage.

Each charm's tests run in that charm's own environment, synced from its ``uv.lock``
with the ``unit`` group (``uv sync --locked``): the runtime versions the tests see are
exactly those the packed charm ships. They run against the library staged into the
charm's ``lib/``, as it is packed; the library's own tests run in each charm's
environment too, since each charm ships it. This repeats for every interpreter asked
for (default: 3.10 for jammy, 3.12 for noble and 3.13, the newest this machine has;
resolute's 3.14 is newer than anything here), each in its own environment.

Coverage: each charm's ``src/`` must reach 90 %, and so must the shared library,
measured over its own tests and every charm's (staged copies are mapped back to
``lib/``). The bundle validator's tests run once, in the calling interpreter.
Usage: ``run_unit_tests.py [--python 3.10,3.12,3.13] [pytest args]``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from stage_lib import LIBRARY, ROOT, charms, stage  # noqa: E402

FAIL_UNDER = "90"
DEFAULT_PYTHONS = ("3.12", "3.10", "3.13")
ADVERSARIAL_SCALE = "ADVERSARIAL_SCALE"  # read by openstack_charm_testing.adversarial.budget
VENVS = ROOT / "build" / "venvs"
TEST_SUPPORT = ROOT / "lib"  # openstack_charm_testing (the fake machine), never staged


def interpreter_env() -> dict[str, str]:
    """The environment with every pyenv version visible through its shims.

    A pyenv shim answers only for the selected versions; listing them all lets
    ``python3.10`` and ``python3.12`` resolve side by side. Without pyenv, PATH decides.
    """
    env = dict(os.environ)
    if shutil.which("pyenv"):
        # pyenv's own exec sets PYENV_VERSION to the one version it ran (tox, say).
        selected = [v for v in env.get("PYENV_VERSION", "").split(":") if v]
        installed = subprocess.run(
            ["pyenv", "versions", "--bare"], capture_output=True, text=True, check=False
        ).stdout.split()
        env["PYENV_VERSION"] = ":".join(dict.fromkeys([*selected, *installed]))
    return env


def find_python(version: str, env: dict[str, str]) -> str | None:
    """``python<version>`` on PATH when it runs and is that version."""
    command = f"python{version}"
    if shutil.which(command, path=env.get("PATH")) is None:
        return None
    proc = subprocess.run(
        [command, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    return command if proc.returncode == 0 and proc.stdout.strip() == version else None


def sync(charm: Path, python: str, env: dict[str, str]) -> Path | None:
    """The charm's locked ``unit`` environment for ``python``; None when it cannot be made."""
    venv = VENVS / f"{charm.name}-py{python.removeprefix('python')}"
    argv = ["uv", "sync", "-q", "--locked", "--group", "unit", "--python", python]
    env = {**env, "UV_PROJECT_ENVIRONMENT": str(venv)}
    print("+", " ".join(argv), f"({charm.name})", flush=True)
    if subprocess.call(argv, cwd=charm, env=env):
        return None
    return venv


def run(argv: list[str], pythonpath: list[Path], env: dict[str, str] | None = None) -> int:
    """Run a command from the repository root with ``PYTHONPATH`` set; return its exit code."""
    env = {**(env or os.environ), "PYTHONPATH": os.pathsep.join(str(p) for p in pythonpath)}
    print("+", " ".join(argv), flush=True)
    return subprocess.call(argv, cwd=ROOT, env=env)


def coverage(python: Path | str) -> list[str]:
    """The coverage command of ``python``."""
    return [str(python), "-m", "coverage"]


def test_suite(
    python: Path | str,
    data: Path,
    tests: Path,
    sources: list[Path],
    path: list[Path],
    args: list[str],
) -> int:
    """Run one suite under coverage into ``data``."""
    source = "--source=" + ",".join(str(s) for s in sources)
    argv = [*coverage(python), "run", f"--data-file={data}", source, "-m", "pytest", "-q"]
    return run([*argv, str(tests), *args], path)


def report(python: Path | str, data_file: Path, include: str) -> int:
    """Coverage report of ``include``; fails under the threshold."""
    argv = [*coverage(python), "report", f"--data-file={data_file}", f"--include={include}"]
    return run([*argv, f"--fail-under={FAIL_UNDER}"], [])


def run_charms(python: str, env: dict[str, str], args: list[str]) -> list[str]:
    """Every charm's and the library's tests on ``python``; the names of what failed."""
    tag = python.removeprefix("python")
    failures = []
    library_data = []
    for charm in charms():
        venv = sync(charm, python, env)
        if venv is None:
            failures.append(f"{charm.name} environment ({tag})")
            continue
        staged = stage(charm)
        interpreter = venv / "bin" / "python"
        path = [charm / "lib", charm / "src", TEST_SUPPORT]
        lib_data = ROOT / f".coverage.lib-{charm.name}-py{tag}"
        lib_path = [charm / "lib", TEST_SUPPORT]
        if test_suite(interpreter, lib_data, ROOT / "lib" / "tests", [staged], lib_path, args):
            failures.append(f"lib tests ({charm.name}, {tag})")
        library_data.append(lib_data)
        data = ROOT / f".coverage.{charm.name}-py{tag}"
        tests = charm / "tests" / "unit"
        if test_suite(interpreter, data, tests, [charm / "src", staged], path, args):
            failures.append(f"{charm.name} tests ({tag})")
            continue
        library_data.append(data)
        if report(interpreter, data, f"{charm / 'src'}/*"):
            failures.append(f"{charm.name} coverage ({tag})")
    combined = ROOT / f".coverage.combined-py{tag}"
    combine = [*coverage(sys.executable), "combine", "--keep", f"--data-file={combined}"]
    existing = [str(p) for p in library_data if p.exists()]
    if run([*combine, *existing], []) or report(sys.executable, combined, f"{LIBRARY}/*"):
        failures.append(f"shared library coverage ({tag})")
    return failures


def split_args(args: list[str]) -> tuple[list[str], list[str]]:
    """The interpreter versions asked for (``--python a,b``) and the pytest arguments."""
    pythons = list(DEFAULT_PYTHONS)
    rest = []
    it = iter(args)
    for arg in it:
        if arg == "--python":
            pythons = next(it, "").split(",")
        elif arg.startswith("--python="):
            pythons = arg.split("=", 1)[1].split(",")
        else:
            rest.append(arg)
    return [p for p in pythons if p], rest


def main(args: list[str]) -> int:
    """Test the suite tools once, then everything per interpreter; non-zero on any failure."""
    pythons, pytest_args = split_args(args)
    failures = []
    tools = ROOT / "tools"
    suite_data = ROOT / ".coverage.suite"
    suite_tests = ROOT / "tests" / "unit"
    if test_suite(sys.executable, suite_data, suite_tests, [tools], [tools], pytest_args):
        failures.append("suite tests")
    elif report(sys.executable, suite_data, str(tools / "validate_bundles.py")):
        failures.append("bundle validator coverage")
    env = interpreter_env()
    preset_scale = os.environ.get(ADVERSARIAL_SCALE)
    for index, version in enumerate(pythons):
        python = find_python(version, env)
        if python is None:
            failures.append(f"python{version} (not found on PATH)")
            continue
        # The adversarial suites run their full case count on the first interpreter and a
        # sample on the others: what they test does not vary with the Python version.
        os.environ[ADVERSARIAL_SCALE] = preset_scale or ("1" if index == 0 else "0.2")
        failures += run_charms(python, env, pytest_args)
    ran = ", ".join(pythons)
    if failures:
        print(f"FAILED on Python {ran}: {', '.join(failures)}")
        return 1
    print(f"unit tests passed on Python {ran}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
