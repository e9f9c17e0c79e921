"""What changed between two versions of a ruleset: rules by id, settings, and a text diff."""

from __future__ import annotations

import difflib
import json

from sqlalchemy.orm import Session

from rules.core.document import Document
from rules.store.versions.read import get_version
from rules.store.versions.records import VersionDiff

__all__ = ["diff_versions"]


def _rule_texts(doc: Document) -> dict[str, str]:
    return {r["id"]: json.dumps(r, sort_keys=True) for r in doc.to_dict()["rules"]}


def diff_versions(session: Session, name: str, a: int, b: int) -> VersionDiff:
    """What changed from version ``a`` to version ``b``: rules by id, settings, and a text diff."""
    da, db = get_version(session, name, a).document, get_version(session, name, b).document
    ra, rb = _rule_texts(da), _rule_texts(db)
    order_a = [r for r in ra if r in rb]
    order_b = [r for r in rb if r in ra]
    moved = tuple(r for i, r in enumerate(order_b) if order_a[i] != r)
    dict_a, dict_b = da.to_dict(), db.to_dict()
    settings = tuple(
        sorted(
            k for k in set(dict_a) | set(dict_b) if k != "rules" and dict_a.get(k) != dict_b.get(k)
        )
    )
    text = "".join(
        difflib.unified_diff(
            json.dumps(dict_a, indent=2, sort_keys=True).splitlines(keepends=True),
            json.dumps(dict_b, indent=2, sort_keys=True).splitlines(keepends=True),
            fromfile=f"{name} v{a}",
            tofile=f"{name} v{b}",
        )
    )
    return VersionDiff(
        name,
        a,
        b,
        added=tuple(r for r in rb if r not in ra),
        removed=tuple(r for r in ra if r not in rb),
        changed=tuple(r for r in rb if r in ra and ra[r] != rb[r]),
        moved=moved,
        settings_changed=settings,
        text=text,
    )
