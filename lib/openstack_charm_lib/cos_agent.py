"""Provider side of the ``cos_agent`` interface (a COS collector subordinate on the machine).

What the charm offers (:class:`Observability`: scrape jobs, log files, rule and dashboard
directories shipped with the charm) becomes one key of the unit's databag, ``config``,
holding the JSON the collector charms' library reads with
``CosAgentProviderUnitData(**json.loads(raw))`` (charms.grafana_agent.v0.cos_agent, as
vendored by opentelemetry-collector): ``metrics_alert_rules`` and ``log_alert_rules``
(``{"groups": [...]}`` or ``{}``), ``dashboards`` (each a base64 string of LZMA-compressed
JSON), ``metrics_scrape_jobs`` (Prometheus ``scrape_configs``) and ``log_slots`` are
required; ``log_files`` is optional (collectors that predate it ignore it, and they tail
``/var/log/**/*log`` anyway).

Rules are rewritten as the cos-lib ``Rules`` class does: group names prefixed with the
topology identifier and suffixed ``_rules``, ``juju_*`` topology labels added to every
rule that does not set them. cos-lib deletes ``%%juju_topology%%`` from expressions and
leaves the matchers to the ``cos-tool`` binary, which machine charms do not ship; here the
placeholder becomes those matchers (model, model UUID, application), so a rule is scoped
even where no tool rewrites it later, and a later rewrite with the same matchers changes
nothing.

Every file is validated before it is published; a broken file is left out, logged, and
listed by :func:`problems`, never raised out of a hook. The JSON is canonical (sorted
keys), so a hook that changes nothing writes nothing.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import hashlib
import json
import logging
import lzma
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import ops
import yaml

from .fields import is_single_line

logger = logging.getLogger(__name__)

BAG_KEY = "config"
RULE_SUFFIXES = (".rule", ".rules", ".yml", ".yaml")  # what cos-lib reads from a rules dir
PLACEHOLDER = "%%juju_topology%%"
MAX_FILE = 4 * 1024 * 1024  # a rules file or dashboard larger than this is a mistake

_JOB_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# cos-lib's test for a group name it already prefixed (``<model>_<8 hex>_<app>..._rules``).
_PREFIXED = re.compile(r"^.*?_[\da-f]{8}_.*?rules$")
_NOT_IN_GROUP_NAME = re.compile(r"[^a-zA-Z0-9_:]")


@dataclasses.dataclass(frozen=True)
class Topology:
    """Where the data comes from: the Juju topology the COS stack labels everything with."""

    model: str
    model_uuid: str
    application: str
    unit: str
    charm_name: str

    @classmethod
    def from_charm(cls, charm: ops.CharmBase) -> Topology:
        """The topology of ``charm``'s unit."""
        model = charm.model
        return cls(model.name, model.uuid, model.app.name, model.unit.name, charm.meta.name)

    @property
    def identifier(self) -> str:
        """``<model>_<first 8 of the UUID>_<application>``, as cos-lib names rule groups."""
        return f"{self.model}_{self.model_uuid[:8]}_{self.application}".replace("/", "_")

    @property
    def rule_labels(self) -> dict[str, str]:
        """Labels every rule carries (never the unit: one rule serves every unit)."""
        labels = {
            "juju_model": self.model,
            "juju_model_uuid": self.model_uuid,
            "juju_application": self.application,
            "juju_charm": self.charm_name,
        }
        return {k: v for k, v in labels.items() if v}


@dataclasses.dataclass(frozen=True)
class ScrapeJob:
    """A Prometheus endpoint on this machine for the collector to scrape."""

    job_name: str
    port: int
    path: str = "/metrics"
    scheme: str = "http"

    def __post_init__(self):
        # Charm-defined constants: a bad one is a bug, raised when the charm is built.
        if not _JOB_NAME.fullmatch(self.job_name):
            raise ValueError(f"scrape job name {self.job_name!r} is not a plain name")
        if isinstance(self.port, bool) or not isinstance(self.port, int):
            raise ValueError(f"scrape job {self.job_name}: port must be an int")
        if not 0 < self.port < 65536:
            raise ValueError(f"scrape job {self.job_name}: port out of range")
        if not (self.path.startswith("/") and is_single_line(self.path) and " " not in self.path):
            raise ValueError(f"scrape job {self.job_name}: path must be an absolute URL path")
        if self.scheme not in ("http", "https"):
            raise ValueError(f"scrape job {self.job_name}: scheme must be http or https")


