"""A fake of :class:`masakari_machine.Machine`, for the masakari charm's behaviour tests.

The charm reads the relations and decides; the machine acts. This fake records what
each step was given (the relations' answers, TLS, leadership, pause) and reports the
problems, schema state, restarts and serving answer a test sets, the way the real
machine reports them: into the pass's :class:`masakari_status.Outcome`. What the steps
do on a machine (files, db sync, services, Apache sites) is tested with the real
Machine on a FakeHost (``test_lifecycle.py``, ``test_config_files.py`` and the rest).
"""

from __future__ import annotations

import ops
from masakari_machine import PassRead
from masakari_status import Outcome


class FakeMachine:
    """The masakari workload as the charm sees it, with the answers a test sets."""

    def __init__(self):
        self.answered: list[PassRead] = []  # what each apply_answers was given
        self.policy_enabled: bool | None = None  # what apply_policy_overrides was asked
        self.sites_tls: bool | None = None  # converge_sites' tls_on, as last asked
        self.engine_running = False
        self.serving_asked: list[tuple[bool, bool]] = []  # (restarted, tls_on) per question
        # What apply_answers reports, as the real machine would.
        self.synced = True  # the schema matches the release
        self.blocked: list[str] = []
        self.waiting: list[str] = []
        self.restarts: list[str] = []
        self.serve_problem: str | None = None  # what serving_problem() answers
        self.calls: list[str] = []  # the steps asked for, in order

    def apply_policy_overrides(
        self, model: ops.Model, enabled: bool, app: str, outcome: Outcome
    ) -> None:
        self.calls.append("apply_policy_overrides")
        self.policy_enabled = enabled

    def apply_answers(self, read: PassRead, outcome: Outcome) -> None:
        self.calls.append("apply_answers")
        self.answered.append(read)
        outcome.blocked += self.blocked
        outcome.waiting += self.waiting
        outcome.synced = self.synced
        outcome.to_restart = list(self.restarts)
        self.engine_running = self.synced and not read.paused

    def stop_engine(self) -> None:
        self.calls.append("stop_engine")
        self.engine_running = False

    def converge_sites(self, tls_on: bool, outcome: Outcome, paused: bool) -> None:
        self.calls.append("converge_sites")
        self.sites_tls = tls_on

    def serving_problem(self, restarted: bool, tls_on: bool) -> str | None:
        self.calls.append("serving_problem")
        self.serving_asked.append((restarted, tls_on))
        return self.serve_problem
