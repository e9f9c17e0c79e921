"""The tamper-evident audit chain and every verifier of what it vouches for (DESIGN §6).

- :mod:`~rules.audit.chain`: appending events (:func:`append`, :func:`lock_head`) in the
  caller's transaction, and the hash of an event (chain format 2: RFC 8785; format 1, kept
  for chains written before it, in :mod:`~rules.audit.legacy`; ``docs/audit-chain.md``);
- :mod:`~rules.audit.events`: reading the chain: events in order, filtered pages for people,
  exports;
- :mod:`~rules.audit.verify`: recomputing the chain and checking the rows its events vouch
  for.

The audit package may import :mod:`rules.core`, :mod:`rules.errors` and the store's tables
(:mod:`rules.store.models`); the store's services import it to append their events.
"""

from __future__ import annotations

from rules.audit.chain import (
    FORMAT,
    GENESIS,
    AuditRecord,
    append,
    ensure_head,
    event_hash,
    link_format,
    lock_head,
)
from rules.audit.events import EXPORT_FIELDS, events, export
from rules.audit.verify import Verification, verify

__all__ = [
    "EXPORT_FIELDS",
    "FORMAT",
    "GENESIS",
    "AuditRecord",
    "Verification",
    "append",
    "ensure_head",
    "event_hash",
    "events",
    "export",
    "link_format",
    "lock_head",
    "verify",
]
