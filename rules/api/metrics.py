"""Prometheus metrics: decisions, exceptions, decision latency and HTTP responses.

The metric objects live here, independent of any app. Under gunicorn with several workers,
set ``PROMETHEUS_MULTIPROC_DIR`` (an empty, writable folder) before the workers import this
module: each process then writes its values to files there, ``/metrics`` aggregates them, and
the server's ``child_exit`` hook (:func:`child_exit`) cleans up after a worker that exits.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from rules.store.decisions import DecisionRecord

__all__ = [
    "CONTENT_TYPE_LATEST",
    "DECISIONS",
    "DECISION_SECONDS",
    "EXCEPTIONS",
    "HTTP_RESPONSES",
    "child",
    "child_exit",
    "exposition",
    "record_decisions",
]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

DECISIONS = Counter(
    "rulebook_decisions",
    "Decisions recorded through the API (repeats of a request_id are not counted).",
    ["ruleset", "version", "outcome"],
)
EXCEPTIONS = Counter(
    "rulebook_decision_exceptions",
    "Decisions the rules could not settle, routed to a person.",
    ["ruleset"],
)
DECISION_SECONDS = Histogram(
    "rulebook_decision_seconds",
    "Time to validate, decide and commit one API request (a whole batch counts once).",
    ["endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
HTTP_RESPONSES = Counter(
    "rulebook_http_responses",
    "HTTP responses by status code.",
    ["status"],
)


_children: dict[tuple[Any, ...], Any] = {}


def child(metric: Any, *labels: str) -> Any:
    """``metric.labels(*labels)``, remembered: prometheus_client looks a child up under a lock
    with its labels checked each time, several times a decision."""
    key = (metric, *labels)
    found = _children.get(key)
    if found is None:
        found = _children[key] = metric.labels(*labels)
    return found


def record_decisions(records: list[tuple[DecisionRecord, bool]]) -> None:
    """Count the new decisions among ``records`` (called after they are committed)."""
    for record, created in records:
        if not created:
            continue
        outcome = "exception" if record.exception else "automated"
        child(DECISIONS, record.ruleset, str(record.version), outcome).inc()
        if record.exception:
            child(EXCEPTIONS, record.ruleset).inc()


def exposition() -> bytes:
    """The text exposition of every metric: this process's, or every worker's in multiprocess
    mode."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn's ``child_exit`` hook: drop an exited worker's live values."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
