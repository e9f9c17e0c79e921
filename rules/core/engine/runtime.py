"""The decision engine: compiled documents evaluated through durable_rules' C core.

Each compiled version owns one engine ruleset with one long-lived session. Evaluating asserts
the encoded fact, drains the actions (one per matching engine rule), and retracts the fact, all
under a per-version lock, so nothing survives from one decision to the next and concurrent
threads never interleave on a session. The Python ``durable.engine.Host`` is never used (its
timer threads crash the process), nor ``delete_state`` (it crashes on sessions whose last
message matched nothing). An :class:`Engine` keeps a bounded LRU of compiled versions keyed
by document hash; evicted versions are deleted from the C engine and compiled again on
demand, so any number of versions can be served with bounded memory.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import durable_rules_engine as _dr

from rules.core.document import Document, Scalar
from rules.core.engine.compile import CLOSE_FACT, MARKER, Program, compile_program
from rules.core.engine.hit_policies import Result, Table, decide
from rules.core.facts import FactsValidator
from rules.errors import EngineError

__all__ = ["CompiledRuleset", "Engine", "compile_document", "default_engine", "evaluate"]

_names = itertools.count(1)
_FACT_HEAD = f'{{"{MARKER}":1,'
_FACT_TAIL = '"id":"f","sid":"0"}'


class _Closed(Exception):
    """The compiled ruleset was evicted while a caller held it; fetch it again."""


class CompiledRuleset:
    """One document compiled into the C engine, ready to evaluate validated facts."""

    def __init__(self, doc: Document, program: Program | None = None) -> None:
        self.doc = doc
        self.program = program or compile_program(doc)
        self.table = Table.of(doc)
        self.validate = FactsValidator(doc)
        self._lock = threading.Lock()
        self._handles: list[int] | None = None
        self._rule_names = [
            {f"r{k}": i for k, i in enumerate(shard.rule_of)} for shard in self.program.shards
        ]
        self._fields = [(c.input, f'"{c.field}":', c.write) for c in self.program.codecs]
        self._open()

    def _open(self) -> None:
        handles: list[int] = []
        try:
            for shard in self.program.shards:
                handles.append(_dr.create_ruleset(f"rb{next(_names)}", shard.ruleset_json))
        except _dr.error as exc:
            for handle in handles:
                _dr.delete_ruleset(handle)
            raise EngineError(f"the engine rejected the compiled ruleset: {exc}") from exc
        self._handles = handles

    def _delete(self) -> None:
        handles, self._handles = self._handles or [], None
        for handle in handles:
            try:
                # Fire the close rule, then free the session: delete_ruleset alone leaks it.
                _, state = _dr.assert_fact(handle, CLOSE_FACT)
                action = _dr.start_action_for_state(handle, state)
                while action is not None:
                    action = _dr.complete_and_start_action(handle, state)
                _dr.delete_state(handle, "0")
            except _dr.error:
                pass  # a broken session is dropped with its ruleset below
            _dr.delete_ruleset(handle)

    def close(self) -> None:
        """Delete the engine rulesets; later evaluations raise until reopened by the Engine."""
        with self._lock:
            self._delete()

    @property
    def closed(self) -> bool:
        return self._handles is None

    def _fact(self, facts: Mapping[str, Scalar | None]) -> str:
        parts = [_FACT_HEAD]
        for name, key, write in self._fields:
            value = facts.get(name)
            if value is not None:
                parts.append(f"{key}{write(value)},")
        parts.append(_FACT_TAIL)
        return "".join(parts)

    def match(self, facts: Mapping[str, Scalar | None]) -> list[int]:
        """Indices of the document rules whose conditions are true for validated facts."""
        fact = self._fact(facts)
        found: set[int] = set()
        with self._lock:
            handles = self._handles
            if handles is None:
                raise _Closed
            for shard in self.program.shards_for(facts):
                rule_names = self._rule_names[shard]
                found.update(rule_names[n] for n in self._run(handles[shard], fact))
        return sorted(found)

    def _run(self, handle: int, fact: str) -> list[str]:
        names: list[str] = []
        try:
            code, state = _dr.assert_fact(handle, fact)
            if code == 0:
                action = _dr.start_action_for_state(handle, state)
                if action is not None:
                    messages = action[1]
                    while messages is not None:
                        names.append(messages[2 : messages.index('"', 2)])
                        messages = _dr.complete_and_start_action(handle, state)
            elif code != 1:
                raise EngineError(f"the engine answered {code} to a new fact")
            _dr.retract_fact(handle, fact)
        except (_dr.error, MemoryError, ValueError) as exc:
            self._recover()
            raise EngineError(f"the engine failed to evaluate facts: {exc}") from exc
        except EngineError:
            self._recover()
            raise
        return names

    def _recover(self) -> None:
        """After a failure a session may hold the fact: rebuild every engine ruleset."""
        try:
            self._delete()
        finally:
            self._open()

    def evaluate(self, facts: Mapping[str, Scalar | None]) -> Result:
        """The decision for facts already validated by :func:`rules.core.facts.validate_facts`."""
        return decide(self.table, self.match(facts))

    def decide(self, facts: object) -> Result:
        """Validate raw facts (FactsError naming each bad field) and decide them."""
        return decide(self.table, self.match(self.validate(facts)))


class Engine:
    """A bounded cache of compiled versions, safe to share between threads."""

    def __init__(self, capacity: int = 32) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._lock = threading.Lock()
        self._compiled: OrderedDict[str, CompiledRuleset] = OrderedDict()
        self.compilations = 0

    def compiled(self, doc: Document) -> CompiledRuleset:
        key = doc.hash
        with self._lock:
            found = self._compiled.get(key)
            if found is not None and not found.closed:
                self._compiled.move_to_end(key)
                return found
        fresh = CompiledRuleset(doc)
        evicted: list[CompiledRuleset] = []
        with self._lock:
            self.compilations += 1
            self._compiled[key] = fresh
            self._compiled.move_to_end(key)
            while len(self._compiled) > self.capacity:
                evicted.append(self._compiled.popitem(last=False)[1])
        for old in evicted:
            old.close()
        return fresh

    def evaluate(self, doc: Document, facts: Mapping[str, Any]) -> Result:
        """Validate ``facts`` against ``doc`` (FactsError on bad input) and decide."""
        return self.decide(doc, facts)[1]

    def decide(self, doc: Document, facts: object) -> tuple[dict[str, Scalar | None], Result]:
        """The validated facts (FactsError on bad input) and the decision for them."""
        for _ in range(3):
            compiled = self.compiled(doc)
            clean = compiled.validate(facts)
            try:
                return clean, compiled.evaluate(clean)
            except _Closed:
                continue
        raise EngineError("the compiled ruleset kept being evicted; raise the engine capacity")

    def loaded(self) -> int:
        with self._lock:
            return len(self._compiled)

    def clear(self) -> None:
        with self._lock:
            items = list(self._compiled.values())
            self._compiled.clear()
        for item in items:
            item.close()


default_engine = Engine()


def compile_document(doc: Document) -> CompiledRuleset:
    """Compile a document into the engine (CompileError if it is not valid)."""
    return CompiledRuleset(doc)


def evaluate(doc: Document, facts: Mapping[str, Any]) -> Result:
    """Validate facts and decide them with the shared default engine."""
    return default_engine.evaluate(doc, facts)
