#!/usr/bin/env python3
"""Validate Juju 3 bundles and overlays against the charms they actually deploy.

Each application's ``charm:`` is resolved as Juju resolves it. A local path (starting
with ``.`` or ``/``, relative to the file that sets it; a bare ``x.charm`` is taken as one
too, and reported, since Juju would read it as a store name) must be one of this
repository's charms: a ``charms/<name>`` directory or a file ``tox -e build`` makes there
(``<name>_ubuntu@24.04-amd64.charm``, one per platform in ``charmcraft.yaml``). A store
name (``name`` or ``ch:name``) is the charm recorded under that name in
``bundles/external-charms.yaml``; an entry with ``built-from: charms/<name>`` is this
repository's charm published under another name, checked against its ``charmcraft.yaml``.
A store name is never this repository's charm by coincidence of name: Charmhub's
``masakari``, ``masakari-monitors`` and ``pacemaker-remote`` are the classic reactive
charms, without this suite's endpoints and options.

Checks: the bundle schema (Juju 3 keys: ``default-base``/``base``, no ``series``), that
every relation names ``app:endpoint`` pairs that exist in the resolved charms, with one
requirer and one provider of the same interface, that options exist with the right
type, that a built file's base and a store charm's recorded channels are the ones
deployed, that placement directives name existing machines and applications, and that
subordinates have no units. Overlays are checked merged onto the bundle they extend
(``OVERLAY_BASES``), a later document's ``charm:`` and ``channel`` replacing an
earlier one's. Usage: ``validate_bundles.py [BUNDLE [OVERLAY ...]]``; without arguments
every bundle and overlay of the repository is checked.
"""

from __future__ import annotations

import dataclasses
import os
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
    "charmhub-charms.yaml": ["openstack-noble.yaml", "masakari.yaml"],
}
# Keys of an external-charms.yaml entry; built-from excludes the ones after it, so that
# a published copy of our charm is never described twice.
STORE_KEYS = {"summary", "channels", "built-from"}
RECORDED_KEYS = {"subordinate", "requires", "provides", "peers", "options"}


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
    # How problems name the charm, so that a reader sees which charm a name deployed.
    origin: str = ""
    # What to deploy instead when a store charm merely shares a name with one of ours.
    hint: str = ""
    channels: tuple[str, ...] = ()  # recorded for a store charm: the only ones it is in
    base: str | None = None  # of a built file: the only base it runs on


@dataclasses.dataclass(frozen=True)
class LocalCharm:
    """One of this repository's charms, as a local path can name it."""

    spec: CharmSpec
    built: dict[str, str]  # file name tox -e build makes -> its base


@dataclasses.dataclass(frozen=True)
class Catalog:
    """The charms a ``charm:`` value can resolve to."""

    root: Path
    local: dict[str, LocalCharm]  # directory name under charms/
    store: dict[str, CharmSpec]  # name on the store


def _read_charmcraft(directory: Path) -> tuple[CharmSpec, dict[str, str]]:
    meta = yaml.safe_load((directory / "charmcraft.yaml").read_text())
    endpoints = {}
    for role in ("requires", "provides", "peers"):
        for name, spec in (meta.get(role) or {}).items():
            endpoints[name] = Endpoint(role, spec["interface"], spec.get("scope") == "container")
    options = {k: v["type"] for k, v in (meta.get("config") or {}).get("options", {}).items()}
    spec = CharmSpec(
        meta["name"],
        bool(meta.get("subordinate")),
        endpoints,
        options,
        origin=f"the charm built from charms/{directory.name}",
    )
    # charmcraft names each packed file after its platform, "ubuntu@24.04:amd64" giving
    # <name>_ubuntu@24.04-amd64.charm.
    built = {
        f"{meta['name']}_{platform.replace(':', '-')}.charm": platform.split(":")[0]
        for platform in meta.get("platforms") or {}
    }
    return spec, built


def _republished_charm(
    name: str, entry: dict[str, Any], local: dict[str, LocalCharm]
) -> CharmSpec:
    """A store entry that is one of our charms, published: its spec is our charmcraft.yaml."""
    source = entry["built-from"]
    ours = local.get(Path(source).name)
    if ours is None or Path(source).parent != Path("charms"):
        raise ValueError(f"external-charms.yaml: {name}: {source} is not one of our charms")
    if set(entry) & RECORDED_KEYS:
        raise ValueError(
            f"external-charms.yaml: {name}: built from {source}, so its endpoints and"
            " options come from its charmcraft.yaml and must not be recorded here"
        )
    return dataclasses.replace(
        ours.spec,
        name=name,
        origin=f"store charm {name!r} (built from {source})",
        channels=tuple(entry.get("channels") or ()),
    )


