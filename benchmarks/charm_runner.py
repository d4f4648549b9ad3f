"""Run a charm tree's ``dispatch`` for one hook against a fake agent; time and count it.

Shared by the hook-cost and scale benchmarks: :func:`prepare_trees` builds, outside the
sandbox (pip needs the network), the measured charm's tree and its baseline (the same
tree with :mod:`minimal_charm` as ``src/charm.py``); :class:`Unit` pairs a tree with a
:class:`fake_juju.FakeAgent` and runs hooks.
"""

from __future__ import annotations

import copy
import dataclasses
import shutil
import subprocess
import sys
import time
from pathlib import Path

from fake_juju import Counts, FakeAgent, UnitModel, python_dir

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TREES = ROOT / "build" / "bench-trees"
sys.path.insert(0, str(ROOT / "tools"))

import build_charm_tree  # noqa: E402


def prepare_trees(charms: list[str]) -> None:
    """``<charm>`` and ``<charm>-baseline`` trees under build/bench-trees."""
    for charm in charms:
        tree = build_charm_tree.build(ROOT / "charms" / charm, TREES / charm)
        baseline = TREES / f"{charm}-baseline"
        if baseline.exists():
            shutil.rmtree(baseline)
        shutil.copytree(tree, baseline, symlinks=True)
        shutil.copy(HERE / "minimal_charm" / "charm.py", baseline / "src" / "charm.py")
        (baseline / "src" / "charm.py").chmod(0o755)


@dataclasses.dataclass
class HookRun:
    """One dispatch: wall time and what it asked of Juju and the machine."""

    seconds: float
    counts: Counts


class Unit:
    """A charm tree run as one unit, with its own agent and copy of the model."""

    def __init__(self, tree: Path, model: UnitModel, workdir: Path):
        self.tree = tree
        self.agent = FakeAgent(copy.deepcopy(model), workdir)
        self.agent.start()
        self.python = python_dir()

    def run(self, hook: str, relation: str = "", remote_unit: str = "") -> HookRun:
        """Dispatch ``hook``; raises when it fails or asks what the model cannot answer."""
        env = self.agent.env(hook, self.python, remote_unit=remote_unit, relation=relation)
        env["JUJU_CHARM_DIR"] = str(self.tree)
        self.agent.take_counts()
        started = time.perf_counter()
        proc = subprocess.run(
            ["./dispatch"], cwd=self.tree, env=env, capture_output=True, text=True
        )
        seconds = time.perf_counter() - started
        counts = self.agent.take_counts()
        if proc.returncode != 0:
            raise RuntimeError(
                f"{self.tree.name} {hook} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
            )
        if counts.unexpected:
            raise RuntimeError(f"{self.tree.name} {hook}: unexpected calls {counts.unexpected}")
        return HookRun(seconds, counts)

    def stop(self) -> None:
        """Stop the agent."""
        self.agent.stop()
