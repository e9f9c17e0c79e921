"""Recorded decisions, resolutions and replay (DESIGN §3).

- :mod:`~rules.store.decisions.service`: :class:`DecisionService`, the one decide-and-record
  path (HTTP single and batch, ``rulebook decide``, history import);
- :mod:`~rules.store.decisions.target`: which version decides;
- :mod:`~rules.store.decisions.requests`: request ids (idempotency) and batch items;
- :mod:`~rules.store.decisions.writers`: a decision's column values and the statement that
  writes one; :mod:`~rules.store.decisions.bulk`: writing and looking up many;
- :mod:`~rules.store.decisions.resolutions`: the outcome a person chose; what an override is;
- :mod:`~rules.store.decisions.read`: reading decisions back;
  :mod:`~rules.store.decisions.replay`: re-evaluating them under their version;
- :mod:`~rules.store.decisions.search`, :mod:`~rules.store.decisions.counts`: the review
  app's decision search and per-ruleset counts;
- :mod:`~rules.store.decisions.records`: the frozen records all of them return.
"""

from __future__ import annotations

from rules.store.decisions.read import (
    facts_of,
    get_decision,
    iter_decisions,
    latest_resolutions,
    resolutions_of,
)
from rules.store.decisions.records import DecisionRecord, Replay, ResolutionRecord
from rules.store.decisions.replay import replay, replay_all
from rules.store.decisions.requests import MAX_BATCH, MAX_REQUEST_ID
from rules.store.decisions.resolutions import check_outputs, is_override, resolve
from rules.store.decisions.service import Decided, DecisionService
from rules.store.decisions.target import Target

__all__ = [
    "MAX_BATCH",
    "MAX_REQUEST_ID",
    "Decided",
    "DecisionRecord",
    "DecisionService",
    "Replay",
    "ResolutionRecord",
    "Target",
    "check_outputs",
    "facts_of",
    "get_decision",
    "is_override",
    "iter_decisions",
    "latest_resolutions",
    "replay",
    "replay_all",
    "resolutions_of",
    "resolve",
]