def _recorded_charm(name: str, entry: dict[str, Any]) -> CharmSpec:
    """A store charm as external-charms.yaml records its endpoints and options."""
    endpoints = {}
    for role in ("requires", "provides", "peers"):
        for endpoint, text in (entry.get(role) or {}).items():
            interface, *scope = text.split()
            endpoints[endpoint] = Endpoint(role, interface, scope == ["container"])
    summary = f" ({entry['summary']})" if entry.get("summary") else ""
    return CharmSpec(
        name,
        bool(entry.get("subordinate")),
        endpoints,
        dict(entry.get("options") or {}),
        origin=f"store charm {name!r}{summary}",
        channels=tuple(entry.get("channels") or ()),
    )


def load_catalog(root: Path = ROOT) -> Catalog:
    """Our charms (charmcraft.yaml) and the recorded store ones (external-charms.yaml)."""
    local = {}
    for path in sorted((root / "charms").glob("*/charmcraft.yaml")):
        spec, built = _read_charmcraft(path.parent)
        local[path.parent.name] = LocalCharm(spec, built)
    external = yaml.safe_load((root / "bundles" / "external-charms.yaml").read_text()) or {}
    store: dict[str, CharmSpec] = {}
    published: dict[str, str] = {}  # our charm's name -> a store name it is published as
    republished: set[str] = set()  # store names that are our charms
    for name, entry in external.items():
        unknown = set(entry) - STORE_KEYS - RECORDED_KEYS
        if unknown:
            raise ValueError(f"external-charms.yaml: {name}: unknown keys {sorted(unknown)}")
        if entry.get("built-from") is None:
            store[name] = _recorded_charm(name, entry)
            continue
        store[name] = _republished_charm(name, entry, local)
        published.setdefault(local[Path(entry["built-from"]).name].spec.name, name)
        republished.add(name)
    ours_by_name = {c.spec.name for c in local.values()}
    for name, spec in store.items():
        if name in ours_by_name and name not in republished:
            instead = f" or {published[name]}" if name in published else ""
            store[name] = dataclasses.replace(
                spec, hint=f"; deploy the built charm (a local path){instead}"
            )
    for spec in [*store.values(), *(c.spec for c in local.values())]:
        spec.endpoints.setdefault("juju-info", Endpoint("provides", "juju-info"))
    return Catalog(root, local, store)


def is_local(charm: str) -> bool:
    """Whether a ``charm:`` value names a local charm rather than a store one."""
    return charm.startswith((".", "/")) or charm.endswith(".charm")


def resolve_charm(charm: str, directory: Path, catalog: Catalog) -> CharmSpec | str:
    """The charm a ``charm:`` value deploys, or why it deploys none we know.

    A local path is relative to ``directory``, the one of the file that sets it.
    """
    if not is_local(charm):
        name = charm[3:] if charm.startswith("ch:") else charm
        spec = catalog.store.get(name)
        if spec is None:
            return f"store charm {name!r} is unknown (not in bundles/external-charms.yaml)"
        return spec
    # Lexically, as Juju joins the path to the file's directory: nothing need exist yet,
    # since the .charm files appear only after tox -e build.
    target = Path(os.path.normpath(directory / charm))
    charms_dir = Path(os.path.normpath(catalog.root / "charms"))
    parts = target.relative_to(charms_dir).parts if target.is_relative_to(charms_dir) else ()
    name, *inside = parts or ("",)
    ours = catalog.local.get(name)
    if ours is None or len(inside) > 1:
        return (
            f"local charm {charm!r} (at {_shown(target, catalog.root)}) is none of our charms:"
            " expected charms/<name> or a .charm file tox -e build makes there"
        )
    if not inside:
        return ours.spec
    if inside[0] not in ours.built:
        return (
            f"local charm {charm!r}: tox -e build makes no {inside[0]} in charms/{name}"
            f" (it makes {', '.join(sorted(ours.built))})"
        )
    return dataclasses.replace(ours.spec, base=ours.built[inside[0]])


