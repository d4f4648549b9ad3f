"""Helpers for the charms' tests at their workload seam (a fake of the machine module).

A fake stands in for the module that acts on the machine, so that a behaviour test
says what the charm decided; :func:`assert_same_steps` keeps each fake's steps those of
the class it replaces. :data:`APT_FAILURE` is apt failing as a fake's ``install`` raises
it, and :data:`APT_FAILURE_STATUS` the status every charm of the suite then shows.
"""

from __future__ import annotations

import inspect

import ops
from openstack_charm_lib.host import CommandError

APT_FAILURE = CommandError(["apt-get", "install", "-y"], 100, "E: no space left on device")
APT_FAILURE_STATUS = ops.BlockedStatus(
    "Package installation failed (apt-get exited 100); retrying"
)


def steps(cls: type) -> dict[str, inspect.Signature]:
    """The public methods ``cls`` defines, by name, with their signatures."""
    return {
        name: inspect.signature(member)
        for name, member in vars(cls).items()
        if callable(member) and not name.startswith("_")
    }


def assert_same_steps(fake: type, real: type) -> None:
    """``fake`` offers exactly the steps of ``real``, with the same signatures."""
    assert steps(fake) == steps(real), f"{fake.__name__} differs from {real.__name__}"
