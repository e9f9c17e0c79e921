"""DMN interchange: import a decision table, export a ruleset, run DMN TCK test files.

``import_dmn`` turns one DMN 1.1-1.5 decision table into a ruleset document that decides
identically, or raises :class:`~rules.errors.DmnError` naming what cannot be carried over;
``export_dmn`` writes a DMN 1.5 model; ``verify`` runs a TCK test file through import and the
engine. FEEL unary tests are parsed by :mod:`rules.core.dmn.feel`. Part of the pure core: it
imports :mod:`rules.core`, :mod:`rules.errors`, defusedxml and the standard library only.
"""

from __future__ import annotations

from rules.core.dmn.reader import DmnImport, import_dmn, read_dmn
from rules.core.dmn.tck import CaseResult, VerifyReport, verify
from rules.core.dmn.writer import export_dmn

__all__ = [
    "CaseResult",
    "DmnImport",
    "VerifyReport",
    "export_dmn",
    "import_dmn",
    "read_dmn",
    "verify",
]
