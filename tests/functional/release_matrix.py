"""The OpenStack releases the functional tests run the real software of, and their venvs.

This module owns the one table of releases (yoga to hibiscus): for each, the masakari,
masakari-monitors and keystone versions it shipped, the date its dependencies are
resolved "as of" (a few days after the release, so that the release's own wheels are
included; ``uv pip install --exclude-newer`` stands in for the release's
upper-constraints), the Python minor version to build with, and any extra pins.
:func:`ensure_venv` builds (once, then reuses) a venv of given packages for a release
under ``build/releases/<name>-<release>``.

The end-to-end stack runs one release of :data:`STACK_RELEASES` (``MASAKARI_RELEASE``,
default caracal): :func:`services_venv` is its venv (the release's masakari,
masakari-monitors and keystone plus ``requirements-services.txt``), built from the
system Python, which Debian's mod_wsgi embeds. ``python release_matrix.py services
<release>`` builds it (tox -e func runs that) and prints its path.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = ROOT / "build" / "releases"
STAMP = "release-matrix.json"


@dataclasses.dataclass(frozen=True)
class Release:
    """One OpenStack release: what it shipped and how to build a venv of it."""

    name: str
    masakari: str
    masakari_monitors: str
    keystone: str
    resolve_as_of: str  # uv --exclude-newer: a week after the release date
    python: str  # minor version, e.g. "3.11"
    constraints: tuple[str, ...] = ()  # extra pins, applied as uv constraints


# yoga and zed build with 3.10: the oslo.service of their time requires yappi 1.3.3
# (yoga, sdist only) or 1.3.6 (zed, wheels up to cp310), and neither compiles against
# Python 3.11's C API (PyFrameObject became opaque); yappi 1.4.0, the first to support
# 3.11, came out on 2022-10-31. Every later release installs and loads on 3.11, and
# masakari 22 (hibiscus) requires Python >= 3.11.
_RELEASES = (
    Release("yoga", "13.0.0", "13.0.0", "21.0.0", "2022-04-06", "3.10"),  # 2022-03-30
    Release("zed", "14.0.0", "14.0.0", "22.0.0", "2022-10-12", "3.10"),  # 2022-10-05
    Release("antelope", "15.0.0", "15.0.0", "23.0.0", "2023-03-29", "3.11"),  # 2023-03-22
    Release("bobcat", "16.0.0", "16.0.0", "24.0.0", "2023-10-11", "3.11"),  # 2023-10-04
    Release(
        "caracal",  # 2024-04-03; noble's distro release, the stack's default
        "17.0.0",
        "17.0.0",
        "25.0.0",
        "2024-04-10",
        "3.11",
        # Ubuntu 24.04 runs caracal on SQLAlchemy 1.4; taskflow's migrations there need it
        # (masakari-engine's persistence).
        constraints=("SQLAlchemy<2",),
    ),
    Release("dalmatian", "18.0.0", "18.0.0", "26.0.0", "2024-10-09", "3.11"),  # 2024-10-02
    # keystone's pysaml2 caps pyOpenSSL below 24.3, whose last releases cap cryptography
    # below 44; by date alone uv pairs cryptography 44 with pyOpenSSL 22, which fails at
    # import. The release's upper-constraints hold cryptography at 43.
    Release(
        "epoxy", "19.0.0", "19.0.0", "27.0.0", "2025-04-09", "3.11", ("cryptography<44",)
    ),  # 2025-04-02
    Release(
        "flamingo", "20.0.0", "20.0.0", "28.0.0", "2025-10-08", "3.11", ("cryptography<44",)
    ),  # 2025-10-01; the same pyOpenSSL cap as epoxy
    Release(
        "gazpacho", "21.0.0", "21.0.0", "29.0.0", "2026-04-08", "3.11", ("cryptography<44",)
    ),  # 2026-04-01; the same pyOpenSSL cap as epoxy
    Release("hibiscus", "22.0.0", "22.0.0", "30.0.0", "2026-10-07", "3.11"),  # 2026-09-30
)
RELEASES: dict[str, Release] = {r.name: r for r in _RELEASES}

# The releases the end-to-end stack runs, and the Ubuntu series and openstack-origin a
# unit of each would have: the LTS-relevant ones, the newest included.
STACK_RELEASES: dict[str, tuple[str, str]] = {
    "caracal": ("noble", "distro"),
    "epoxy": ("noble", "epoxy"),
    "gazpacho": ("resolute", "distro"),
    "hibiscus": ("resolute", "hibiscus"),
}
DEFAULT_STACK_RELEASE = "caracal"
SERVICES_REQUIREMENTS = Path(__file__).resolve().parent / "requirements-services.txt"
# Debian's libapache2-mod-wsgi-py3 embeds this interpreter; the API's venv must be its own.
SYSTEM_PYTHON = "/usr/bin/python3"


def stack_release() -> str:
    """The release the end-to-end stack runs (``MASAKARI_RELEASE``, default caracal)."""
    release = os.environ.get("MASAKARI_RELEASE") or DEFAULT_STACK_RELEASE
    if release not in STACK_RELEASES:
        raise ValueError(f"MASAKARI_RELEASE={release!r}: one of {', '.join(STACK_RELEASES)}")
    return release


def services_packages(release: str) -> list[str]:
    """What the stack's venv holds for ``release``."""
    info = RELEASES[release]
    extra = [
        line.strip()
        for line in SERVICES_REQUIREMENTS.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return [
        f"masakari=={info.masakari}",
        f"masakari-monitors=={info.masakari_monitors}",
        f"keystone=={info.keystone}",
        *extra,
    ]


def services_venv_path(release: str) -> Path:
    """Where :func:`services_venv` puts the venv of ``release``."""
    return BUILD_DIR / f"services-{release}"


def services_venv(release: str) -> Path:
    """The end-to-end stack's venv of ``release``, from the system Python."""
    return ensure_venv(release, services_packages(release), "services", python=SYSTEM_PYTHON)


class MissingToolError(Exception):
    """uv or the interpreter a release builds with is not available here."""


class VenvBuildError(Exception):
    """uv could not create the venv or install the packages into it."""


def _runs(command: list[str]) -> str | None:
    """The stripped stdout of ``command``, or None if it cannot run or fails."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@cache
def find_uv() -> tuple[str, ...]:
    """The command that runs uv: ``uv`` on PATH if it runs, else ``python -m uv``."""
    candidates = []
    if found := shutil.which("uv"):
        candidates.append((found,))
    candidates.append((sys.executable, "-m", "uv"))
    for command in candidates:
        if _runs([*command, "--version"]) is not None:
            return command
    raise MissingToolError("uv is not installed (pip install uv)")


_VERSION = "import sys; print('%d.%d.%d' % sys.version_info[:3])"


def _version_of(python: str) -> str | None:
    """The full version of the interpreter ``python``, or None if it does not run."""
    return _runs([python, "-c", _VERSION])


@cache
def find_python(minor: str) -> tuple[str, str]:
    """An interpreter of Python ``minor`` (e.g. "3.10") that runs, and its full version.

    Every ``python3.X`` on PATH is tried in order (a pyenv shim refuses a version that
    PYENV_VERSION does not select); then the matching versions pyenv has installed,
    newest first, through ``pyenv prefix``.
    """
    candidates = []
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        path = Path(directory or ".") / f"python{minor}"
        if os.access(path, os.X_OK) and str(path) not in candidates:
            candidates.append(str(path))
    for path in candidates:
        version = _version_of(path)
        if version and version.startswith(f"{minor}."):
            return path, version
    if pyenv := shutil.which("pyenv"):
        installed = (_runs([pyenv, "versions", "--bare", "--skip-aliases"]) or "").split()
        pattern = re.compile(rf"{re.escape(minor)}\.(\d+)")
        matching = [v for v in installed if pattern.fullmatch(v)]
        matching.sort(key=lambda v: int(v.rsplit(".", 1)[1]), reverse=True)
        for name in matching:
            prefix = _runs([pyenv, "prefix", name])
            if not prefix:
                continue
            path = str(Path(prefix) / "bin" / f"python{minor}")
            version = _version_of(path)
            if version and version.startswith(f"{minor}."):
                return path, version
    raise MissingToolError(f"no working python{minor} on PATH or installed by pyenv")


def venv_python(venv: Path) -> Path:
    """The interpreter of ``venv``."""
    return venv / "bin" / "python"


def _run_uv(command: list[str], what: str) -> None:
    """Run a uv command, raising VenvBuildError with its output if it fails."""
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip()
        raise VenvBuildError(f"{what} failed ({' '.join(command)}):\n{output[-6000:]}")


def ensure_venv(release: str, packages: list[str], name: str, python: str | None = None) -> Path:
    """A venv of ``packages`` as of ``release``, at ``build/releases/<name>-<release>``.

    The packages (and the release's extra pins, as constraints) are installed with uv,
    resolving every dependency as of the release's date, into a venv of the release's
    Python. A venv whose stamp records the same inputs is reused as it is; any other is
    rebuilt from scratch. ``python`` names the interpreter instead of the release's
    (it must be of the release's minor version). Raises :class:`MissingToolError` when uv
    or the interpreter is not available and :class:`VenvBuildError` when the install fails.
    """
    info = RELEASES[release]
    uv = find_uv()
    if python is None:
        python, python_version = find_python(info.python)
    else:
        python_version = _version_of(python) or ""
        if not python_version.startswith(f"{info.python}."):
            found = python_version or "missing"
            raise MissingToolError(f"{release} needs Python {info.python}; {python}: {found}")
    venv = BUILD_DIR / f"{name}-{release}"
    inputs = {
        "release": release,
        "python": python_version,
        "packages": list(packages),
        "constraints": list(info.constraints),
        "exclude_newer": info.resolve_as_of,
    }
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    with open(BUILD_DIR / f".{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = venv / STAMP
        try:
            if json.loads(stamp.read_text()) == inputs and venv_python(venv).exists():
                return venv
        except (OSError, ValueError):
            pass
        if venv.exists():
            shutil.rmtree(venv)
        _run_uv([*uv, "venv", "-q", "--no-python-downloads", "-p", python, str(venv)], "uv venv")
        install = [*uv, "pip", "install", "-q", "--python", str(venv_python(venv))]
        install += ["--exclude-newer", info.resolve_as_of]
        if info.constraints:
            constraints = venv / "constraints.txt"
            constraints.write_text("".join(f"{pin}\n" for pin in info.constraints))
            install += ["--constraint", str(constraints)]
        _run_uv([*install, *packages], f"installing {' '.join(packages)} for {release}")
        stamp.write_text(json.dumps(inputs, indent=2) + "\n")
    return venv


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "services" or sys.argv[2] not in STACK_RELEASES:
        print(f"usage: release_matrix.py services {{{','.join(STACK_RELEASES)}}}", file=sys.stderr)
        sys.exit(2)
    print(services_venv(sys.argv[2]))
