"""The decision engine: a valid document compiled for durable_rules and evaluated.

- :mod:`~rules.core.engine.compile`: the document as durable_rules programs, each engine
  defect neutralised (names, values, three-valued logic, the alpha-walk stack);
- :mod:`~rules.core.engine.equality_index`: the equality index in front of the Rete network,
  routing a fact to the engine rulesets that can match it;
- :mod:`~rules.core.engine.runtime`: compiled rulesets on the C engine's sessions, and the
  :class:`Engine` that keeps them by document hash;
- :mod:`~rules.core.engine.hit_policies`: from the matched rules to a :class:`Result` (DMN hit
  policies, defaults, exceptions).

Part of the pure core: imports only :mod:`rules.core`, :mod:`rules.errors` and durable_rules.
"""

from __future__ import annotations

from rules.core.engine.hit_policies import Result, Table
from rules.core.engine.runtime import (
    CompiledRuleset,
    Engine,
    compile_document,
    default_engine,
    evaluate,
)

__all__ = [
    "CompiledRuleset",
    "Engine",
    "Result",
    "Table",
    "compile_document",
    "default_engine",
    "evaluate",
]
