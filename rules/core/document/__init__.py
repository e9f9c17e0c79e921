"""The ruleset document (DESIGN §2): a typed, immutable model with a canonical form and hash.

- :mod:`~rules.core.document.model`: the model (:class:`Document`, its inputs, outputs, rules
  and conditions), the format's constants and limits, and the normalised plain form;
- :mod:`~rules.core.document.canonical`: canonical JSON, which the version hash is taken of;
- :mod:`~rules.core.document.load`: :func:`load_document` reads YAML or JSON text;
- :mod:`~rules.core.document.parse`: :func:`parse_document` builds the model from plain data,
  collecting every structural problem with its location (on the reads of
  :mod:`~rules.core.document.reader`).

Part of the pure core: imports only PyYAML and :mod:`rules.errors`.
"""

from __future__ import annotations

from rules.core.document.canonical import canonical_json
from rules.core.document.load import load_document
from rules.core.document.model import (
    AGGREGATIONS,
    HIT_POLICIES,
    IDENTIFIER,
    MAX_DEPTH,
    MAX_DOCUMENT_BYTES,
    MAX_EXACT_INT,
    MAX_INPUTS,
    MAX_LIST,
    MAX_OUTPUTS,
    MAX_RULES,
    MULTI_HIT_POLICIES,
    OPS,
    RULE_ID,
    SINGLE_HIT_POLICIES,
    SLUG,
    TYPES,
    AllOf,
    AnyOf,
    Between,
    Condition,
    Document,
    Input,
    Leaf,
    Not,
    Output,
    Review,
    Rule,
    Scalar,
    condition_to_dict,
)
from rules.core.document.parse import parse_document
from rules.core.document.reader import is_scalar

__all__ = [
    "AGGREGATIONS",
    "HIT_POLICIES",
    "IDENTIFIER",
    "MAX_DEPTH",
    "MAX_DOCUMENT_BYTES",
    "MAX_EXACT_INT",
    "MAX_INPUTS",
    "MAX_LIST",
    "MAX_OUTPUTS",
    "MAX_RULES",
    "MULTI_HIT_POLICIES",
    "OPS",
    "RULE_ID",
    "SINGLE_HIT_POLICIES",
    "SLUG",
    "TYPES",
    "AllOf",
    "AnyOf",
    "Between",
    "Condition",
    "Document",
    "Input",
    "Leaf",
    "Not",
    "Output",
    "Review",
    "Rule",
    "Scalar",
    "canonical_json",
    "condition_to_dict",
    "is_scalar",
    "load_document",
    "parse_document",
]
