"""What a ``history.imported`` audit event vouches for: the decisions and resolutions that one
import wrote, through a digest over them (DESIGN §4, §6).

An import writes thousands of rows and one event, so the event cannot list them. Instead the
importer records the runs of decision ids it wrote (``decision_ids: [[first, last], ...]``,
one run unless another writer took ids from the sequence meanwhile), how many resolutions it
wrote, and ``digest``: a SHA-256 over the decisions' ids and outputs, and their resolutions of
source ``import`` (decision id, outputs, override, note), in id order (:class:`ImportDigest`
says how). :func:`rules.audit.verify` reads those rows back and
recomputes it, so altering an imported decision's outputs or an imported resolution, deleting
one, or adding an imported resolution to an imported decision is detected; an imported
resolution on any other decision is vouched for by no event. (Facts are not in the digest.)

Columns are canonical JSON (RFC 8785, :func:`rules.core.document.canonical_json`) in
chain format 2; an event of format 1 was digested with format 1's number rules
(:mod:`rules.audit.legacy`), and is recomputed with them. Either way an integer and a float of
the same value (as a database's JSON round trip may leave a number) digest alike.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rules.audit.chain import FORMAT
from rules.audit.legacy import digest_json
from rules.core.document import canonical_json
from rules.store.models import Decision, Resolution, Ruleset

__all__ = ["ImportDigest", "Imports", "digest_of", "id_runs"]

COLUMNS = ("decision", "outputs", "resolution", "resolution_outputs", "override", "note")


def _array_items(values: list[Any], fmt: int) -> str:
    """The items of a JSON array of ``values`` (without ``[ ]``), canonical in format ``fmt``."""
    if fmt == 1:
        return digest_json(values)[1:-1]
    return canonical_json(values).decode("utf-8")[1:-1]


class _Column:
    """One column's SHA-256: of a JSON array of its values, encoded a chunk at a time."""

    CHUNK = 10_000

    def __init__(self, fmt: int) -> None:
        self.sha = hashlib.sha256(b"[")
        self.buffer: list[Any] = []
        self.empty = True
        self.format = fmt

    def extend(self, values: Iterable[Any]) -> None:
        self.buffer.extend(values)
        if len(self.buffer) >= self.CHUNK:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            text = _array_items(self.buffer, self.format)
            self.sha.update((text if self.empty else "," + text).encode("utf-8"))
            self.empty = False
            self.buffer = []

    def hexdigest(self) -> str:
        self.flush()
        done = self.sha.copy()
        done.update(b"]")
        return done.hexdigest()


class ImportDigest:
    """The digest of an import's decisions, fed in decision id order (and each decision's
    resolutions in id order): the SHA-256 of one line ``name:sha256`` per column of
    :data:`COLUMNS`, each column's the SHA-256 of the JSON array of its values. By columns,
    so that an importer feeds lists it already has, with no object made per row. ``fmt`` is
    the chain format of the event that records it."""

    def __init__(self, fmt: int = FORMAT) -> None:
        self.columns = {name: _Column(fmt) for name in COLUMNS}
        self.decisions = 0
        self.resolutions = 0

    def add(
        self, decision_id: int, outputs: Any, resolutions: Sequence[tuple[Any, bool, str | None]]
    ) -> None:
        """One decision and its imported resolutions' ``(outputs, override, note)``."""
        resolved = [
            {"decision_id": decision_id, "outputs": o, "override": override, "note": note}
            for o, override, note in resolutions
        ]
        self.extend([decision_id], [outputs], resolved)

    def extend(
        self, ids: Sequence[int], outputs: Iterable[Any], resolutions: Sequence[Mapping[str, Any]]
    ) -> None:
        """Decisions ``ids`` with their ``outputs``, then ``resolutions`` of them: mappings
        with the columns ``decision_id``, ``outputs``, ``override`` and ``note``."""
        c = self.columns
        c["decision"].extend(ids)
        c["outputs"].extend(outputs)
        c["resolution"].extend(r["decision_id"] for r in resolutions)
        c["resolution_outputs"].extend(r["outputs"] for r in resolutions)
        c["override"].extend(bool(r["override"]) for r in resolutions)
        c["note"].extend(r["note"] for r in resolutions)
        self.decisions += len(ids)
        self.resolutions += len(resolutions)

    def hexdigest(self) -> str:
        lines = "".join(f"{name}:{self.columns[name].hexdigest()}\n" for name in COLUMNS)
        return hashlib.sha256(lines.encode("ascii")).hexdigest()


def _ascending(values: Iterable[int]) -> bool:
    return all(a < b for a, b in itertools.pairwise(values))


def digest_of(
    ids: Sequence[int],
    decisions: Sequence[Mapping[str, Any]],
    resolutions: Sequence[Mapping[str, Any]],
) -> ImportDigest:
    """The digest of decisions ``ids``, written with the column values ``decisions`` (in
    the same order), and of their ``resolutions`` (column values, one per decision)."""
    if not _ascending(ids):  # never, as the importer writes today
        order = sorted(range(len(ids)), key=ids.__getitem__)
        ids, decisions = [ids[i] for i in order], [decisions[i] for i in order]
    if not _ascending(r["decision_id"] for r in resolutions):
        resolutions = sorted(resolutions, key=lambda r: int(r["decision_id"]))
    digest = ImportDigest()
    digest.extend(ids, (d["outputs"] for d in decisions), resolutions)
    return digest


