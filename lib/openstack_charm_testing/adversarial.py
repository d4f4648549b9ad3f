"""Hostile inputs and the bookkeeping of the charms' adversarial property suites.

Three parts, each usable on its own:

* **Generators** (hypothesis strategies) of what other applications and operators can
  send: text with control characters and line breaks (:func:`hostile_text`), digits that
  ``str.isdigit`` accepts and ``int`` refuses (:func:`unicode_digits`), bytes that are not
  UTF-8 (:func:`non_utf8_bytes`), strings that are not JSON or JSON of the wrong shape
  (:func:`json_shapes`), values of the wrong Python type (:func:`wrong_types`), and one
  strategy mixing them all for a relation field (:func:`relation_value`).
* **Checks** of what a hook left behind: :func:`parse_oslo_ini` reads a rendered file
  with oslo.config's own parser (a faithful fallback when oslo.config is not installed),
  :func:`assert_ini_matches` proves that every value the charm meant to write is read back
  exactly and nothing else appeared, and :func:`leaked` finds secrets in texts.
* **A tally** (:class:`Tally`, one per charm from :func:`tally`) counting cases,
  exceptions, invalid files, leaks and non-idempotent replays; :func:`summary_lines`
  gives the figures the unit run prints (see :func:`pytest_terminal_summary`).

Typical use in a charm's ``tests/unit``::

    # conftest.py
    from openstack_charm_testing.adversarial import pytest_terminal_summary  # noqa: F401

    # test_properties.py
    from openstack_charm_testing import adversarial as adv
    TALLY = adv.tally("my-charm")

    @given(value=adv.relation_value())
    def test_x(value):
        with TALLY.case() as case:
            out = run_hook(value)
            case.file("/etc/x.conf", lambda: adv.parse_oslo_ini(text))
            case.no_leak(["the-secret"], [str(out.unit_status), *logs])
            case.replay_is_noop(commands_written_on_second_run == [])
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import tempfile
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping

from hypothesis import strategies as st

# -- generators ----------------------------------------------------------------------------

#: Every C0 control character, DEL and the C1 controls, plus the characters Python's
#: ``str.splitlines`` (and some parsers) treat as line breaks.
CONTROL_CHARS = "".join(chr(c) for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))) + (
    "\u2028\u2029"
)
#: Characters with a meaning in INI, YAML, crm and shell syntax.
META_CHARS = "[]=:#;\"'{}&*!|>%@`$\\ "
#: Characters outside ASCII for which ``str.isdigit()`` is True but ``int()`` fails (or that
#: ``int()`` accepts although they are not ASCII digits).
UNICODE_DIGITS = "²³¹⁰⁴⁵①②٣६߁𝟘𝟙" + "\u0663\u0967\uff11"


def hostile_text(*, max_size: int = 40) -> st.SearchStrategy[str]:
    """Text made to break files: control characters, line breaks, metacharacters, any Unicode.

    Surrogates are left out (Juju cannot carry them); everything else is fair game.
    """
    nasty = st.sampled_from(CONTROL_CHARS + META_CHARS + UNICODE_DIGITS)
    anything = st.characters(blacklist_categories=("Cs",))
    piece = st.one_of(
        st.text(st.one_of(nasty, anything), max_size=max_size),
        # a plausible value with something injected after it
        injected("x", "10.0.0.1", "secret", "host.maas", "5000"),
    )
    return piece


LINE_BREAKS = ("\n", "\r", "\r\n", "\x0b", "\x0c", "\x85", "\u2028", "\x00", "\x1c")
INJECTIONS = ("debug = true", "[DEFAULT]", "key: v", "  continued", "#", "[api]\npassword = x")


def injected(*plausible: str) -> st.SearchStrategy[str]:
    """A well-formed value (one of ``plausible``) followed by a line break and an injection.

    The line breaks are every character some parser (oslo.config reads universal newlines,
    Python's ``splitlines`` more) may take as the end of a line.
    """
    return st.builds(
        lambda head, sep, tail: head + sep + tail,
        st.sampled_from(plausible or ("x",)),
        st.sampled_from(LINE_BREAKS),
        st.sampled_from(INJECTIONS),
    )


def huge_text(*, min_size: int = 4096, max_size: int = 70000) -> st.SearchStrategy[str]:
    """A very long value (size limits, file and status length)."""
    return st.builds(lambda n, c: c * n, st.integers(min_size, max_size), st.sampled_from("ax9."))


def unicode_digits(*, max_size: int = 6) -> st.SearchStrategy[str]:
    """Strings of non-ASCII digits (``"²"``, ``"٣"``): ``isdigit()`` is True, they are no port."""
    return st.text(st.sampled_from(UNICODE_DIGITS), min_size=1, max_size=max_size)


def non_utf8_bytes(*, max_size: int = 64) -> st.SearchStrategy[bytes]:
    """Bytes that ``bytes.decode()`` (UTF-8, strict) refuses, possibly around valid text."""
    invalid = st.sampled_from([b"\xff", b"\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\x80", b"\xf8"])
    return st.builds(
        lambda head, bad, tail: head + bad + tail,
        st.binary(max_size=max_size),
        invalid,
        st.binary(max_size=max_size),
    ).filter(_not_utf8)


def _not_utf8(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return True
    return False


def json_shapes() -> st.SearchStrategy[str]:
    """Strings that are not JSON, or JSON of every shape (where a string or bool is expected)."""
    leaf = st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8)
    )
    value = st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
        ),
        max_leaves=6,
    )
    not_json = st.sampled_from(["", "{", "[1,", "'x'", "None", "True", "nan", '"unterminated'])
    return st.one_of(value.map(json.dumps), not_json)


def wrong_types() -> st.SearchStrategy[object]:
    """Values of a type an option or field should never have."""
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=True),
        st.lists(st.integers(), max_size=2),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    )


def relation_value(*plausible: str) -> st.SearchStrategy[str]:
    """Anything a remote unit can put in one relation field (always a ``str``, as Juju gives).

    ``plausible`` values (the field's well-formed answers) are mixed in, so that cases
    reach past the first validation step.
    """
    options = [hostile_text(), unicode_digits(), json_shapes(), huge_text(max_size=9000)]
    if plausible:
        options[:0] = [st.sampled_from(plausible), injected(*plausible)]
    return st.one_of(options)


# -- checks --------------------------------------------------------------------------------


class InvalidFileError(AssertionError):
    """A rendered file its consumer would refuse or read differently from what was meant."""


def parse_oslo_ini(text: str) -> dict[str, dict[str, list[str]]]:
    """Parse ``text`` as an oslo.config file: ``{section: {key: [value, ...]}}``.

    Uses ``oslo_config.cfg.ConfigParser`` on a real file (so line endings are read as the
    services read them: universal newlines) when oslo.config is importable; otherwise a
    fallback following the same rules (``oslo_config.iniparser``'s). Raises
    :class:`InvalidFileError` on anything the parser refuses.
    """
    try:
        from oslo_config import cfg  # pyright: ignore[reportMissingImports]
    except ImportError:  # pragma: no cover - depends on the test environment
        return _parse_ini_fallback(text)
    sections: dict[str, dict[str, list[str]]] = {}
    fd, name = tempfile.mkstemp(suffix=".conf")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        try:
            cfg.ConfigParser(name, sections).parse()
        except (cfg.ParseError, UnicodeDecodeError) as exc:
            raise InvalidFileError(f"oslo.config refuses the file: {exc}") from None
    finally:
        os.unlink(name)
    return sections


def _parse_ini_fallback(text: str) -> dict[str, dict[str, list[str]]]:
    sections: dict[str, dict[str, list[str]]] = {}
    section: str | None = None
    key: str | None = None
    value: list[str] = []

    def flush() -> None:
        if key is not None:
            if section is None:
                raise InvalidFileError("assignment before any section")
            sections[section].setdefault(key, []).append("\n".join(value))

    # universal newlines, as open() in text mode reads them
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw.rstrip()
        if not line:
            flush()
            key, value = None, []
            continue
        if line.startswith((" ", "\t")):
            if key is None:
                raise InvalidFileError(f"unexpected continuation line {line!r}")
            value.append(line.lstrip())
            continue
        flush()
        key, value = None, []
        if line.startswith("["):
            section = _section_name(line)
            sections.setdefault(section, {})
        elif not line.startswith(("#", ";")):
            key, val = _assignment(line)
            value = [val]
    flush()
    return sections


def _section_name(line: str) -> str:
    if not line.endswith("]") or len(line) <= 2:
        raise InvalidFileError(f"invalid section line {line!r}")
    return line[1:-1]


def _assignment(line: str) -> tuple[str, str]:
    """The key and value of an INI assignment line, as oslo.config splits them."""
    colon, equal = line.find(":"), line.find("=")
    if colon < 0 and equal < 0:
        raise InvalidFileError(f"no ':' or '=' in {line!r}")
    cut = equal if colon < 0 or (0 <= equal < colon) else colon
    key, val = line[:cut].strip(), line[cut + 1 :].strip()
    if not key:
        raise InvalidFileError(f"empty key in {line!r}")
    if val and val[0] == val[-1] and val.startswith(("'", '"')):
        val = val[1:-1]
    return key, val


def as_oslo_reads(value: str) -> str:
    """What oslo.config's parser makes of a written value.

    Blanks are stripped and one pair of matching quotes dropped; ``$`` substitution
    happens later, when an option is read, so it is left as written.
    """
    value = value.strip()
    if len(value) > 1 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def assert_ini_matches(
    parsed: Mapping[str, Mapping[str, list[str]]], meant: Mapping[str, Mapping[str, str]]
) -> None:
    """Every section, key and value in ``meant`` is read back once and exactly; nothing else.

    ``meant`` is what the charm intended to write (its sections before rendering). An
    injected line shows up as an extra key or section, a repeated key or a changed value.
    """
    wanted = {s: dict(o) for s, o in meant.items() if o}
    got_sections = {s for s, o in parsed.items() if o}
    if got_sections != set(wanted):
        raise InvalidFileError(f"sections read {sorted(got_sections)}, meant {sorted(wanted)}")
    for section, options in wanted.items():
        got = parsed[section]
        if set(got) != set(options):
            raise InvalidFileError(f"[{section}] keys read {sorted(got)}, meant {sorted(options)}")
        for key, value in options.items():
            if got[key] != [as_oslo_reads(str(value))]:
                raise InvalidFileError(f"[{section}] {key} read as {got[key]!r}, meant {value!r}")


def leaked(secrets: Iterable[str], texts: Iterable[str], *, min_length: int = 4) -> list[str]:
    """The ``secrets`` (at least ``min_length`` long, to avoid chance hits) found in ``texts``."""
    haystack = "\n".join(texts)
    return sorted({s for s in secrets if len(s) >= min_length and s in haystack})


def snapshot(root: str | os.PathLike[str]) -> dict[str, tuple[bytes, int]]:
    """Content and mode of every file under ``root`` (a FakeHost's root), by relative path."""
    result: dict[str, tuple[bytes, int]] = {}
    for directory, _dirs, names in os.walk(root):
        for name in names:
            full = os.path.join(directory, name)
            with open(full, "rb") as handle:
                result[os.path.relpath(full, root)] = (handle.read(), os.stat(full).st_mode)
    return result


def differences(
    before: Mapping[str, tuple[bytes, int]], after: Mapping[str, tuple[bytes, int]]
) -> list[str]:
    """What changed between two :func:`snapshot` results ("wrote x", "removed y")."""
    wrote = [f"wrote {p}" for p in sorted(after) if before.get(p) != after[p]]
    return wrote + [f"removed {p}" for p in sorted(set(before) - set(after))]


RESTARTING_VERBS = ("restart", "reload-or-restart", "start", "stop", "enable", "disable", "mask")


def service_changes(commands: Iterable[list[str]]) -> list[str]:
    """The systemctl commands among ``commands`` (FakeHost's record) that act on a service."""
    return [
        " ".join(c)
        for c in commands
        if c[:1] == ["systemctl"] and c[1:2] and c[1] in RESTARTING_VERBS
    ]


def fast_scenario(monkeypatch) -> None:
    """Let ops.testing read and write charm metadata with libyaml (runs several times faster).

    On every run ops.testing dumps the charm's metadata to a temporary charm root and ops
    parses it back, both with pure-Python YAML, which dominates a run's time. Only the
    ``yaml`` of those two modules is replaced; the charm under test keeps the real one.
    A no-op without libyaml.
    """
    import types

    import yaml
    from ops import charm as ops_charm
    from scenario import _runtime

    if not getattr(yaml, "__with_libyaml__", False):  # pragma: no cover
        return
    proxy = types.SimpleNamespace(**{k: getattr(yaml, k) for k in dir(yaml) if k[:2] != "__"})

    def safe_dump(data, stream=None, **kwargs):
        return yaml.dump(data, stream, Dumper=yaml.CSafeDumper, **kwargs)

    def safe_load(stream):
        return yaml.load(stream, Loader=yaml.CSafeLoader)

    proxy.safe_dump, proxy.safe_load = safe_dump, safe_load
    monkeypatch.setattr(_runtime, "yaml", proxy)
    monkeypatch.setattr(ops_charm, "yaml", proxy)


_CONTEXTS: dict[type, object] = {}


def shared_context(charm_type: type):  # noqa: ANN201 - an ops.testing.Context
    """One ops.testing Context per charm, shared by every case, its log cleared.

    Reading charmcraft.yaml is the slowest part of a run; once per charm is enough.
    """
    from ops import testing

    ctx = _CONTEXTS.get(charm_type)
    if ctx is None:
        ctx = _CONTEXTS[charm_type] = testing.Context(charm_type)
    ctx.juju_log.clear()  # type: ignore[attr-defined]
    return ctx


def run_action(ctx, action: str, state):  # noqa: ANN001, ANN201 - ops.testing objects
    """Run ``action`` on ``state``: the state after it and every text it showed.

    The texts are the failure message or the results, the status and the charm's log:
    what an operator sees, for :meth:`Case.no_leak`.
    """
    from ops import testing

    try:
        after = ctx.run(ctx.on.action(action), state)
    except testing.ActionFailed as exc:
        # ops.testing's state-transition runs always attach the state (typed optional).
        after = typing.cast("testing.State", exc.state)
        said = [exc.message, str(after.unit_status)]
    else:
        said = [str(after.unit_status), repr(ctx.action_results)]
    return after, said + [line.message for line in ctx.juju_log]


# -- the budget ---------------------------------------------------------------------------

#: Environment variable scaling every suite's case count (tools/run_unit_tests.py runs the
#: full count on the first interpreter and a sample on the others).
SCALE_VARIABLE = "ADVERSARIAL_SCALE"


def budget(cases: int) -> int:
    """``cases`` scaled by ``$ADVERSARIAL_SCALE`` (default 1), at least 20."""
    try:
        scale = float(os.environ.get(SCALE_VARIABLE, "1"))
    except ValueError:
        scale = 1.0
    return max(20, round(cases * scale))


# -- the tally ----------------------------------------------------------------------------


@dataclasses.dataclass
class Tally:
    """Figures of one charm's adversarial suite."""

    name: str
    cases: int = 0
    exceptions: int = 0
    invalid_files: int = 0
    leaks: int = 0
    replay_changes: int = 0
    files_checked: int = 0

    @contextlib.contextmanager
    def case(self) -> Iterator[Case]:
        """Count one case; an exception escaping it is counted and re-raised."""
        self.cases += 1
        current = Case(self)
        try:
            yield current
        except (InvalidFileError, LeakError, ReplayError):
            raise
        except BaseException:
            self.exceptions += 1
            raise

    def line(self) -> str:
        """The summary line the unit run prints."""
        return (
            f"adversarial {self.name}: {self.cases} cases, {self.exceptions} exceptions, "
            f"{self.invalid_files} invalid files ({self.files_checked} checked), "
            f"{self.leaks} leaks, {self.replay_changes} replays that changed something"
        )


class LeakError(AssertionError):
    """A secret reached a log, a status or action output."""


class ReplayError(AssertionError):
    """Running the same event again wrote a file or restarted a service."""


class Case:
    """The checks of one case; each failed check is counted and raised."""

    def __init__(self, owner: Tally):
        self._tally = owner

    def file(self, path: str, check: Callable[[], object]) -> None:
        """Run ``check`` (a parser of the file at ``path``); an error in it is an invalid file."""
        self._tally.files_checked += 1
        try:
            check()
        except Exception as exc:
            self._tally.invalid_files += 1
            raise InvalidFileError(f"{path}: {exc}") from exc

    def no_leak(self, secrets: Iterable[str], texts: Iterable[str]) -> None:
        """Fail when one of ``secrets`` appears in ``texts``."""
        found = leaked(secrets, texts)
        if found:
            self._tally.leaks += 1
            raise LeakError(f"{len(found)} secret(s) leaked")

    def replay_is_noop(self, changes: Iterable[object]) -> None:
        """Fail when the replay of an event did anything (``changes`` lists what it did)."""
        done = list(changes)
        if done:
            self._tally.replay_changes += 1
            raise ReplayError(f"replaying the event did {done!r}")


_TALLIES: dict[str, Tally] = {}


def tally(name: str) -> Tally:
    """The tally of ``name`` (a charm), created on first use and kept for the session."""
    return _TALLIES.setdefault(name, Tally(name))


def summary_lines() -> list[str]:
    """One line per charm that ran adversarial cases, in the order they started."""
    return [t.line() for t in _TALLIES.values() if t.cases]


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001
    """Print the tallies at the end of a pytest run (import this name into a conftest)."""
    lines = summary_lines()
    if lines:
        terminalreporter.section("adversarial property suite")
        for line in lines:
            terminalreporter.write_line(line)
