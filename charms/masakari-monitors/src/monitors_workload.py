"""The files the masakari monitors read, built from config and keystone's answer.

``/etc/masakarimonitors/masakarimonitors.conf`` holds the keystone password: it is
root-owned, readable by the monitors' group only (0640). With the process monitor,
``process_list.yaml`` lists the processes it watches.
"""

from __future__ import annotations

import yaml
from monitors_config import MonitorsConfig
from openstack_charm_lib import fields
from openstack_charm_lib.config_flags import merge_flags
from openstack_charm_lib.relations import masakari_host
from openstack_charm_lib.relations.identity_credentials import Credentials
from openstack_charm_lib.rendering import ManagedFile, oslo_literal, render_ini

CONF = "/etc/masakarimonitors/masakarimonitors.conf"
PROCESS_LIST = "/etc/masakarimonitors/process_list.yaml"
KEYSTONE_CA = "/etc/masakarimonitors/keystone-ca.pem"
USERNAME = "masakari-monitors"
PROJECT = "services"
NOVA_CONF = "/etc/nova/nova.conf"


def conf_sections(
    config: MonitorsConfig, credentials: Credentials, hostname: str
) -> dict[str, dict[str, str]]:
    """Sections of masakarimonitors.conf, before config-flags."""
    api = {
        "region": config.region,
        "api_version": "v1",
        "api_interface": "internal" if config.use_internal_endpoints else "public",
        "auth_type": "password",
        "auth_url": credentials.auth_url,
        # Keystone's strings are data, not oslo.config templates or quoted values.
        "username": oslo_literal(credentials.get("credentials_username")),
        "password": oslo_literal(credentials.get("credentials_password")),
        "project_name": oslo_literal(credentials.get("credentials_project")),
        "project_domain_name": oslo_literal(
            credentials.get("credentials_project_domain_name", "service_domain")
        ),
        "user_domain_name": oslo_literal(
            credentials.get("credentials_user_domain_name", "service_domain")
        ),
    }
    if credentials.ca and credentials.uses_https:
        api["cafile"] = KEYSTONE_CA
    sections: dict[str, dict[str, str]] = {
        "DEFAULT": {
            "hostname": hostname,
            "debug": str(config.debug).lower(),
            "log_dir": "/var/log/masakarimonitors",
        },
        "api": api,
    }
    for section, options in config.tunables.items():
        sections.setdefault(section, {}).update(options)
    if config.processes:
        sections.setdefault("process", {})["process_list_path"] = PROCESS_LIST
    return merge_flags(sections, config.flags)


def build_files(
    config: MonitorsConfig, credentials: Credentials, hostname: str, group: str
) -> list[ManagedFile]:
    """Every file the enabled monitors read; each restarts the enabled monitors."""
    restarts = config.monitors
    header = "Managed by the masakari-monitors charm; use config-flags for extra settings."
    files = [
        ManagedFile(
            CONF,
            render_ini(conf_sections(config, credentials, hostname), header),
            group=group,
            mode=0o640,
            restarts=restarts,
        )
    ]
    if credentials.ca and credentials.uses_https:
        files.append(ManagedFile(KEYSTONE_CA, credentials.ca, restarts=restarts))
    if config.processes:
        files.append(
            ManagedFile(
                PROCESS_LIST,
                yaml.safe_dump(config.processes, sort_keys=False),
                group=group,
                mode=0o640,
                restarts=restarts,
            )
        )
    return files


def hypervisor(config: MonitorsConfig, hostname: str, nova_conf: str) -> masakari_host.Hypervisor:
    """How masakari should register this hypervisor, and the facts to judge its recovery."""
    return masakari_host.Hypervisor(
        hostname,
        config.segment_name,
        config.reserved_host,
        service_down_time=nova_service_down_time(nova_conf),
        resume_guests_state_on_host_boot=nova_resumes_guests(nova_conf),
        detection_time=detection_time(config),
    )


