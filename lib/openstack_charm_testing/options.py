"""Options loaded into a charm's config class the way ``CharmBase.load_config`` loads them.

Property tests feed thousands of option sets, some of types Juju never sends, straight to
a config class. They go through ops' own ``load_config`` (its dash-to-underscore
mapping and its choice of fields), without a charm run per example.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any, TypeVar

import ops

_Config = TypeVar("_Config")


def load_options(cls: type[_Config], options: Mapping[str, object], **kwargs: Any) -> _Config:
    """``cls`` made from ``options`` (Juju's option names) by ops' ``load_config``."""
    charm: Any = types.SimpleNamespace(config=dict(options), meta=types.SimpleNamespace(config={}))
    return ops.CharmBase.load_config(charm, cls, **kwargs)
