"""The proposer benchmark's pieces on a small log (SQLite): the log loads, the frontier is read
from it, and ``rulebook propose`` drafts what the frontier offers, each citation verified."""

from __future__ import annotations

from pathlib import Path

from bench.backtest import loaded
from bench.proposer import frontier, propose


def test_the_benchmark_runs_on_a_small_log(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bench.sqlite3'}"
    assert loaded(url, 800, False) > 0
    parts = frontier(url)
    assert parts["cases"] == 800
    assert 0 < parts["groups"] <= 2380  # the rows drawn from the file, grouped
    assert parts["offered"]
    whole = propose(url)
    offered = [o["role"] for o in parts["offered"]]
    assert len(whole["proposals"]) == min(5, len(offered))
    for proposal in whole["proposals"]:
        assert proposal["role"] in offered
        assert proposal["backtested"] == 800
        assert proposal["citations_verified"] > 0
    assert whole["peak_rss_mb"] > 0