def _shown(path: Path, root: Path) -> str:
    root = Path(os.path.normpath(root))
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def _merge_applications(merged: dict[str, Any], applications: dict[str, Any]) -> None:
    """An overlay's applications onto ``merged``: fields replaced, options merged."""
    for app, spec in applications.items():
        if not isinstance(spec, dict):
            merged[app] = spec  # reported by validate()
            continue
        target = merged.setdefault(app, {})
        if not isinstance(target, dict):
            continue
        for field, field_value in spec.items():
            if field == "options" and isinstance(field_value, dict):
                target.setdefault("options", {}).update(field_value)
            else:
                target[field] = field_value


def merge(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """A bundle with overlays applied in order (applications merged, relations appended)."""
    merged: dict[str, Any] = {"applications": {}, "machines": {}, "relations": []}
    for doc in documents:
        for key, value in doc.items():
            if key == "applications":
                _merge_applications(merged["applications"], value or {})
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


def _document_shape(index: int, doc: Any) -> list[str]:
    """Why document ``index`` cannot be read as a bundle at all ([] when it can)."""
    if not isinstance(doc, dict):
        return [f"document {index + 1} is not a mapping"]
    shapes = {"applications": dict, "machines": dict, "relations": list}
    wrong = [
        k for k, kind in shapes.items() if doc.get(k) is not None and not isinstance(doc[k], kind)
    ]
    return [f"document {index + 1}: {k} must be a {shapes[k].__name__}" for k in wrong]


def _charm_directories(documents: list[dict[str, Any]], directories: list[Path]) -> dict:
    """Each application's directory for its charm path: the file's that sets the charm.

    Juju resolves a relative charm path against that file, so an overlay's path stays
    relative to the overlay after merging.
    """
    where: dict[str, Path] = {}
    for directory, doc in zip(directories, documents, strict=True):
        for app, spec in (doc.get("applications") or {}).items():
            if isinstance(spec, dict) and "charm" in spec:
                where[app] = directory
    return where


def _machine_problems(machines: dict[Any, Any]) -> list[str]:
    problems = []
    for machine, spec in machines.items():
        if spec is not None and not isinstance(spec, dict):
            problems.append(f"machine {machine}: spec is not a mapping")
            continue
        extra = set(spec or {}) - MACHINE_KEYS
        if extra:
            problems.append(f"machine {machine}: unknown keys {', '.join(sorted(extra))}")
    return problems


def validate(
    documents: list[dict[str, Any]], catalog: Catalog, directories: list[Path] | None = None
) -> list[str]:
    """Problems of the merged ``documents`` (a bundle and its overlays).

    ``directories`` holds each document's directory, against which its local charm paths
    resolve; without it they resolve against the repository root.
    """
    problems: list[str] = []
    for index, doc in enumerate(documents):
        fatal = _document_shape(index, doc)
        if fatal:
            return fatal
        if "series" in doc:
            problems.append("'series' is Juju 2 syntax: use 'default-base: ubuntu@24.04'")
        unknown = set(doc) - BUNDLE_KEYS - {"series"}
        if unknown:
            problems.append(f"unknown top-level keys: {', '.join(sorted(unknown))}")
    bundle = merge(documents)
    where = _charm_directories(documents, directories or [catalog.root] * len(documents))
    default_base = bundle.get("default-base")
    if "default-base" in bundle and not BASE.match(str(bundle["default-base"])):
        problems.append(f"default-base {bundle['default-base']!r} is not like ubuntu@24.04")
    apps: dict[str, dict[str, Any]] = bundle["applications"]
    machines = {str(m) for m in bundle["machines"]}
    problems.extend(_machine_problems(bundle["machines"]))
    specs: dict[str, CharmSpec] = {}
    for app, spec in apps.items():
        problems.extend(
            _check_app(app, spec, catalog, where.get(app, catalog.root), default_base, specs)
        )
    for app, spec in apps.items():
        if app in specs:
            problems.extend(_check_placement(app, spec, specs[app], apps, machines))
    problems.extend(_check_relations(bundle["relations"], specs, apps))
    return problems


def _check_app(
    app: str,
    spec: Any,
    catalog: Catalog,
    directory: Path,
    default_base: Any,
    specs: dict[str, CharmSpec],
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
    value = str(spec["charm"])
    charm = resolve_charm(value, directory, catalog)
    if isinstance(charm, str):
        return [*problems, f"{app}: {charm}"]
    specs[app] = charm
    problems.extend(_source_problems(app, spec, value, charm, default_base))
    for field in ("options", "bindings", "constraints"):
        if field in spec and not isinstance(spec[field], dict if field != "constraints" else str):
            problems.append(f"{app}: {field} has the wrong type")
            spec = {k: v for k, v in spec.items() if k != field}
    units = spec.get("num_units")
    if units is not None and (not isinstance(units, int) or isinstance(units, bool) or units < 0):
        problems.append(f"{app}: num_units {units!r} is not a whole number")
    problems.extend(_option_problems(app, spec.get("options") or {}, charm))
    problems.extend(
        f"{app}: binding for unknown endpoint {endpoint!r}"
        for endpoint in spec.get("bindings") or {}
        if endpoint
        and endpoint not in charm.endpoints
        and endpoint not in ("public", "internal", "admin")
    )
    return problems


def _source_problems(
    app: str, spec: dict[str, Any], value: str, charm: CharmSpec, default_base: Any
) -> list[str]:
    """Where the charm comes from: how the path is written, its base and its channel."""
    problems = []
    if is_local(value) and not value.startswith((".", "/")):
        # Juju takes only "." or "/" for a path; anything else it parses as a store name.
        problems.append(f"{app}: charm {value!r} reads as a store name to Juju: write ./{value}")
    base = spec.get("base", default_base)
    if charm.base and base is not None and str(base) != charm.base:
        problems.append(f"{app}: {value} is built for {charm.base}, not the base {base}")
    if charm.channels and spec.get("channel") not in charm.channels:
        # Without a channel Juju looks in the stable risk of the default track.
        channel = f"channel {spec['channel']!r}" if "channel" in spec else "no channel"
        problems.append(
            f"{app}: {channel}, but {charm.origin} is released to {', '.join(charm.channels)} only"
        )
    return problems


def _option_problems(app: str, options: dict[str, Any], charm: CharmSpec) -> list[str]:
    problems = []
    for option, value in options.items():
        kind = charm.options.get(option)
        if kind is None:
            problems.append(
                f"{app}: option {option!r} does not exist in {charm.origin}{charm.hint}"
            )
        elif value is not None and (
            not isinstance(value, OPTION_TYPES[kind])
            or (kind != "boolean" and isinstance(value, bool))
        ):
            problems.append(f"{app}: option {option!r} must be {kind}, got {type(value).__name__}")
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
        problem = _directive_problem(directive, apps, machines)
        if problem:
            problems.append(f"{app}: placement {directive!r} {problem}")
    return problems


def _directive_problem(directive: Any, apps: dict[str, Any], machines: set[str]) -> str | None:
    match = PLACEMENT.match(str(directive))
    if not match:
        return "is not understood"
    target = match["target"]
    if target == "new" or target.startswith("zone="):
        return None
    if target.isdigit():
        return None if target in machines else f"names machine {target}, which is not defined"
    return None if target.split("/")[0] in apps else "names an unknown application"


def _relation_ends(
    pair: list[str], specs: dict[str, CharmSpec], apps: dict[str, Any], problems: list[str]
) -> list[Endpoint]:
    """The endpoints ``pair`` names that exist; a problem appended for each that does not."""
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
            # Both sides: a bundle naming store charms that share our names usually
            # misses endpoints on each (masakari-monitors:registration, masakari:hosts).
            problems.append(
                f"relation {pair}: {app}: endpoint {endpoint!r} does not exist in"
                f" {charm.origin}{charm.hint}"
            )
            continue
        ends.append(charm.endpoints[endpoint])
    return ends


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
        ends = _relation_ends(pair, specs, apps, problems)
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


def check_files(paths: list[Path], catalog: Catalog) -> list[str]:
    """Problems of a bundle file and its overlays."""
    if paths[-1].parent.name == "overlays" and paths[-1].name not in OVERLAY_BASES:
        return [f"overlay {paths[-1].name} is not listed in OVERLAY_BASES"]
    try:
        documents = [yaml.safe_load(p.read_text()) for p in paths]
    except yaml.YAMLError as exc:
        return [f"not valid YAML: {exc}"]
    # Not resolved: Juju takes a linked file's directory as the link's, not the target's.
    return validate(documents, catalog, [Path(os.path.abspath(p)).parent for p in paths])


def main(argv: list[str]) -> int:
    """Validate the named files (a bundle then its overlays) or the whole repository."""
    try:
        catalog = load_catalog()
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
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
