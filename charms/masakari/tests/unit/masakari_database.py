"""masakari's database as the unit's commands see it, modelled on a FakeHost.

``masakari-manage db sync`` migrates the schema to the release of the masakari packages
installed at that moment; the charm's segment backfill (``python3 -c``) fails on a
schema without the notifications' segment column and fills it on one that has it; every
start of masakari-engine is recorded with the code it runs and the schema it meets. A
test then asserts what must hold however the charm ordered its commands: the engine
never ran code newer than its schema, nor flamingo's code on unfilled notifications.
"""

from __future__ import annotations

import dataclasses

import masakari_workload as wl
from openstack_charm_lib.releases import release_index
from openstack_charm_testing import FakeHost

ENGINE = "masakari-engine"


@dataclasses.dataclass(frozen=True)
class EngineStart:
    """One start of masakari-engine: the release of its code and what its database held."""

    code: str | None
    schema: str | None
    backfilled: bool

    @property
    def problem(self) -> str | None:
        """Why this engine could not run on that database, or None."""
        if self.code is None:
            return "the engine started with no masakari installed"
        if self.schema is None or release_index(self.schema) < release_index(self.code):
            return f"{self.code} code started on a schema migrated to {self.schema}"
        if wl.needs_segment_backfill(self.code) and not self.backfilled:
            return f"{self.code} code started before older notifications got their segment"
        return None


@dataclasses.dataclass
class MasakariDatabase:
    """The schema's release, whether the backfill ran on it, and each engine start."""

    host: FakeHost
    schema: str | None = None  # the release the last db sync migrated to; None: empty
    backfilled: bool = False
    engine_starts: list[EngineStart] = dataclasses.field(default_factory=list)

    def __post_init__(self):
        self.host.programs["masakari-manage"] = self._manage
        self.host.programs["python3"] = self._python
        self.host.start_watchers.append(self._started)
        # As the package's postinst does: an upgraded engine restarts unless masked.
        self.host.maintainer_starts.setdefault(ENGINE, [ENGINE])

    def problems(self) -> list[str]:
        """What was wrong with the database at each engine start, in order."""
        return [start.problem for start in self.engine_starts if start.problem]

    def _code(self) -> str | None:
        return wl.release_of(self.host.installed)

    def _manage(self, argv: list[str]) -> tuple[int, str]:
        if argv[-2:] == ["db", "sync"]:
            code = self._code()
            if not wl.needs_segment_backfill(self.schema):
                self.backfilled = False  # the column comes in empty
            self.schema = code
        return 0, ""

    def _python(self, argv: list[str]) -> tuple[int, str]:
        if argv != wl.segment_backfill_command():
            return 0, ""
        if not wl.needs_segment_backfill(self.schema):
            return 1, ""  # no such column: the UPDATE fails
        self.backfilled = True
        return 0, "3\n"

    def _started(self, service: str) -> None:
        if service == ENGINE:
            self.engine_starts.append(EngineStart(self._code(), self.schema, self.backfilled))