def id_runs(ids: Sequence[int]) -> list[list[int]]:
    """Sorted ``ids`` as runs of consecutive ids: ``[[first, last], ...]``."""
    runs: list[list[int]] = []
    for i in ids:
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return runs


class Imports:
    """Checks each ``history.imported`` event's digest, and that no imported resolution is
    outside every import's decisions."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.runs: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self.counted = 0

    def _rows(self, name: str, first: int, last: int) -> Iterator[Any]:
        query = (
            select(
                Decision.id,
                Decision.outputs,
                Resolution.id,
                Resolution.outputs,
                Resolution.override,
                Resolution.note,
            )
            .join(Ruleset, Ruleset.id == Decision.ruleset_id)
            .outerjoin(
                Resolution,
                (Resolution.decision_id == Decision.id) & (Resolution.source == "import"),
            )
            .where(Ruleset.name == name, Decision.source == "import")
            .where(Decision.id.between(first, last))
            .order_by(Decision.id, Resolution.id)
            .execution_options(yield_per=1000)
        )
        with self.session.execute(query) as rows:
            yield from rows

    def _recompute(self, name: str, runs: list[tuple[int, int]], fmt: int) -> ImportDigest:
        digest = ImportDigest(fmt)
        for first, last in runs:
            current: tuple[int, Any] | None = None
            found: list[tuple[Any, bool, str | None]] = []
            for decision_id, outputs, res_id, res_outputs, override, note in self._rows(
                name, first, last
            ):
                if current is not None and current[0] != decision_id:
                    digest.add(current[0], current[1], found)
                    found = []
                current = (decision_id, outputs)
                if res_id is not None:
                    found.append((res_outputs, override, note))
            if current is not None:
                digest.add(current[0], current[1], found)
        return digest

    def event(self, payload: dict[str, Any], fmt: int = FORMAT) -> str | None:
        """Check one ``history.imported`` event of chain format ``fmt``."""
        name = str(payload.get("ruleset"))
        if "digest" not in payload:
            self._legacy(name, payload)
            return None
        runs = [(int(a), int(b)) for a, b in payload.get("decision_ids") or []]
        self.runs[name] += runs
        found = self._recompute(name, runs, fmt)
        self.counted += found.resolutions
        return _compare(name, found, payload)

    def _legacy(self, name: str, payload: dict[str, Any]) -> None:
        """An event recorded before imports carried a digest vouches for the imported
        resolutions of its decision id range, by their number only."""
        first, last = payload.get("first_decision_id"), payload.get("last_decision_id")
        if first is None or last is None:
            return
        self.runs[name].append((int(first), int(last)))
        self.counted += int(
            self.session.scalar(
                select(func.count(Resolution.id))
                .join(Decision, Decision.id == Resolution.decision_id)
                .join(Ruleset, Ruleset.id == Decision.ruleset_id)
                .where(Ruleset.name == name, Resolution.source == "import")
                .where(Decision.id.between(int(first), int(last)))
            )
            or 0
        )

    def unvouched(self) -> Iterator[str]:
        """Why the first imported resolution that no import vouches for is wrong, if any."""
        total = self.session.scalar(
            select(func.count(Resolution.id)).where(Resolution.source == "import")
        )
        if total == self.counted:
            return
        starts = {name: sorted(runs) for name, runs in self.runs.items()}
        query = (
            select(Resolution.id, Resolution.decision_id, Ruleset.name)
            .join(Decision, Decision.id == Resolution.decision_id)
            .join(Ruleset, Ruleset.id == Decision.ruleset_id)
            .where(Resolution.source == "import")
            .order_by(Resolution.id)
            .execution_options(yield_per=1000)
        )
        with self.session.execute(query) as rows:
            for ident, decision_id, name in rows:
                if not _covers(starts.get(name, []), decision_id):
                    yield (
                        f"resolutions row {ident} (decision {decision_id}, source import) is "
                        "vouched for by no history.imported event"
                    )
                    return


def _covers(runs: list[tuple[int, int]], decision_id: int) -> bool:
    at = bisect.bisect_right(runs, (decision_id, sys.maxsize)) - 1
    return at >= 0 and runs[at][0] <= decision_id <= runs[at][1]


def _compare(name: str, found: ImportDigest, payload: dict[str, Any]) -> str | None:
    decisions, resolutions = payload.get("rows_imported"), payload.get("resolutions")
    if found.decisions != decisions:
        return (
            f"{decisions} decisions were imported into {name}, but {found.decisions} of them "
            "remain: imported decisions were deleted or changed"
        )
    if found.resolutions != resolutions:
        change = "deleted" if found.resolutions < int(resolutions or 0) else "added"
        return (
            f"{resolutions} resolutions were imported with them, but {found.resolutions} are "
            f"recorded: imported resolutions were {change}"
        )
    if found.hexdigest() != payload.get("digest"):
        return (
            f"the decisions imported into {name} no longer match the digest recorded: an "
            "imported decision's outputs, or an imported resolution's outputs, override or "
            "note, was altered"
        )
    return None
