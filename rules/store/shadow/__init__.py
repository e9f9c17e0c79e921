"""Shadow runs (DESIGN §5): an accepted version or a proposal's candidate evaluated beside the
active version on every live decision, its results stored linked to the decisions and never
returned to a caller.

- :mod:`~rules.store.shadow.runs`: starting and stopping a run (audit events
  ``shadow.started``, ``shadow.stopped``), at most one running per ruleset;
- :mod:`~rules.store.shadow.runner`: :class:`ShadowRunner`, which the decision service hands
  each new live decision once it is committed; it evaluates off the request thread;
- :mod:`~rules.store.shadow.report`: what a run saw: decisions seen, differences, the
  transition matrix, agreement with the resolutions recorded since it started.
"""

from __future__ import annotations

from rules.store.shadow.report import ShadowReport, shadow_report
from rules.store.shadow.runner import ShadowRunner
from rules.store.shadow.runs import (
    ShadowInfo,
    find_shadow,
    running_shadow,
    start_shadow,
    stop_shadow,
)

__all__ = [
    "ShadowInfo",
    "ShadowReport",
    "ShadowRunner",
    "find_shadow",
    "running_shadow",
    "shadow_report",
    "start_shadow",
    "stop_shadow",
]
