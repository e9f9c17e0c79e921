"""The request ids the service makes for a decision that came without one."""

from __future__ import annotations

import time
import uuid

from rules.store.decisions.requests import check_request_id, new_request_id


def test_a_new_request_id_is_a_canonical_uuid7_in_time_order() -> None:
    made = []
    for _ in range(200):
        made.append(new_request_id())
    time.sleep(0.002)
    later = new_request_id()
    for rid in [*made, later]:
        parsed = uuid.UUID(rid)
        assert str(parsed) == rid  # the canonical text: lower case, hyphens where they go
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122
        assert check_request_id(rid, "request_id") is None
        # Its first 48 bits are the time in milliseconds, within a second of now.
        assert abs((parsed.int >> 80) - time.time_ns() // 1_000_000) < 1000
    assert len(set(made)) == len(made)
    assert max(made) < later  # a later id sorts after, so the unique index grows at its end
