"""The fault script (bench/faults.py) in its short mode: a few seconds of decisions through a
worker SIGKILL and two PostgreSQL restarts, on a cluster of the test's own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import faults
from tests.pgcluster import missing_reason


def test_the_fault_script_keeps_every_2xx_and_recovers_at_once(tmp_path: Path) -> None:
    reason = missing_reason()
    if reason:
        pytest.skip(f"no PostgreSQL cluster of our own: {reason}")
    out = tmp_path / "faults.json"
    report = faults.main(["--short", "--out", str(out)])
    assert json.loads(out.read_text()) == report
    print(json.dumps(report, indent=1))  # shown when an assertion fails
    assert report["ok_2xx"] > 0
    assert report["status_503"] > 0  # PostgreSQL was down for a while
    assert report["lost_2xx"] == 0
    assert report["audit_verify"]["ok"]
    assert report["replay"]["all_identical"]
    assert report["replay"]["replayed"] == report["decisions_in_log"] > 0
    assert report["other_statuses"] == []  # only 2xx, 503 or no answer (the killed worker)
    idle = report["idle_restart_then_sequential"]
    assert idle["first_readyz_status"] == 200
    assert idle["ok_2xx"] == idle["sent"] > 0, idle["failures_after"]
    for recovered in (*report["recovery"].values(), idle):
        # The first requests after PostgreSQL is back succeed (issue 12 item 6).
        assert recovered["requests_after"] > 0
        assert recovered["failed_after"] == 0, recovered["failures_after"]
        assert recovered["seconds_to_full_recovery"] == 0.0
    assert all(r["seconds_to_ready"] is not None for r in report["recovery"].values())


@pytest.mark.parametrize(
    ("body", "unknown"),
    [
        ('{"detail": "the outcome is unknown; retry with the same request_id"}', True),
        ('{"detail": "x", "outcome": "unknown"}', True),
        ('{"detail": "the database cannot be reached; nothing was recorded, retry"}', False),
        ("<html>503</html>", False),
    ],
)
def test_a_503_is_classed_by_what_it_says_about_the_outcome(body: str, unknown: bool) -> None:
    assert faults.says_unknown(body) is unknown
