"""What the audit events vouch for (DESIGN §3, §6): the rows each kind of event recorded.

:func:`rules.audit.verify` walks the chain and hands every event to :class:`Vouchers`:

- ``version.created``: the version exists, its document hashes to its hash, and that hash is
  the one recorded; every version has such an event;
- ``version.activated``: per ruleset, the ``activations`` rows in id order are the events in
  chain order (version, previous version, note, actor, and a ``version_id`` of that version),
  none missing, none extra; ``rulesets.active_number`` is the last activation's version;
- ``resolution.recorded``: a ``resolutions`` row with the decision, outputs, override, note
  and actor recorded; every row not imported is vouched for by exactly one such event;
- ``history.imported``: see :mod:`rules.audit.verify.imports`; every imported resolution belongs to
  one;
- ``proposal.*``: see :mod:`rules.audit.verify.proposals`; every proposal's reviewed content and
  approvals.

A problem found at an event carries its seq; a row that no event vouches for is named by its
table and id (and carries no seq). Activations and rulesets are few and read whole; resolutions
are streamed next to the chain, and only rows read ahead of their events are held.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.audit.chain import FORMAT
from rules.audit.verify.imports import Imports
from rules.audit.verify.proposals import Proposals, Runs
from rules.core.document import canonical_json
from rules.store.models import Activation, Resolution, Ruleset, Version

__all__ = ["Finding", "Vouchers"]


class Finding(NamedTuple):
    """What is wrong: at event ``seq``, or (``seq`` None) with a row no event vouches for."""

    seq: int | None
    reason: str


def _differences(names: tuple[str, ...], row: tuple[Any, ...], event: tuple[Any, ...]) -> str:
    return "; ".join(
        f"{name} is {json.dumps(r)}, the event says {json.dumps(e)}"
        for name, r, e in zip(names, row, event, strict=True)
        if r != e
    )


class _Versions:
    def __init__(self, session: Session) -> None:
        self.found: dict[tuple[str, int], str] = {}
        rows = session.execute(
            select(Ruleset.name, Version.number, Version.hash, Version.document).join(
                Ruleset, Ruleset.id == Version.ruleset_id
            )
        )
        for name, number, stored, document in rows:
            actual = hashlib.sha256(document.encode("utf-8")).hexdigest()
            self.found[(name, number)] = stored if actual == stored else "altered:" + actual
        self.seen: set[tuple[str, int]] = set()

    def event(self, payload: dict[str, Any]) -> str | None:
        key = (str(payload.get("ruleset")), int(payload.get("number", 0)))
        self.seen.add(key)
        stored = self.found.get(key)
        if stored is None:
            return f"version {key[1]} of {key[0]} was deleted"
        if stored.startswith("altered:"):
            return f"version {key[1]} of {key[0]}: its document no longer matches its hash"
        if stored != payload.get("hash"):
            return f"version {key[1]} of {key[0]}: its hash differs from the one recorded"
        return None

    def unvouched(self) -> Iterator[Finding]:
        for name, number in sorted(set(self.found) - self.seen):
            yield Finding(None, f"version {number} of {name} has no version.created event")


ACTIVATION_FIELDS = ("version", "previous", "note", "actor", "the version of version_id")


class _Activation(NamedTuple):
    ident: int  # the row's id, or the event's seq
    fields: tuple[Any, ...]  # as ACTIVATION_FIELDS


class _Activations:
    """Compared at the end: per ruleset, the rows in id order against the events in seq order."""

    def __init__(self, session: Session) -> None:
        self.rows: dict[str, list[_Activation]] = defaultdict(list)
        self.events: dict[str, list[_Activation]] = defaultdict(list)
        query = (
            select(
                Activation.id,
                Ruleset.name,
                Activation.number,
                Activation.previous_number,
                Activation.note,
                Activation.actor,
                # The number of the version that version_id names, if it is of this ruleset.
                Version.number,
            )
            .join(Ruleset, Ruleset.id == Activation.ruleset_id)
            .outerjoin(
                Version,
                (Version.id == Activation.version_id) & (Version.ruleset_id == Ruleset.id),
            )
            .order_by(Activation.id)
        )
        for ident, name, *fields in session.execute(query):
            self.rows[name].append(_Activation(ident, tuple(fields)))
        self.active = {
            name: (ident, number)
            for ident, name, number in session.execute(
                select(Ruleset.id, Ruleset.name, Ruleset.active_number)
            )
        }

    def event(self, seq: int, actor: str, payload: dict[str, Any]) -> None:
        number = payload.get("number")
        fields = (number, payload.get("previous"), payload.get("note"), actor, number)
        self.events[str(payload.get("ruleset"))].append(_Activation(seq, fields))

    def findings(self, complete: bool) -> Iterator[Finding]:
        """Every mismatch; with an incomplete walk (the chain broke), rows after the last
        event read are not missing their events, so only findings at an event are given."""
        for name in sorted({*self.rows, *self.events}):
            for found in _align(name, self.events[name], self.rows[name]):
                if complete or found.seq is not None:
                    yield found
        if complete:
            yield from self._active_numbers()

    def _active_numbers(self) -> Iterator[Finding]:
        for name, (ident, number) in sorted(self.active.items()):
            events = self.events[name]
            if not events and number is not None:
                yield Finding(
                    None,
                    f"rulesets row {ident} ({name}) has active_number {number} "
                    "but no version was ever activated",
                )
            elif events and events[-1].fields[0] != number:
                last = events[-1]
                yield Finding(
                    last.ident,
                    f"{name}'s active_number is {number}, but its last activation made version "
                    f"{last.fields[0]} active: rulesets.active_number was altered",
                )


def _align(name: str, events: list[_Activation], rows: list[_Activation]) -> Iterator[Finding]:
    same = 0
    while same < min(len(events), len(rows)) and events[same].fields == rows[same].fields:
        same += 1
    events, rows = events[same:], rows[same:]
    if not events and not rows:
        return
    matcher = difflib.SequenceMatcher(
        None, [e.fields for e in events], [r.fields for r in rows], autojunk=False
    )
    for _, e1, e2, r1, r2 in matcher.get_opcodes():
        for event, row in zip(events[e1:e2], rows[r1:r2], strict=False):
            if event.fields != row.fields:
                diff = _differences(ACTIVATION_FIELDS, row.fields, event.fields)
                yield Finding(event.ident, f"activations row {row.ident} of {name}: {diff}")
        paired = min(e2 - e1, r2 - r1)
        for event in events[e1 + paired : e2]:
            yield Finding(
                event.ident,
                f"the activations row of this activation (version {event.fields[0]} of {name}) "
                "was deleted",
            )
        for row in rows[r1 + paired : r2]:
            yield Finding(
                None,
                f"activations row {row.ident} (version {row.fields[0]} of {name}) has no "
                "version.activated event: it was not recorded by the service",
            )


RESOLUTION_FIELDS = ("outputs", "override", "note", "actor")


class _Resolutions:
    """Each event claims a row with its contents; rows are read (in id order) only as far as
    needed, so under concurrent writers, whose ids and seqs may interleave, few are held."""

    def __init__(self, session: Session, stack: ExitStack) -> None:
        query = (
            select(
                Resolution.id,
                Resolution.decision_id,
                Resolution.outputs,
                Resolution.override,
                Resolution.note,
                Resolution.actor,
            )
            .where(Resolution.source != "import")
            .order_by(Resolution.id)
            .execution_options(yield_per=1000)
        )
        self._rows = iter(stack.enter_context(session.execute(query)))
        self._pending: dict[tuple[Any, ...], deque[int]] = {}

    @staticmethod
    def _key(
        decision_id: Any, outputs: Any, override: Any, note: Any, actor: Any
    ) -> tuple[Any, ...]:
        return (decision_id, canonical_json(outputs), bool(override), note, actor)

    def _claim(self, key: tuple[Any, ...]) -> bool:
        while key not in self._pending:
            row = next(self._rows, None)
            if row is None:
                return False
            self._pending.setdefault(self._key(*row[1:]), deque()).append(row[0])
        ids = self._pending[key]
        ids.popleft()
        if not ids:
            del self._pending[key]
        return True

    def event(self, actor: str, payload: dict[str, Any]) -> str | None:
        decision_id = payload.get("decision_id")
        wanted = (payload.get("outputs"), bool(payload.get("override")), payload.get("note"), actor)
        if self._claim(self._key(decision_id, *wanted)):
            return None
        # Every row is read now: was one of this decision's altered, or is none left?
        altered = next((k for k in self._pending if k[0] == decision_id), None)
        if altered is None:
            return (
                f"no resolutions row of decision {decision_id} matches this event: it was "
                "deleted (or marked as imported)"
            )
        ident = self._pending[altered][0]
        self._claim(altered)
        stored = (json.loads(altered[1]), *altered[2:])
        diff = _differences(RESOLUTION_FIELDS, stored, wanted)
        return f"resolutions row {ident} of decision {decision_id}: {diff}"

    def unvouched(self) -> Iterator[Finding]:
        # Rows held were read before any row still unread, so the first unvouched is the
        # smallest held id, else the next row.
        held = [(ident, key[0]) for key, ids in self._pending.items() for ident in ids]
        row = min(held) if held else next(self._rows, None)
        if row is not None:
            yield Finding(
                None,
                f"resolutions row {row[0]} (decision {row[1]}) has no resolution.recorded "
                "event: it was not recorded by the service",
            )


class Vouchers:
    """Checks events against the rows they recorded; :meth:`first` gives the first finding."""

    def __init__(self, session: Session, stack: ExitStack) -> None:
        self.versions = _Versions(session)
        self.activations = _Activations(session)
        self.resolutions = _Resolutions(session, stack)
        self.imports = Imports(session)
        self.proposals = Proposals(session)
        self.runs = Runs(session)
        self._found: Finding | None = None

    def event(
        self, seq: int, actor: str, action: str, payload: dict[str, Any], fmt: int = FORMAT
    ) -> None:
        """Check one event of chain format ``fmt`` (which says how its digests were made)."""
        try:
            reason = self._check(seq, actor, action, payload, fmt)
        except (TypeError, ValueError, KeyError):
            reason = f"the payload is not what a {action} event records"
        if reason is not None and self._found is None:
            self._found = Finding(seq, reason)

    def _check(
        self, seq: int, actor: str, action: str, payload: dict[str, Any], fmt: int
    ) -> str | None:
        if action == "version.created":
            return self.versions.event(payload)
        if action == "version.activated":
            self.activations.event(seq, actor, payload)
        elif action == "resolution.recorded":
            return self.resolutions.event(actor, payload)
        elif action == "history.imported":
            return self.imports.event(payload, fmt)
        elif action.startswith("proposal."):
            return self.proposals.event(seq, actor, action, payload, fmt)
        elif action == "llm.run":
            return self.runs.event(seq, payload, fmt)
        return None

    def first(self, complete: bool) -> Finding | None:
        """The finding at the earliest event; else (when the walk reached the head) the first
        row that no event vouches for."""
        reviewed = (
            [Finding(seq, why) for seq, why in (*self.proposals.findings(), *self.runs.findings())]
            if complete
            else []
        )
        at_events: list[Finding] = [
            f for f in (self._found, *self.activations.findings(complete), *reviewed) if f
        ]
        with_seq = [f for f in at_events if f.seq is not None]
        if with_seq:
            return min(with_seq, key=lambda f: f.seq or 0)
        if not complete:
            return None
        rows = itertools.chain(
            at_events,
            self.versions.unvouched(),
            self.resolutions.unvouched(),
            (Finding(None, reason) for reason in self.imports.unvouched()),
        )
        return next(rows, None)
