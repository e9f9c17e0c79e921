"""Bringing past decisions in from a CSV file (``rulebook history import``, DESIGN §4).

Each row becomes a decision of the ruleset's active version (source ``import``), evaluated by
the engine like any other, and its outcome column becomes that decision's human resolution of
the review output (or ``--output``): the ground truth the proposer learns from. The id column's
value is the decision's ``request_id``, so importing the same file again skips the rows already
recorded; without an id column, every import records every row again.

Everything is checked before anything is written (:mod:`rules.store.history.columns`: the header
against the ruleset; :mod:`rules.store.history.rows`: every cell, outcome and case id), and any
problem aborts the import with nothing written, naming the place (``row 17, column pirat``).
Then :mod:`rules.store.history.importer` writes the decisions and resolutions with bulk INSERTs, a
few thousand rows a statement, in the caller's transaction, with one ``history.imported`` audit
event for the whole file rather than one per row.
"""

from __future__ import annotations

from rules.store.history.columns import parse_map
from rules.store.history.importer import ImportReport, ImportSpec, import_csv

__all__ = ["ImportReport", "ImportSpec", "import_csv", "parse_map"]
