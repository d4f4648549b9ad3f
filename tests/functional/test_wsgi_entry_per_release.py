"""The charm's WSGI entry for masakari-api loads and serves on every release's masakari.

For each release of :mod:`release_matrix` a venv of just that release's masakari is built;
the entry the charm renders for the release is executed the way mod_wsgi executes a WSGI
script, with a masakari.conf naming no reachable broker or database, and the application
it defines answers ``GET /`` with masakari's version document. The tests also record why
the charm owns the entry: masakari's ``masakari-wsgi`` script is gone from flamingo on,
and ``masakari.wsgi.api`` exists only from then.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import masakari_workload
import pytest
import release_matrix
from openstack_charm_lib.releases import OPENSTACK_RELEASES, release_index
from openstack_charm_lib.rendering import Renderer

VENV_NAME = "masakari-wsgi"
# masakari 20 (flamingo, 2025.2) dropped its pbr wsgi_scripts and added masakari.wsgi.api.
FIRST_MODULE_RELEASE = "flamingo"

# Port 1 on loopback: nothing listens there, so loading must not need the broker or DB.
MASAKARI_CONF = """\
[DEFAULT]
auth_strategy = keystone
transport_url = rabbit://masakari:secret@127.0.0.1:1/masakari

[database]
connection = mysql+pymysql://masakari:secret@127.0.0.1:1/masakari

[keystone_authtoken]
auth_type = password
auth_url = http://127.0.0.1:1/v3
www_authenticate_uri = http://127.0.0.1:1/v3
username = masakari
password = secret
project_name = services
user_domain_name = Default
project_domain_name = Default
"""

# Run by the venv's python: execute the entry as mod_wsgi does (compile the file and exec
# it into a fresh module named after it, with sys.argv of ["mod_wsgi"]), then serve one
# request through the application it defines.
PROBE = textwrap.dedent(
    """\
    import io, json, os, sys, types

    entry, result_path = sys.argv[1], sys.argv[2]
    sys.argv = ["mod_wsgi"]
    module = types.ModuleType("_mod_wsgi_masakari_api")
    module.__file__ = entry
    sys.modules[module.__name__] = module
    with open(entry, "rb") as f:
        exec(compile(f.read(), entry, "exec"), module.__dict__)
    application = getattr(module, "application", None)
    result = {"callable": callable(application), "argv": sys.argv}
    import masakari.conf
    conf = masakari.conf.CONF
    result["config_file"] = list(conf.config_file)
    result["auth_strategy"] = conf.auth_strategy
    result["config_dir_env"] = os.environ.get("OS_MASAKARI_CONFIG_DIR")
    package = os.path.dirname(masakari.__file__)
    result["has_wsgi_module"] = os.path.exists(os.path.join(package, "wsgi", "api.py"))
    response = {}

    def start_response(status, headers, exc_info=None):
        response["status"] = status
        response["headers"] = headers

    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": "/", "SCRIPT_NAME": "", "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1", "HTTP_ACCEPT": "application/json",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    body = b"".join(application(environ, start_response))
    result["status"] = response["status"]
    result["body"] = body.decode()
    with open(result_path, "w") as f:
        json.dump(result, f)
    """
)


def _requirements(release: str) -> list[str]:
    return [f"masakari=={release_matrix.RELEASES[release].masakari}"]


def _build(release: str) -> tuple[Path | None, float, str | None]:
    """Build the release's venv; its path, the seconds it took and why it is missing."""
    start = time.monotonic()
    try:
        venv = release_matrix.ensure_venv(release, _requirements(release), VENV_NAME)
    except release_matrix.MissingToolError as e:
        return None, time.monotonic() - start, f"skip: {e}"
    except release_matrix.VenvBuildError as e:
        return None, time.monotonic() - start, str(e)
    return venv, time.monotonic() - start, None


@pytest.fixture(scope="session")
def venvs(request) -> dict[str, tuple[Path | None, float, str | None]]:
    """The venvs of every selected release, built a few at a time."""
    selected = []
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if callspec and item.module.__name__ == __name__:
            release = callspec.params.get("release")
            if release and release not in selected:
                selected.append(release)
    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(zip(selected, pool.map(_build, selected), strict=True))


def test_matrix_covers_every_release_and_builds_the_stack_it_runs():
    assert tuple(release_matrix.RELEASES) == OPENSTACK_RELEASES
    assert set(release_matrix.STACK_RELEASES) <= set(release_matrix.RELEASES)
    caracal = release_matrix.services_packages("caracal")
    assert caracal[:3] == ["masakari==17.0.0", "masakari-monitors==17.0.0", "keystone==25.0.0"]
    assert release_matrix.RELEASES["caracal"].resolve_as_of == "2024-04-10"
    assert "SQLAlchemy<2" in release_matrix.RELEASES["caracal"].constraints
    tox = (Path(__file__).resolve().parents[2] / "tox.ini").read_text()
    assert "python tests/functional/run_releases.py {posargs}" in tox


@pytest.mark.parametrize("release", list(release_matrix.RELEASES))
def test_wsgi_entry_serves_versions(release, venvs, tmp_path):
    venv, build_seconds, problem = venvs[release]
    if problem and problem.startswith("skip: "):
        pytest.skip(problem.removeprefix("skip: "))
    if venv is None:
        pytest.fail(f"masakari of {release} cannot be installed: {problem}", pytrace=False)

    module_path = release_index(release) >= release_index(FIRST_MODULE_RELEASE)
    entry = masakari_workload.wsgi_entry(release, Renderer(masakari_workload.TEMPLATES))
    if module_path:
        assert "from masakari.wsgi.api import application" in entry
        assert "initialize_application" not in entry
    else:
        assert "application = initialize_application()" in entry
        assert "masakari.wsgi.api" not in entry
    # Why the charm renders its own entry: the script it used to serve is gone.
    assert (venv / "bin" / "masakari-wsgi").exists() is not module_path

    config_dir = tmp_path / "etc-masakari"
    config_dir.mkdir()
    (config_dir / "masakari.conf").write_text(MASAKARI_CONF)
    (config_dir / "api-paste.ini").write_bytes(
        (venv / "etc" / "masakari" / "api-paste.ini").read_bytes()
    )
    entry_file = tmp_path / "masakari-api.wsgi"
    entry_file.write_text(entry)
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    result_file = tmp_path / "result.json"

    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["OS_MASAKARI_CONFIG_DIR"] = str(config_dir)
    start = time.monotonic()
    done = subprocess.run(
        [str(release_matrix.venv_python(venv)), str(probe), str(entry_file), str(result_file)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    load_seconds = time.monotonic() - start
    assert done.returncode == 0, f"the entry failed on {release}:\n{done.stderr[-6000:]}"
    result = json.loads(result_file.read_text())

    assert result["callable"]
    conf_file = str(config_dir / "masakari.conf")
    assert result["argv"] == ["mod_wsgi", "--config-file", conf_file]
    assert result["config_dir_env"] == str(config_dir)  # the environment's value won
    assert result["config_file"] == [conf_file]
    assert result["auth_strategy"] == "keystone"
    assert result["has_wsgi_module"] is module_path
    status = int(result["status"].split()[0])
    assert 200 <= status < 400, result
    versions = json.loads(result["body"])["versions"]
    assert any(re.fullmatch(r"v1(\.\d+)?", v["id"]) for v in versions), versions
    info = release_matrix.RELEASES[release]
    print(
        f"\n{release}: masakari {info.masakari} on python {info.python}: "
        f"venv {build_seconds:.1f}s, load and GET / {load_seconds:.1f}s, {result['status']}"
    )
