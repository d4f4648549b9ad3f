"""How the consumers of our relation data read it: the COS collector, nrpe and Nagios.

Tests decode what a charm publishes or writes with these, not with our own writers; the
relation factories stand for those consumers in a charm's state.
"""

from __future__ import annotations

import base64
import json
import lzma
import re
from collections.abc import Mapping

import yaml
from ops import testing

NRPE_DIR = "/etc/nagios/nrpe.d"  # the nrpe charm's, spelled out: not read from our module


def _require(data: dict, key: str, kind: type, item: type | None = None, optional=False):
    """One field of ``CosAgentProviderUnitData`` as the consumer's pydantic 2 model reads it."""
    if optional and data.get(key) is None:
        return
    assert key in data, f"{key} is required"
    assert isinstance(data[key], kind), f"{key} must be a {kind.__name__}"
    if item is not None:
        assert all(isinstance(v, item) for v in data[key]), f"{key} items must be {item}"


def consumer_decode(bag: Mapping[str, str], unit: str = "masakari/0") -> dict:
    """What the collector's ``COSAgentRequirer`` does with the principal's unit bag."""
    data = json.loads(bag["config"])
    _require(data, "metrics_alert_rules", dict)
    _require(data, "log_alert_rules", dict)
    _require(data, "dashboards", list, str)
    _require(data, "metrics_scrape_jobs", list, dict)
    _require(data, "log_slots", list, str)
    _require(data, "subordinate", bool, optional=True)
    _require(data, "tracing_protocols", list, str, optional=True)
    _require(data, "log_files", list, str, optional=True)
    # ``dashboards``: json.loads(LZMABase64.decompress(s)) for each.
    data["dashboards"] = [
        json.loads(lzma.decompress(base64.b64decode(s.encode("utf-8"))).decode())
        for s in data["dashboards"]
    ]
    # ``metrics_jobs``: topology labels added to every static config, then handed to a
    # Prometheus receiver, which wants unique job names and host:port targets.
    for job in data["metrics_scrape_jobs"]:
        assert {"job_name", "metrics_path", "static_configs"} <= job.keys()
        for static in job["static_configs"]:
            host, _, port = static["targets"][0].rpartition(":")
            assert host and port.isdigit()
            static["labels"] = {**static.get("labels", {}), "juju_unit": unit}
    names = [job["job_name"] for job in data["metrics_scrape_jobs"]]
    assert len(set(names)) == len(names)
    for rules in (data["metrics_alert_rules"], data["log_alert_rules"]):
        if rules:  # {} or a Prometheus/Loki rule file
            assert isinstance(rules["groups"], list)
            for group in rules["groups"]:
                assert isinstance(group["name"], str) and isinstance(group["rules"], list)
    return data


def nrpe_commands(text: str) -> dict[str, str]:
    """``command[name]=line`` entries as nrpe reads its config (``#`` lines are comments)."""
    commands = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = re.fullmatch(r"command\[([^\]]+)\]=(.*)", line)
        assert match, f"nrpe cannot read {line!r}"
        commands[match[1]] = match[2]
    return commands


def nagios_objects(text: str) -> list[tuple[str, dict[str, str]]]:
    """Object definitions as Nagios reads them: ``;`` starts a comment, ``}`` ends a block."""
    objects: list[tuple[str, dict[str, str]]] = []
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = re.split(r"(?<!\\);", raw, maxsplit=1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if current is None:
            match = re.fullmatch(r"define\s+(\w+)\s*\{", line)
            assert match, f"Nagios cannot read {line!r}"
            current = {}
            objects.append((match[1], current))
        elif line == "}":
            current = None
        else:
            key, _, value = line.partition(" ")
            assert key not in current, f"{key} is repeated"
            current[key] = value.strip()
    assert current is None, "a definition is not closed"
    return objects


def nrpe_relation_checks(bag: Mapping[str, str]) -> dict[str, str]:
    """Shortname -> nrpe command name, as the nrpe charm merges ``monitors`` (safe_load)."""
    monitors = yaml.safe_load(bag["monitors"])
    return {
        name: entry["command"] for name, entry in monitors["monitors"]["remote"]["nrpe"].items()
    }


def cos_agent_relation(*, subordinate: bool) -> testing.Relation | testing.SubordinateRelation:
    """The opentelemetry-collector subordinate on ``cos-agent`` (machine-scoped for ours)."""
    kind = testing.SubordinateRelation if subordinate else testing.Relation
    return kind("cos-agent", "cos_agent", remote_app_name="opentelemetry-collector")


def nrpe_relation(hostname: str | None = None) -> testing.SubordinateRelation:
    """The nrpe subordinate, sending ``nagios_hostname`` when given."""
    return testing.SubordinateRelation(
        "nrpe-external-master",
        "nrpe-external-master",
        remote_app_name="nrpe",
        remote_unit_data={"nagios_hostname": hostname} if hostname else {},
    )


def with_nrpe_installed(host):
    """``host`` (a FakeHost) with the nrpe subordinate's directory and running service."""
    host.path(NRPE_DIR).mkdir(parents=True)
    host.running.add("nagios-nrpe-server")
    return host


def nrpe_files(host) -> dict[str, str]:
    """The nrpe.d command files on ``host`` (a FakeHost), by machine path."""
    return {
        f"{NRPE_DIR}/{p.name}": p.read_text()
        for p in sorted(host.path(NRPE_DIR).glob("check_*.cfg"))
    }
