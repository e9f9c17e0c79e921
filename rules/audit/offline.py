"""Recompute a Rulebook audit chain from an export, with the Python standard library alone.

An auditor copies this one file anywhere and runs::

    python offline.py rulebook-audit.json   # `rulebook audit export`, or the review app's
    python offline.py rulebook-audit.csv    # the CSV export
    python offline.py events.jsonl --head HASH   # JSON Lines; HASH: a head published elsewhere

(or, where Rulebook is installed, ``python -m rules.audit.offline FILE``).

It reads the events in chain order and recomputes every link as ``docs/audit-chain.md``
specifies: ``hash = SHA-256(prev_hash || canonical(event))``, chain format 2 with RFC 8785
(JCS) over ``{format: 2, seq, at, actor, action, subject, payload}``, format 1 (events
written before format 2) with format 1's canonical JSON and without ``format``. A chain is
a run of format 1 events then format 2 events. Exit status 0 when every link holds (and the
last hash is ``--head``, if given), 1 naming the first event that does not, 2 when the file
cannot be read. An export that starts after event 1 (a filtered export) is checked from its
first event's ``prev_hash``, and the output says so.

This is an independent implementation of the published form, on purpose: it imports nothing
of Rulebook. The vectors in ``docs/audit-chain-vectors.json`` hold it and the service's
:func:`rules.core.document.canonical_json` to the same bytes.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import math
import sys
from collections.abc import Mapping, Sequence
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any

GENESIS = "0" * 64
FIELDS = ("seq", "at", "actor", "action", "subject", "payload", "prev_hash", "hash")


class ExportError(Exception):
    """The export cannot be read as a chain of events."""


# --------------------------------------------------------------------------- format 2: RFC 8785


def jcs_number(value: int | float) -> str:
    """ECMAScript's Number.prototype.toString of the double ``value`` (RFC 8785 §3.2.2.3);
    an integer no double holds exactly is written as its digits (docs/audit-chain.md)."""
    if isinstance(value, int):
        try:
            as_double = float(value)
        except OverflowError:
            return str(value)
        if int(as_double) != value:
            return str(value)
        value = as_double
    if not math.isfinite(value):
        raise ValueError(f"{value!r} has no JSON form")
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    _, digit_tuple, exponent = Decimal(repr(abs(value))).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    n = int(exponent) + len(digit_tuple)  # value = 0.DIGITS x 10**n
    k = len(digits)
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{sign}{mantissa}e{'+' if n - 1 > 0 else '-'}{abs(n - 1)}"


def jcs(value: Any) -> str:
    """The RFC 8785 canonical JSON text of a parsed JSON value."""
    if isinstance(value, str):
        return encode_basestring(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        return jcs_number(value)
    if isinstance(value, Mapping):
        keys = sorted(value, key=lambda k: k.encode("utf-16-be", "surrogatepass"))
        return "{" + ",".join(encode_basestring(k) + ":" + jcs(value[k]) for k in keys) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(jcs(v) for v in value) + "]"
    raise TypeError(f"not JSON: {value!r}")


# --------------------------------------------------------------------------- format 1


def _format1_plain(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53:
        return int(value)
    if isinstance(value, Mapping):
        return {k: _format1_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_format1_plain(v) for v in value]
    return value


def format1_json(value: Any) -> str:
    """Format 1's canonical JSON: sorted keys, compact, UTF-8, integral floats as integers."""
    return json.dumps(
        _format1_plain(value),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


# --------------------------------------------------------------------------- the chain


def event_hash(prev_hash: str, event: Mapping[str, Any], fmt: int) -> str:
    """The hash of ``event`` (its seq, at, actor, action, subject, payload) in format ``fmt``."""
    body = {k: event[k] for k in ("seq", "at", "actor", "action", "subject", "payload")}
    text = format1_json(body) if fmt == 1 else jcs({"format": 2, **body})
    return hashlib.sha256(prev_hash.encode("ascii") + text.encode("utf-8")).hexdigest()


class Report:
    """What a check found: events read, per format, the last hash, and the first failure."""

    def __init__(self) -> None:
        self.events = 0
        self.formats = {1: 0, 2: 0}
        self.first_seq: int | None = None
        self.last_hash = GENESIS
        self.failure: tuple[int, str] | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None

    def summary(self) -> str:
        if self.failure is not None:
            return f"FAIL at event {self.failure[0]}: {self.failure[1]}"
        start = ""
        if self.first_seq not in (None, 1):
            start = f" (from event {self.first_seq}, trusting its prev_hash)"
        return (
            f"OK: {self.events} events verified{start}; format 1: {self.formats[1]}, "
            f"format 2: {self.formats[2]}; last hash {self.last_hash}"
        )


def check(events: Sequence[Mapping[str, Any]], head: str | None = None) -> Report:
    """Recompute the chain of ``events`` (in chain order) and report the first broken link."""
    report = Report()
    prev, fmt, expected = GENESIS, 1, None
    for event in events:
        try:
            seq = int(event["seq"])
            if expected is None:
                report.first_seq = expected = seq
                if seq != 1:
                    prev = str(event["prev_hash"])
            if seq != expected:
                report.failure = (expected, f"event {expected} is missing (next is {seq})")
                return report
            if event["prev_hash"] != prev:
                report.failure = (seq, "prev_hash is not the previous event's hash")
                return report
            found = next(
                (f for f in (1, 2) if f >= fmt and event_hash(prev, event, f) == event["hash"]),
                None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            report.failure = (expected or 0, f"the event cannot be read: {exc!r}")
            return report
        if found is None:
            report.failure = (seq, "hash does not match the event's contents")
            return report
        fmt, prev, expected = found, str(event["hash"]), seq + 1
        report.events += 1
        report.formats[found] += 1
        report.last_hash = prev
    if head is not None and prev != head:
        report.failure = (
            (expected or 1) - 1,
            f"the last hash is {prev}, not the head {head}: events are missing or added",
        )
    return report


def read_export(text: str) -> list[dict[str, Any]]:
    """Events from a JSON array, JSON Lines or CSV export (payload as JSON text in CSV)."""
    stripped = text.lstrip("\ufeff \t\r\n")
    try:
        if stripped.startswith("["):
            events = json.loads(stripped)
        elif stripped.startswith("{"):
            events = [json.loads(line) for line in stripped.splitlines() if line.strip()]
        else:
            reader = csv.DictReader(io.StringIO(stripped))
            if set(FIELDS) - set(reader.fieldnames or ()):
                raise ExportError(f"a CSV export needs the columns {', '.join(FIELDS)}")
            rows = list(reader)
            events = [
                {**r, "seq": int(r["seq"]), "payload": json.loads(r["payload"])} for r in rows
            ]
    except ValueError as exc:
        raise ExportError(f"not a JSON, JSON Lines or CSV audit export: {exc}") from exc
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise ExportError("the export must be a list of event objects")
    return events


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("export", help="the exported events: .json, .jsonl or .csv")
    parser.add_argument("--head", help="the chain head's hash, published independently")
    args = parser.parse_args(argv)
    try:
        with open(args.export, encoding="utf-8") as handle:
            events = read_export(handle.read())
    except (OSError, UnicodeDecodeError, ExportError) as exc:
        print(f"cannot read {args.export}: {exc}", file=sys.stderr)
        return 2
    report = check(events, args.head)
    print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
