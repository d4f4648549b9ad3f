#!/usr/bin/env python3
"""Validate Juju 3 bundles and overlays against the charms they deploy.

Checks: the bundle schema (Juju 3 keys: ``default-base``/``base``, no ``series``), that
every relation names ``app:endpoint`` pairs that exist, with one requirer and one
provider of the same interface, that options exist with the right type, that
placement directives name existing machines and applications, and that subordinates
have no units. Our charms are read from ``charms/*/charmcraft.yaml``; other charms from
``bundles/external-charms.yaml``. Overlays are checked merged onto the bundle they
extend. Usage: ``validate_bundles.py [BUNDLE [OVERLAY ...]]``; without arguments every
bundle and overlay of the repository is checked.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
BUNDLE_KEYS = {
    "description",
    "name",
    "default-base",
    "applications",
    "machines",
    "relations",
    "variables",
    "saas",
    "tags",
    "docs",
}
OVERLAY_KEYS = BUNDLE_KEYS
APP_KEYS = {
    "charm",
    "channel",
    "base",
    "revision",
    "num_units",
    "to",
    "options",
    "bindings",
    "constraints",
    "storage",
    "expose",
    "trust",
    "annotations",
    "resources",
    "devices",
}
MACHINE_KEYS = {"constraints", "base", "annotations"}
BASE = re.compile(r"^ubuntu@\d{2}\.\d{2}$")
PLACEMENT = re.compile(r"^(?:(?P<container>lxd|kvm):)?(?P<target>[^:\s]+)$")
# Which bundles each overlay extends (the validator checks the merge).
OVERLAY_BASES = {
    "masakari.yaml": ["openstack-noble.yaml"],
    "masakari-no-stonith.yaml": ["openstack-noble.yaml", "masakari.yaml"],
    "masakari-dns-ha.yaml": ["openstack-noble.yaml", "masakari.yaml"],
    "masakari-tls.yaml": ["openstack-noble.yaml", "masakari.yaml"],
    "local-charms.yaml": ["openstack-noble.yaml", "masakari.yaml"],
}


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """One endpoint of a charm."""

    role: str  # requires, provides or peers
    interface: str
    container: bool = False


@dataclasses.dataclass(frozen=True)
class CharmSpec:
    """What the validator knows of a charm."""

    name: str
    subordinate: bool
    endpoints: dict[str, Endpoint]
    options: dict[str, str]  # name -> string, int, float or boolean


def load_catalog(root: Path = ROOT) -> dict[str, CharmSpec]:
    """Our charms (charmcraft.yaml) and the recorded external ones."""
    catalog: dict[str, CharmSpec] = {}
    for path in sorted((root / "charms").glob("*/charmcraft.yaml")):
        meta = yaml.safe_load(path.read_text())
        endpoints = {}
        for role in ("requires", "provides", "peers"):
            for name, spec in (meta.get(role) or {}).items():
                endpoints[name] = Endpoint(
                    role, spec["interface"], spec.get("scope") == "container"
                )
        options = {k: v["type"] for k, v in (meta.get("config") or {}).get("options", {}).items()}
        catalog[meta["name"]] = CharmSpec(
            meta["name"], bool(meta.get("subordinate")), endpoints, options
        )
    external = yaml.safe_load((root / "bundles" / "external-charms.yaml").read_text())
    for name, spec in external.items():
        endpoints = {}
        for role in ("requires", "provides"):
            for endpoint, text in (spec.get(role) or {}).items():
                interface, *scope = text.split()
                endpoints[endpoint] = Endpoint(role, interface, scope == ["container"])
        catalog[name] = CharmSpec(
            name, bool(spec.get("subordinate")), endpoints, dict(spec.get("options") or {})
        )
    for spec in catalog.values():
        spec.endpoints.setdefault("juju-info", Endpoint("provides", "juju-info"))
    return catalog


def charm_name(charm: str) -> str:
    """Charm name of a ``charm:`` value: ``ch:name``, ``name`` or a local path."""
    if charm.startswith("ch:"):
        charm = charm[3:]
    if "/" in charm or charm.endswith(".charm"):
        charm = Path(charm).name
        return charm.split("_", 1)[0] if charm.endswith(".charm") else charm
    return charm


def merge(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """A bundle with overlays applied in order (applications merged, relations appended)."""
    merged: dict[str, Any] = {"applications": {}, "machines": {}, "relations": []}
    for doc in documents:
        for key, value in doc.items():
            if key == "applications":
                for app, spec in (value or {}).items():
                    if not isinstance(spec, dict):
                        merged["applications"][app] = spec  # reported by validate()
                        continue
                    target = merged["applications"].setdefault(app, {})
                    if not isinstance(target, dict):
                        continue
                    for field, field_value in spec.items():
                        if field == "options" and isinstance(field_value, dict):
                            target.setdefault("options", {}).update(field_value)
                        else:
                            target[field] = field_value
            elif key == "machines":
                merged["machines"].update(value or {})
            elif key == "relations":
                merged["relations"].extend(value or [])
            else:
                merged[key] = value
    return merged


OPTION_TYPES = {
    "string": (str,),
    "int": (int,),
    "float": (int, float),
    "boolean": (bool,),
}


def validate(documents: list[dict[str, Any]], catalog: dict[str, CharmSpec]) -> list[str]:
    """Problems of the merged ``documents`` (a bundle and its overlays)."""
    problems: list[str] = []
    for index, doc in enumerate(documents):
        if not isinstance(doc, dict):
            return [f"document {index + 1} is not a mapping"]
        shapes = {"applications": dict, "machines": dict, "relations": list}
        wrong = [
            k
            for k, kind in shapes.items()
            if doc.get(k) is not None and not isinstance(doc[k], kind)
        ]
        if wrong:
            return [f"document {index + 1}: {k} must be a {shapes[k].__name__}" for k in wrong]
        if "series" in doc:
            problems.append("'series' is Juju 2 syntax: use 'default-base: ubuntu@24.04'")
        unknown = set(doc) - BUNDLE_KEYS - {"series"}
        if unknown:
            problems.append(f"unknown top-level keys: {', '.join(sorted(unknown))}")
    bundle = merge(documents)
    if "default-base" in bundle and not BASE.match(str(bundle["default-base"])):
        problems.append(f"default-base {bundle['default-base']!r} is not like ubuntu@24.04")
    apps: dict[str, dict[str, Any]] = bundle["applications"]
    machines = {str(m) for m in bundle["machines"]}
    for machine, spec in bundle["machines"].items():
        if spec is not None and not isinstance(spec, dict):
            problems.append(f"machine {machine}: spec is not a mapping")
            continue
        extra = set(spec or {}) - MACHINE_KEYS
        if extra:
            problems.append(f"machine {machine}: unknown keys {', '.join(sorted(extra))}")
    specs: dict[str, CharmSpec] = {}
    for app, spec in apps.items():
        problems.extend(_check_app(app, spec, catalog, specs))
    for app, spec in apps.items():
        if app in specs:
            problems.extend(_check_placement(app, spec, specs[app], apps, machines))
    problems.extend(_check_relations(bundle["relations"], specs, apps))
    return problems


def _check_app(
    app: str, spec: Any, catalog: dict[str, CharmSpec], specs: dict[str, CharmSpec]
) -> list[str]:
    if not isinstance(spec, dict):
        return [f"{app}: application spec is not a mapping"]
    problems = []
    if "series" in spec:
        problems.append(f"{app}: 'series' is Juju 2 syntax: use 'base'")
    extra = set(spec) - APP_KEYS - {"series"}
    if extra:
        problems.append(f"{app}: unknown keys {', '.join(sorted(extra))}")
    if "charm" not in spec:
        return [*problems, f"{app}: no charm"]
    if "base" in spec and not BASE.match(str(spec["base"])):
        problems.append(f"{app}: base {spec['base']!r} is not like ubuntu@24.04")
    name = charm_name(str(spec["charm"]))
    charm = catalog.get(name)
    if charm is None:
        return [
            *problems,
            f"{app}: charm {name!r} is unknown (not ours, not in external-charms.yaml)",
        ]
    specs[app] = charm
    for field in ("options", "bindings", "constraints"):
        if field in spec and not isinstance(spec[field], dict if field != "constraints" else str):
            problems.append(f"{app}: {field} has the wrong type")
            spec = {k: v for k, v in spec.items() if k != field}
    units = spec.get("num_units")
    if units is not None and (not isinstance(units, int) or isinstance(units, bool) or units < 0):
        problems.append(f"{app}: num_units {units!r} is not a whole number")
    for option, value in (spec.get("options") or {}).items():
        kind = charm.options.get(option)
        if kind is None:
            problems.append(f"{app}: option {option!r} does not exist in {name}")
        elif value is not None and (
            not isinstance(value, OPTION_TYPES[kind])
            or (kind != "boolean" and isinstance(value, bool))
        ):
            problems.append(f"{app}: option {option!r} must be {kind}, got {type(value).__name__}")
    for endpoint in spec.get("bindings") or {}:
        if (
            endpoint
            and endpoint not in charm.endpoints
            and endpoint not in ("public", "internal", "admin")
        ):
            problems.append(f"{app}: binding for unknown endpoint {endpoint!r}")
    return problems


def _check_placement(
    app: str, spec: dict[str, Any], charm: CharmSpec, apps: dict[str, Any], machines: set[str]
) -> list[str]:
    to = spec.get("to") or []
    if charm.subordinate:
        problems = []
        if spec.get("num_units"):
            problems.append(f"{app}: subordinate {charm.name} must not have num_units")
        if to:
            problems.append(f"{app}: subordinate {charm.name} must not have placement ('to')")
        return problems
    problems = []
    if not isinstance(to, list):
        return [f"{app}: 'to' must be a list"]
    units = spec.get("num_units")
    units = units if isinstance(units, int) else 0  # a bad value is reported elsewhere
    if len(to) > units:
        problems.append(f"{app}: {len(to)} placement directives for {units} units")
    for directive in to:
        match = PLACEMENT.match(str(directive))
        if not match:
            problems.append(f"{app}: placement {directive!r} is not understood")
            continue
        target = match["target"]
        if target == "new" or target.startswith("zone="):
            continue
        if target.isdigit():
            if target not in machines:
                problems.append(
                    f"{app}: placement {directive!r} names machine {target}, which is not defined"
                )
        elif target.split("/")[0] not in apps:
            problems.append(f"{app}: placement {directive!r} names an unknown application")
    return problems


def _check_relations(
    relations: Any, specs: dict[str, CharmSpec], apps: dict[str, Any]
) -> list[str]:
    problems = []
    for pair in relations:
        if not (
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)
        ):
            problems.append(f"relation {pair!r} is not a pair of 'app:endpoint'")
            continue
        ends = []
        for side in pair:
            app, sep, endpoint = side.partition(":")
            if not sep or not endpoint:
                problems.append(f"relation {pair}: name the endpoint of {side!r} (app:endpoint)")
                break
            if app not in apps:
                problems.append(f"relation {pair}: application {app!r} is not in the bundle")
                break
            charm = specs.get(app)
            if charm is None:
                break
            if endpoint not in charm.endpoints:
                problems.append(f"relation {pair}: {charm.name} has no endpoint {endpoint!r}")
                break
            ends.append(charm.endpoints[endpoint])
        if len(ends) != 2:
            continue
        a, b = ends
        if {a.role, b.role} != {"requires", "provides"}:
            problems.append(
                f"relation {pair}: needs one requirer and one provider, got {a.role} and {b.role}"
            )
        elif a.interface != b.interface:
            problems.append(
                f"relation {pair}: interfaces differ ({a.interface} and {b.interface})"
            )
    return problems


def repository_sets(root: Path = ROOT) -> list[list[Path]]:
    """Every bundle, and every overlay merged onto the bundles it extends."""
    sets = [
        [p] for p in sorted((root / "bundles").glob("*.yaml")) if p.name != "external-charms.yaml"
    ]
    for overlay in sorted((root / "overlays").glob("*.yaml")):
        bases = OVERLAY_BASES.get(overlay.name)
        if bases is None:
            sets.append([overlay])  # reported: no known base
            continue
        chain = [root / "bundles" / bases[0], *(root / "overlays" / b for b in bases[1:])]
        sets.append([*chain, overlay])
    return sets


def check_files(paths: list[Path], catalog: dict[str, CharmSpec]) -> list[str]:
    """Problems of a bundle file and its overlays."""
    if paths[-1].parent.name == "overlays" and paths[-1].name not in OVERLAY_BASES:
        return [f"overlay {paths[-1].name} is not listed in OVERLAY_BASES"]
    try:
        documents = [yaml.safe_load(p.read_text()) for p in paths]
    except yaml.YAMLError as exc:
        return [f"not valid YAML: {exc}"]
    return validate(documents, catalog)


def main(argv: list[str]) -> int:
    """Validate the named files (a bundle then its overlays) or the whole repository."""
    catalog = load_catalog()
    sets = [[Path(a) for a in argv]] if argv else repository_sets()
    failed = False
    for paths in sets:
        label = " + ".join(
            str(p.relative_to(ROOT) if p.is_relative_to(ROOT) else p) for p in paths
        )
        problems = check_files(paths, catalog)
        if problems:
            failed = True
            print(f"FAIL {label}")
            for problem in problems:
                print(f"  - {problem}")
        else:
            print(f"ok   {label}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
