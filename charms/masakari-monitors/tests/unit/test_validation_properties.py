"""masakarimonitors.conf against the real options, checked with oslo-config-validator.

The rendered file is checked with masakari-monitors' own option definitions; hostile
input of every kind is in test_adversarial.py.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import monitors_workload as wl
import pytest
from conftest import CREDENTIALS, OPT_NAMESPACES, state
from monitors_config import TUNABLES
from openstack_charm_testing.pki import pki

# masakari-monitors registers keystoneauth's [api] options (auth_type, the password
# plugin's options, session options such as cafile) at run time, so its generator does
# not list them; add them to the option data the validator checks against.
OPT_DATA = textwrap.dedent(
    """
    import sys, subprocess, yaml
    from keystoneauth1 import loading
    argv = [sys.argv[1], "--format", "yaml"]
    for ns in sys.argv[3].split(","):
        argv += ["--namespace", ns]
    data = yaml.safe_load(subprocess.run(argv, capture_output=True, text=True, check=True).stdout)
    extra = [*loading.get_auth_common_conf_options(), *loading.get_session_conf_options(),
             *loading.get_auth_plugin_conf_options("password")]
    data["options"]["api"]["opts"] += [{"name": o.name, "dest": o.dest} for o in extra]
    with open(sys.argv[2], "w") as out:
        yaml.safe_dump(data, out)
    """
)


@pytest.fixture(scope="module")
def opt_data(tmp_path_factory):
    from pathlib import Path

    bindir = Path(sys.executable).parent
    target = tmp_path_factory.mktemp("optdata") / "masakarimonitors.yaml"
    subprocess.run(
        [
            sys.executable,
            "-c",
            OPT_DATA,
            str(bindir / "oslo-config-generator"),
            str(target),
            ",".join(OPT_NAMESPACES),
        ],
        check=True,
        timeout=120,
    )
    return target


def validate(opt_data, text, tmp_path):
    from pathlib import Path

    conf = tmp_path / "masakarimonitors.conf"
    conf.write_text(text)
    validator = Path(sys.executable).parent / "oslo-config-validator"
    return subprocess.run(
        [str(validator), "--opt-data", str(opt_data), "--input-file", str(conf)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def every_option_config():
    config = {
        "enable-process-monitor": True,
        "enable-introspective-instance-monitor": True,
        "use-internal-endpoints": True,
        "debug": True,
        "config-flags": "host/ipmi_timeout=9",
    }
    for option, tunable in TUNABLES.items():
        if tunable.kind is str and option != "host-pacemaker-node-type":
            config[option] = (
                "eth0" if "interfaces" in option else "5405" if "ports" in option else "x"
            )
    return config


@pytest.mark.parametrize("config", [{}, every_option_config()], ids=["defaults", "every-option"])
def test_rendered_conf_passes_oslo_config_validator(ctx, ready, opt_data, tmp_path, config):
    import base64

    ca = base64.b64encode(pki()["ca"].encode()).decode()
    data = {**CREDENTIALS, "auth_protocol": "https", "ca_cert": ca}
    out = ctx.run(ctx.on.config_changed(), state(config=config, keystone_data=data))
    assert out.unit_status.name == "active", out.unit_status
    result = validate(opt_data, ready.read_text(wl.CONF), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_validator_rejects_a_misspelled_key(ctx, ready, opt_data, tmp_path):
    ctx.run(ctx.on.config_changed(), state(config={"config-flags": "host/monitoring_intervl=5"}))
    result = validate(opt_data, ready.read_text(wl.CONF), tmp_path)
    assert result.returncode != 0
    assert "host/monitoring_intervl" in result.stdout + result.stderr