@dataclasses.dataclass(frozen=True)
class Observability:
    """What a charm offers to a collector.

    Relative directories are taken from the charm's own directory (they ship with it).
    ``generic_rules`` adds the HostHealth group (``HostDown``, ``HostMetricsMissing``)
    that the upstream provider library adds to every charm's rules.
    """

    scrape_jobs: tuple[ScrapeJob, ...] = ()
    log_files: tuple[str, ...] = ()
    metrics_rules_dir: Path | None = None
    log_rules_dir: Path | None = None
    dashboards_dir: Path | None = None
    generic_rules: bool = True

    def __post_init__(self):
        names = [job.job_name for job in self.scrape_jobs]
        if len(set(names)) != len(names):
            raise ValueError("scrape job names must be unique")
        for path in self.log_files:
            if not (is_single_line(path) and path.startswith("/")):
                raise ValueError("log files must be absolute paths on one line")


class _FileError(ValueError):
    """A rules file or dashboard that is left out; the message says why."""


# Rules ------------------------------------------------------------------------------------


def _generic_groups() -> list[dict[str, Any]]:
    """The HostHealth group the upstream provider adds (same alert names and expressions)."""
    return [
        {
            "name": "HostHealth",
            "rules": [
                {
                    "alert": "HostDown",
                    "expr": "up < 1",
                    "for": "5m",
                    "labels": {"severity": "critical"},
                    "annotations": {
                        "summary": "Target '{{ $labels.instance }}' is down.",
                        "description": "A scrape target of application "
                        "'{{ $labels.juju_application }}' in model '{{ $labels.juju_model }}' "
                        "could not be scraped for at least five minutes.",
                    },
                },
                {
                    "alert": "HostMetricsMissing",
                    "expr": "absent(up)",
                    "for": "5m",
                    "labels": {"severity": "warning"},
                    "annotations": {
                        "summary": "No metrics from unit '{{ $labels.juju_unit }}' of "
                        "'{{ $labels.juju_application }}'.",
                        "description": "`up` is missing for application "
                        "{{ $labels.juju_application }} in model {{ $labels.juju_model }}: "
                        "the unit or the collector scraping it is down, or cannot reach "
                        "the metrics backend.",
                    },
                },
            ],
        }
    ]


def _string_map(value: object, what: str) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise _FileError(f"{what} must map names to strings")
    return dict(value)


def _check_rule(rule: object, where: str) -> dict[str, Any]:
    """``rule`` if it is an alerting or recording rule Prometheus/Loki would load."""
    if not isinstance(rule, Mapping):
        raise _FileError(f"{where}: a rule is not a mapping")
    kinds = [k for k in ("alert", "record") if k in rule]
    if len(kinds) != 1 or not isinstance(rule[kinds[0]], str) or not rule[kinds[0]]:
        raise _FileError(f"{where}: each rule needs one 'alert' (or 'record') name")
    name = rule[kinds[0]]
    if not isinstance(rule.get("expr"), str) or not rule["expr"].strip():
        raise _FileError(f"{where}: rule {name} has no expr")
    checked = dict(rule)
    for key in ("labels", "annotations"):
        if key in rule:
            checked[key] = _string_map(rule[key], f"{where}: rule {name} {key}")
            if key == "labels" and not all(_LABEL_NAME.fullmatch(k) for k in checked[key]):
                raise _FileError(f"{where}: rule {name} has an invalid label name")
    for key in ("for", "keep_firing_for"):
        if key in rule and not isinstance(rule[key], str):
            raise _FileError(f"{where}: rule {name} {key} must be a duration string")
    return checked


def _groups_of(document: object, stem: str, where: str) -> list[dict[str, Any]]:
    """The groups of one file, in the two forms cos-lib reads.

    ``{"groups": [...]}`` (the Prometheus/Loki rule file) or one rule alone, which
    becomes a group named after the file.
    """
    if not isinstance(document, Mapping) or not document:
        raise _FileError(f"{where}: neither a rule file ({{groups: [...]}}) nor a single rule")
    if "groups" in document:
        groups = document["groups"]
        if not isinstance(groups, list):
            raise _FileError(f"{where}: 'groups' is not a list")
        checked = []
        for group in groups:
            if not isinstance(group, Mapping):
                raise _FileError(f"{where}: a group is not a mapping")
            name, rules = group.get("name"), group.get("rules")
            if not isinstance(name, str) or not name or not is_single_line(name):
                raise _FileError(f"{where}: a group has no name")
            if not isinstance(rules, list):
                raise _FileError(f"{where}: group {name} has no list of rules")
            checked.append({**group, "rules": [_check_rule(r, where) for r in rules]})
        return checked
    if "expr" in document and ("alert" in document or "record" in document):
        return [{"name": stem, "rules": [_check_rule(document, where)]}]
    raise _FileError(f"{where}: neither a rule file ({{groups: [...]}}) nor a single rule")


