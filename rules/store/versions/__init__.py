"""Rulesets, immutable versions and activation (DESIGN §3).

Version 1 comes from :func:`create_ruleset`; every later version from :func:`create_version`,
which only the proposal-acceptance path calls (four-eyes is enforced there). Activation is a
separate recorded step; rollback is activating an older version. Each change appends its audit
event in the same transaction. Writers lock the ruleset row, so version numbers are dense and
exactly one version is active at any moment.

- :mod:`~rules.store.versions.write`: creating rulesets and versions, activating;
- :mod:`~rules.store.versions.read`: reading them, the activation history, "active at";
- :mod:`~rules.store.versions.diff`: what changed between two versions;
- :mod:`~rules.store.versions.documents`: parsed documents by hash (what deciding reads);
- :mod:`~rules.store.versions.records`: the frozen records the functions return.
"""

from __future__ import annotations

from rules.store.versions.diff import diff_versions
from rules.store.versions.documents import document_of, documents
from rules.store.versions.read import (
    activations,
    active_at,
    get_ruleset,
    get_version,
    list_rulesets,
    list_versions,
    lock_ruleset,
    ruleset_id,
)
from rules.store.versions.records import ActivationInfo, RulesetInfo, VersionDiff, VersionInfo
from rules.store.versions.write import activate, create_ruleset, create_version

__all__ = [
    "ActivationInfo",
    "RulesetInfo",
    "VersionDiff",
    "VersionInfo",
    "activate",
    "activations",
    "active_at",
    "create_ruleset",
    "create_version",
    "diff_versions",
    "document_of",
    "documents",
    "get_ruleset",
    "get_version",
    "list_rulesets",
    "list_versions",
    "lock_ruleset",
    "ruleset_id",
]