def names_problem(nova: str, hostname: str, node_name: str | None) -> str | None:
    """Why nova's host, the monitors' ``hostname`` and the Pacemaker node name differ.

    nova's host is the one to follow: instances and the compute service are recorded
    under it, so the other two are the ones to change. ``node_name`` None: no
    pacemaker-node relation (the host monitor is disabled), two names to compare.
    """
    names = {"masakari-monitors' hostname": hostname}
    if node_name is not None:
        names["pacemaker-remote's remote-hostname"] = node_name
    wrong = [what for what, value in names.items() if value != nova]
    if not wrong:
        return None
    seen = ", ".join(f"{what} {value!r}" for what, value in names.items())
    return (
        f"Names disagree: nova-compute's host {nova!r}, {seen}: "
        f"set {' and '.join(wrong)} to {nova!r}"
    )


def nova_defaults(nova_conf: str) -> dict[str, str]:
    """nova.conf's ``[DEFAULT]`` options, read as oslo.config reads them.

    ``[DEFAULT]`` may come anywhere and more than once, the last assignment wins, ``:``
    assigns like ``=``, indented lines continue the previous value and matching quotes
    around a value are dropped.
    """
    options: dict[str, str] = {}
    section = None
    key = None
    for raw in nova_conf.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw.rstrip()
        if not line:
            key = None
        elif line.startswith((" ", "\t")):
            if section == "DEFAULT" and key in options:
                options[key] += "\n" + line.lstrip()  # a continued value
        elif line.startswith("["):
            section, key = line[1:-1] if line.endswith("]") else None, None
        elif not line.startswith(("#", ";")):
            key, value = _assignment(line)
            if section == "DEFAULT" and key:
                options[key] = value
    return options


def nova_host(nova_conf: str, short_hostname: str) -> str:
    """The host name nova-compute registers with: ``[DEFAULT] host``, else the short name.

    A continued value is kept whole (with its line break): never a valid name.
    """
    return nova_defaults(nova_conf).get("host") or short_hostname


# nova's defaults when nova.conf does not set them.
SERVICE_DOWN_TIME = 60
_OSLO_BOOLS = {"true": True, "yes": True, "on": True, "1": True}
_OSLO_BOOLS.update({"false": False, "no": False, "off": False, "0": False})


def nova_service_down_time(nova_conf: str) -> int | None:
    """``[DEFAULT] service_down_time`` in seconds (nova's 60 if unset); None when invalid."""
    raw = nova_defaults(nova_conf).get("service_down_time")
    if raw is None:
        return SERVICE_DOWN_TIME
    return fields.whole_number(raw.strip(), 1, masakari_host.MAX_SECONDS)


def nova_resumes_guests(nova_conf: str) -> bool | None:
    """``[DEFAULT] resume_guests_state_on_host_boot`` (false if unset); None when invalid."""
    raw = nova_defaults(nova_conf).get("resume_guests_state_on_host_boot")
    return False if raw is None else _OSLO_BOOLS.get(raw.strip().lower())


def detection_time(config: MonitorsConfig) -> int | None:
    """Seconds the host monitor takes to report a failed host; None without it.

    It checks every ``monitoring_interval`` seconds and reports a node seen offline
    ``monitoring_samples`` checks in a row. config-flags override the options, as in
    the rendered file; the monitors' own defaults apply to what neither sets.
    """
    if not config.host_monitor:
        return None
    host = {**config.tunables.get("host", {}), **config.flags.get("host", {})}
    interval = fields.whole_number(host.get("monitoring_interval", "60"), 1, 10**6)
    samples = fields.whole_number(host.get("monitoring_samples", "1"), 1, 10**6)
    if interval is None or samples is None:
        return None
    return interval * samples if interval * samples <= masakari_host.MAX_SECONDS else None


def _assignment(line: str) -> tuple[str, str]:
    """``key`` and ``value`` of an oslo.config line (the first ``=`` or ``:`` splits)."""
    cuts = [i for i in (line.find("="), line.find(":")) if i >= 0]
    if not cuts:
        return "", ""
    cut = min(cuts)
    value = line[cut + 1 :].strip()
    if value and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return line[:cut].strip(), value
