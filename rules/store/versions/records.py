"""Rulesets, versions, activations and version diffs as the rest of the system sees them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rules.core.document import Document

__all__ = ["ActivationInfo", "RulesetInfo", "VersionDiff", "VersionInfo"]


@dataclass(frozen=True, slots=True)
class RulesetInfo:
    name: str
    title: str | None
    active_number: int | None
    latest_number: int
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "active_version": self.active_number,
            "latest_version": self.latest_number,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class VersionInfo:
    ruleset: str
    number: int
    hash: str
    parent: int | None
    author: str
    proposal_id: int | None
    created_at: datetime
    active: bool
    document: Document

    def to_dict(self, with_document: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ruleset": self.ruleset,
            "version": self.number,
            "hash": self.hash,
            "parent": self.parent,
            "author": self.author,
            "proposal_id": self.proposal_id,
            "created_at": self.created_at.isoformat(),
            "active": self.active,
        }
        if with_document:
            out["document"] = self.document.to_dict()
        return out


@dataclass(frozen=True, slots=True)
class ActivationInfo:
    ruleset: str
    number: int
    previous: int | None
    actor: str
    note: str | None
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "ruleset": self.ruleset,
            "version": self.number,
            "previous": self.previous,
            "actor": self.actor,
            "note": self.note,
            "activated_at": self.at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class VersionDiff:
    ruleset: str
    a: int
    b: int
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]
    moved: tuple[str, ...]
    settings_changed: tuple[str, ...]
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "ruleset": self.ruleset,
            "from": self.a,
            "to": self.b,
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": list(self.changed),
            "moved": list(self.moved),
            "settings_changed": list(self.settings_changed),
            "diff": self.text,
        }
