"""The one text shown in place of personal data (inputs marked ``pii``) to a role that may
not read it (:data:`review_app.access.PII_READERS`), on every page: a decision's facts, a
dossier's changed decisions. Templates show it with the ``masked()`` macro of
``_macros.html``; the constant is also the template global ``MASK``.
"""

from __future__ import annotations

__all__ = ["MASK"]

MASK = "hidden: personal data"