def _matchers(labels: Mapping[str, str]) -> str:
    """``juju_model="m", juju_model_uuid="u", juju_application="a"`` from a rule's labels."""
    keys = ("juju_model", "juju_model_uuid", "juju_application")
    # json.dumps escapes quotes and backslashes the way PromQL/LogQL strings expect.
    return ", ".join(f"{k}={json.dumps(labels[k])}" for k in keys if labels.get(k))


def _topologise(group: dict[str, Any], topology: Topology) -> dict[str, Any]:
    """``group`` named and labelled the way cos-lib's ``Rules`` leaves it."""
    group = copy.deepcopy(group)
    name = group["name"]
    if not _PREFIXED.match(name):
        name = f"{topology.identifier}_{name}"
        if not name.endswith("_rules"):
            name += "_rules"
    group["name"] = _NOT_IN_GROUP_NAME.sub("_", name)
    for rule in group["rules"]:
        labels = rule.setdefault("labels", {})
        for label, value in topology.rule_labels.items():
            labels.setdefault(label, value)  # a label the author set wins, as in cos-lib
        rule["expr"] = rule["expr"].replace(PLACEHOLDER, _matchers(labels))
    return group


def _read_text(path: Path) -> str:
    """The UTF-8 text of ``path``; too large or unreadable is :class:`_FileError`."""
    try:
        if path.stat().st_size > MAX_FILE:
            raise _FileError(f"{path.name}: larger than {MAX_FILE} bytes")
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise _FileError(f"{path.name}: unreadable ({type(error).__name__})") from None


def _load_document(path: Path) -> object:
    """YAML (JSON is YAML) of ``path``; any failure to read or parse is :class:`_FileError`."""
    text = _read_text(path)
    try:
        return yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError) as error:
        raise _FileError(f"{path.name}: not YAML ({type(error).__name__})") from None


def _file_groups(path: Path, topology: Topology) -> list[dict[str, Any]]:
    """The groups of one rules file, topologised; :class:`_FileError` when it is left out."""
    found = [
        _topologise(group, topology)
        for group in _groups_of(_load_document(path), path.stem, path.name)
    ]
    try:
        json.dumps(found, sort_keys=True)  # YAML can build what JSON cannot hold
    except (TypeError, ValueError, RecursionError):
        raise _FileError(f"{path.name}: holds values that are not JSON data") from None
    return found


def _rules(
    directory: Path | None, topology: Topology, generic: bool, problems: list[str]
) -> dict[str, Any]:
    """Every valid file's groups under ``directory``; ``{}`` when there is none."""
    groups = [_topologise(g, topology) for g in _generic_groups()] if generic else []
    for path in sorted(p for p in _listing(directory, problems) if p.suffix in RULE_SUFFIXES):
        try:
            found = _file_groups(path, topology)
            # A rule file is one list of groups for Prometheus/Loki: a repeated name
            # would make them reject the whole file, every other rule with it.
            names = [g["name"] for g in found]
            if {g["name"] for g in groups}.intersection(names) or len(set(names)) < len(names):
                raise _FileError(f"{path.name}: a group name is used twice")
        except _FileError as error:
            problems.append(f"{path.parent.name}/{error}")
            continue
        groups.extend(found)
    return {"groups": groups} if groups else {}


def _listing(directory: Path | None, problems: list[str]) -> list[Path]:
    """Files directly in ``directory`` (not recursive, as cos-lib by default)."""
    if directory is None:
        return []
    try:
        return [p for p in directory.iterdir() if p.is_file()]
    except FileNotFoundError:
        return []
    except OSError as error:
        problems.append(f"{directory.name}: unreadable ({type(error).__name__})")
        return []


# Dashboards -------------------------------------------------------------------------------


def compress(text: str) -> str:
    """Base64 of the LZMA (xz) compressed UTF-8 ``text`` (cos-lib's ``LZMABase64``)."""
    return base64.b64encode(lzma.compress(text.encode("utf-8"))).decode("ascii")


def decompress(encoded: str) -> str:
    """The inverse of :func:`compress`."""
    return lzma.decompress(base64.b64decode(encoded.encode("ascii"))).decode("utf-8")


def dashboard_uid(charm_name: str, relative_path: str) -> str:
    """The 40-hex ``uid`` the upstream provider gives a dashboard (cos-lib DashboardPath40UID)."""
    return hashlib.shake_256(f"{charm_name}-{relative_path}".encode()).hexdigest(20)


