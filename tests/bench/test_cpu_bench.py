"""The in-process CPU benchmark (bench/cpu.py) in a short run: every target answers 2xx, the
shadow's results are all stored before its rounds end, and the report is what it wrote."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bench import cpu


@pytest.mark.postgres
def test_the_cpu_benchmark_measures_every_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = os.environ.get("RULEBOOK_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("RULEBOOK_TEST_POSTGRES_URL is not set")
    monkeypatch.setenv("BENCH_LOG_DSN", "")  # the benchmark sets it; restored afterwards
    out = tmp_path / "cpu.json"
    report = cpu.main(["--requests", "40", "--rounds", "1", "--out", str(out), "--postgres", base])
    assert json.loads(out.read_text()) == report
    best = report["best_cpu_us"]
    assert set(best) == {"bare", "bare_insert", "rulebook", "rulebook_shadow"}
    assert all(value > 0 for value in best.values())
    # Deciding and committing is more work than parsing a body and answering.
    assert best["rulebook"] > best["bare"]
    assert report["rulebook_over_bare"] == round(best["rulebook"] / best["bare"], 2)
