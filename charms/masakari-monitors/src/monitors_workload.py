"""The files the masakari monitors read, built from config and keystone's answer.

``/etc/masakarimonitors/masakarimonitors.conf`` holds the keystone password: it is
root-owned, readable by the monitors' group only (0640). With the process monitor,
``process_list.yaml`` lists the processes it watches.
"""

from __future__ import annotations

import yaml
from monitors_config import MonitorsConfig
from openstack_charm_lib.config_flags import merge_flags
from openstack_charm_lib.relations import Credentials
from openstack_charm_lib.rendering import ManagedFile, render_ini

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
        "username": credentials.get("credentials_username"),
        "password": credentials.get("credentials_password"),
        "project_name": credentials.get("credentials_project"),
        "project_domain_name": credentials.get(
            "credentials_project_domain_name", "service_domain"
        ),
        "user_domain_name": credentials.get("credentials_user_domain_name", "service_domain"),
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
    if config.process_list:
        sections.setdefault("process", {})["process_list_path"] = PROCESS_LIST
    return merge_flags(sections, config.config_flags)


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
    if config.process_list:
        files.append(
            ManagedFile(
                PROCESS_LIST,
                yaml.safe_dump(config.process_list, sort_keys=False),
                group=group,
                mode=0o640,
                restarts=restarts,
            )
        )
    return files


def nova_host(nova_conf: str | None, short_hostname: str) -> str | None:
    """The host name nova-compute registers with: ``[DEFAULT] host``, else the short name.

    None when nova.conf is not there (nova-compute not installed yet).
    """
    if nova_conf is None:
        return None
    for line in nova_conf.splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and stripped != "[DEFAULT]":
            break  # [DEFAULT] comes first in nova.conf; stop at the next section
        key, sep, value = stripped.partition("=")
        if sep and key.strip() == "host" and value.strip():
            return value.strip()
    return short_hostname
