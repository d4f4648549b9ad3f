#!/usr/bin/python3
"""Nagios plugin: compare one metric family of a Prometheus exporter with thresholds.

Usage: check_exporter_metric.py --url URL --family NAME [--label K=V ...]
       [--warning N] [--critical N] [--below] [--describe TEXT] [--name-label LABEL]

Fetches the page (text exposition format 0.0.4, 10 s timeout), sums the samples of
``NAME`` whose labels match every ``--label``, and compares the sum with the thresholds:
a state is reached when the sum is >= its threshold (<= with ``--below``). The line reads
e.g. ``CRITICAL: 2 hosts on maintenance (compute-1, compute-2)``: with ``--name-label``
the series that count are named by that label (with ``--below``: the series at zero or
less, e.g. monitors not running). A family declared without samples sums to 0; a page
that cannot be fetched or parsed, or a family it does not have, is UNKNOWN. Exit codes
are Nagios': 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. Standard library only.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import urllib.error
import urllib.request

try:  # in the library (its tests import the plugins as modules)
    from openstack_charm_lib.nagios_plugins import nagios_check as nc
except ImportError:  # installed: nrpe.plugin_files put the module next to this file
    import nagios_check as nc  # pyright: ignore[reportMissingImports]
TIMEOUT = 10.0
MAX_PAGE = 32 * 1024 * 1024
MAX_NAMES = 10  # series named in the line; the rest are counted

_METRIC = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}

Labels = dict[str, str]


# Exposition format ------------------------------------------------------------------------


def _skip_blanks(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t":
        i += 1
    return i


def _labels(text: str, start: int, lineno: int) -> tuple[Labels, int]:
    """The ``{...}`` label set at ``text[start]``, and the index after its ``}``."""
    labels: Labels = {}
    i = _skip_blanks(text, start + 1)
    while text[i : i + 1] != "}":
        name = _LABEL.match(text, i)
        if name is None:
            raise nc.UnknownError(f"line {lineno}: bad label name")
        i = _skip_blanks(text, name.end())
        if text[i : i + 1] != "=":
            raise nc.UnknownError(f"line {lineno}: label {name.group()} has no value")
        i = _skip_blanks(text, i + 1)
        if text[i : i + 1] != '"':
            raise nc.UnknownError(f"line {lineno}: label {name.group()} has no quoted value")
        value, i = _quoted(text, i + 1, lineno)
        labels[name.group()] = value
        i = _skip_blanks(text, i)
        if text[i : i + 1] == ",":
            i = _skip_blanks(text, i + 1)  # a trailing comma before } is allowed
        elif text[i : i + 1] != "}":
            raise nc.UnknownError(f"line {lineno}: expected , or }} after a label")
    return labels, i + 1


def _quoted(text: str, i: int, lineno: int) -> tuple[str, int]:
    """The label value starting at ``text[i]`` (after its quote), and the index past it."""
    value = []
    while i < len(text):
        char = text[i]
        if char == '"':
            return "".join(value), i + 1
        if char == "\\":
            escaped = text[i + 1 : i + 2]
            # Unknown escapes are kept as written, as Prometheus' own parser keeps them.
            value.append(_ESCAPES.get(escaped, "\\" + escaped))
            i += 2
        else:
            value.append(char)
            i += 1
    raise nc.UnknownError(f"line {lineno}: unterminated label value")


def _value(token: str, lineno: int) -> float:
    try:
        if "_" in token:  # Python reads 1_000; the exposition format does not
            raise ValueError(token)
        return float(token)  # also +Inf, -Inf and NaN, as the format writes them
    except ValueError:
        raise nc.UnknownError(f"line {lineno}: bad sample value") from None


def parse(page: str) -> tuple[set[str], list[tuple[str, Labels, float]]]:
    """Declared family names (``# HELP``/``# TYPE``) and samples of an exposition page."""
    declared: set[str] = set()
    samples: list[tuple[str, Labels, float]] = []
    for lineno, raw in enumerate(page.split("\n"), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            words = line.split(None, 3)
            if len(words) >= 3 and words[1] in ("HELP", "TYPE"):
                declared.add(words[2])
            continue
        name = _METRIC.match(line)
        if name is None:
            raise nc.UnknownError(f"line {lineno}: bad metric name")
        labels: Labels = {}
        rest = line[name.end() :]
        brace = _skip_blanks(line, name.end())  # the format allows blanks before {
        if line[brace : brace + 1] == "{":
            labels, end = _labels(line, brace, lineno)
            rest = line[end:]
        fields = rest.split()
        if not 1 <= len(fields) <= 2:
            raise nc.UnknownError(f"line {lineno}: expected a value (and a timestamp)")
        samples.append((name.group(), labels, _value(fields[0], lineno)))
    return declared, samples


# The check --------------------------------------------------------------------------------


def fetch(url: str, timeout: float = TIMEOUT) -> str:
    """The page at ``url`` (http or https only)."""
    if not url.startswith(("http://", "https://")):
        raise nc.UnknownError("the URL must be http or https")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            body = response.read(MAX_PAGE + 1)
    except urllib.error.HTTPError as error:
        raise nc.UnknownError(f"metrics page answered HTTP {error.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", None) or type(error).__name__
        raise nc.UnknownError(f"cannot fetch the metrics page ({reason})") from None
    if len(body) > MAX_PAGE:
        raise nc.UnknownError("metrics page too large")
    return body.decode("utf-8", errors="replace")


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else f"{value:g}"


def _label_pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not _LABEL.fullmatch(name):
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE")
    return name, value


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = nc.Parser(prog="check_exporter_metric.py")
    parser.add_argument("--url", required=True)
    parser.add_argument("--family", required=True)
    parser.add_argument("--label", action="append", default=[], type=_label_pair)
    parser.add_argument("--warning", type=float)
    parser.add_argument("--critical", type=float)
    parser.add_argument("--below", action="store_true", help="alert when <= the thresholds")
    parser.add_argument("--describe", help="what the number counts, e.g. 'hosts on maintenance'")
    parser.add_argument("--name-label", help="name the series that count by this label")
    parser.add_argument("--timeout", type=float, default=TIMEOUT)
    args = parser.parse_args(argv)
    if not _METRIC.fullmatch(args.family):
        parser.error("--family is not a metric name")
    return args


def check(argv: list[str]) -> tuple[int, str]:
    """The Nagios state and the line to print for ``argv``."""
    args = _arguments(argv)
    declared, samples = parse(fetch(args.url, args.timeout))
    wanted = dict(args.label)
    series = [
        (labels, value)
        for name, labels, value in samples
        if name == args.family and all(labels.get(k) == v for k, v in wanted.items())
    ]
    if (
        not series
        and args.family not in declared
        and not any(name == args.family for name, _, _ in samples)
    ):
        raise nc.UnknownError(f"{args.family} is not on the metrics page")
    if any(math.isnan(value) for _, value in series):
        raise nc.UnknownError(f"{args.family} has a NaN sample")
    total = float(sum(value for _, value in series))  # 0, not int 0, when none match

    def reached(threshold: float | None) -> bool:
        if threshold is None:
            return False
        return total <= threshold if args.below else total >= threshold

    state = (
        nc.CRITICAL if reached(args.critical) else nc.WARNING if reached(args.warning) else nc.OK
    )
    line = f"{nc.NAMES[state]}: {_number(total)} {args.describe or args.family}"
    if state != nc.OK and args.name_label:
        line += _named(series, args.name_label, args.below)
    line = line.replace("|", "/")  # a | would start the performance data
    perf = f"'{args.family}'={_number(total)};"
    perf += ";".join("" if t is None else _number(t) for t in (args.warning, args.critical))
    return state, f"{line} | {perf}"


def _named(series: list[tuple[Labels, float]], label: str, below: bool) -> str:
    """`` (a, b)`` naming the series that count against the threshold."""
    counted = [labels for labels, value in series if (value <= 0 if below else value > 0)]
    names = sorted({labels.get(label, "unnamed") for labels in counted})
    if not names:
        return ""
    shown = ", ".join(names[:MAX_NAMES])
    more = f" and {len(names) - MAX_NAMES} more" if len(names) > MAX_NAMES else ""
    return f" ({'at zero: ' if below else ''}{shown}{more})"


def main(argv: list[str] | None = None) -> int:
    """Print one line and return the Nagios exit code."""
    return nc.main(check, argv)


if __name__ == "__main__":  # pragma: no cover - run as a program by nrpe
    sys.exit(main())
