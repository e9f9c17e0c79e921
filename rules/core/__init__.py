"""The pure engine core: what a ruleset document is and how it decides (DESIGN §2).

No I/O and no framework: nothing here imports Flask, werkzeug, SQLAlchemy, litellm, the
proposer or the review app (a test imports every module under this package in a fresh
interpreter and checks). It may import :mod:`rules.errors`, PyYAML, defusedxml and
durable_rules.

- :mod:`~rules.core.document`: the document model, parsing, canonical form and hash;
- :mod:`~rules.core.validate`: the cheap semantic checks every document must pass;
- :mod:`~rules.core.check`: the static analyses (overlaps, shadowed rules, gaps);
- :mod:`~rules.core.three_valued`: conditions in three-valued logic as two-valued formulas;
- :mod:`~rules.core.facts`: facts validated against a document's inputs;
- :mod:`~rules.core.engine`: compiling and evaluating a document, hit policies;
- :mod:`~rules.core.dmn`: DMN import, export and TCK runs, with a FEEL subset.
"""

from __future__ import annotations

from rules.core.document import Document, load_document, parse_document
from rules.core.engine.hit_policies import Result
from rules.core.facts import validate_facts

__all__ = ["Document", "Result", "load_document", "parse_document", "validate_facts"]
