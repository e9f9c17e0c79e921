"""Static checks of a ruleset document that search its input space (DESIGN §2).

:func:`check_document` runs :func:`rules.core.validate.validate_document` and then the
analyses (:mod:`rules.core.check.analyses`): overlaps under UNIQUE and ANY, rules shadowed
under FIRST, gaps where no rule matches, rules no fact set satisfies. They rest on an exact
algebra: each input's values as a domain (:mod:`~rules.core.check.domains`), each condition as
boxes over the input space (:mod:`~rules.core.check.regions`), and a search by recursive
partition of that space (:mod:`~rules.core.check.partitions`).

Part of the pure core: imports only :mod:`rules.core` and :mod:`rules.errors`.
"""

from __future__ import annotations

from rules.core.check.analyses import Finding, Limits, analyse_document, check_document

__all__ = ["Finding", "Limits", "analyse_document", "check_document"]