def _dashboards(
    directory: Path | None, charm_dir: Path | None, charm_name: str, problems: list[str]
) -> list[str]:
    encoded = []
    for path in sorted(p for p in _listing(directory, problems) if p.suffix == ".json"):
        try:
            dashboard = _load_dashboard(path)
        except _FileError as error:
            problems.append(f"{path.parent.name}/{error}")
            continue
        # The uid and the charm tag are what the upstream provider sets: Grafana keeps
        # one dashboard per uid, and the collector names its files after it.
        relative = path
        if charm_dir is not None and path.is_relative_to(charm_dir):
            relative = path.relative_to(charm_dir)
        dashboard["uid"] = dashboard_uid(charm_name, str(PurePosixPath(relative)))
        tags = dashboard["tags"]
        if not any(tag.startswith("charm: ") for tag in tags):
            tags.append(f"charm: {charm_name}")
        encoded.append(compress(json.dumps(dashboard, sort_keys=True)))
    return encoded


def _load_dashboard(path: Path) -> dict[str, Any]:
    text = _read_text(path)
    try:
        dashboard = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise _FileError(f"{path.name}: not a JSON document ({type(error).__name__})") from None
    if not isinstance(dashboard, dict):
        raise _FileError(f"{path.name}: not a JSON object")
    dashboard.setdefault("tags", [])
    if not isinstance(dashboard["tags"], list) or not all(
        isinstance(t, str) for t in dashboard["tags"]
    ):
        raise _FileError(f"{path.name}: tags must be a list of strings")
    return dashboard


# The bag ----------------------------------------------------------------------------------


def _resolve(directory: Path | None, charm_dir: Path | None) -> Path | None:
    if directory is None or charm_dir is None or directory.is_absolute():
        return directory
    return charm_dir / directory


def _scrape_configs(jobs: tuple[ScrapeJob, ...], application: str) -> list[dict[str, Any]]:
    """Standard ``scrape_configs``, named ``<app>_<job>_<8 hex>`` like the upstream provider.

    One collector scrapes for every principal on the machine in one receiver, so job
    names must differ between applications; the hash keeps a changed job distinct.
    """
    configs = []
    for job in jobs:
        config: dict[str, Any] = {
            "metrics_path": job.path,
            "scheme": job.scheme,
            # Our exporters listen on 127.0.0.1 only; "localhost" may resolve to ::1 first.
            "static_configs": [{"targets": [f"127.0.0.1:{job.port}"]}],
        }
        if job.scheme == "https":
            config["tls_config"] = {"insecure_skip_verify": True}  # loopback: no SAN to match
        digest = hashlib.blake2b(
            json.dumps(config, sort_keys=True).encode(), digest_size=4
        ).hexdigest()
        configs.append({"job_name": f"{application}_{job.job_name}_{digest}", **config})
    return sorted(configs, key=lambda c: c["job_name"])


def _collect(
    offer: Observability, topology: Topology, charm_dir: Path | None
) -> tuple[dict[str, Any], list[str]]:
    problems: list[str] = []
    data = {
        "metrics_alert_rules": _rules(
            _resolve(offer.metrics_rules_dir, charm_dir), topology, offer.generic_rules, problems
        ),
        "log_alert_rules": _rules(
            _resolve(offer.log_rules_dir, charm_dir), topology, False, problems
        ),
        "dashboards": _dashboards(
            _resolve(offer.dashboards_dir, charm_dir), charm_dir, topology.charm_name, problems
        ),
        "metrics_scrape_jobs": _scrape_configs(offer.scrape_jobs, topology.application),
        "log_slots": [],
        "log_files": sorted(set(offer.log_files)),
    }
    return data, problems


def unit_bag(
    offer: Observability, topology: Topology, *, charm_dir: Path | None = None
) -> dict[str, str]:
    """The unit databag for ``offer``: ``{"config": <canonical JSON>}``.

    Relative directories of ``offer`` are taken from ``charm_dir`` (else the working
    directory, which is the charm's in a hook).
    """
    data, found = _collect(offer, topology, charm_dir)
    for problem in found:
        logger.warning("cos-agent: left out %s", problem)
    return {BAG_KEY: json.dumps(data, sort_keys=True, separators=(",", ":"))}


def problems(offer: Observability, *, charm_dir: Path | None = None) -> list[str]:
    """Rule and dashboard files of ``offer`` that are left out, and why (for a status)."""
    placeholder = Topology("model", "00000000-0000-4000-8000-000000000000", "app", "app/0", "c")
    return _collect(offer, placeholder, charm_dir)[1]


def publish(charm: ops.CharmBase, endpoint: str, offer: Observability) -> None:
    """Write ``offer`` into this unit's bag on every relation of ``endpoint``.

    Only keys whose value differs are written, so a hook that changes nothing sets no
    relation data (and wakes no collector).
    """
    relations = charm.model.relations[endpoint]
    if not relations:
        return
    bag = unit_bag(offer, Topology.from_charm(charm), charm_dir=charm.charm_dir)
    for relation in relations:
        data = relation.data[charm.unit]
        for key, value in bag.items():
            if data.get(key) != value:
                data[key] = value
