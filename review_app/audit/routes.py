"""``/audit``: the event log with filters, the chain's verification status, and exports.

Auditors and admins read here; nothing on these pages changes the record. Verifying the chain
reads every event and every row the events vouch for while holding the chain's share lock
(appends wait), so it runs on demand — the "Verify now" button, a POST — not on every page
view; its result is kept in the viewer's session and shown at the top of the log, with how
many events were appended since.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from time import perf_counter
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse
from wtforms import SelectChoice  # type: ignore[import-untyped]

from review_app.audit.forms import FilterForm
from review_app.auth.clock import now
from review_app.forms import query_int
from rules import audit
from rules.audit import EXPORT_FIELDS, AuditRecord, search
from rules.core.document import canonical_json
from rules.errors import InvalidRequestError, Problem
from rules.store.extension import database

__all__ = ["bp"]

bp = Blueprint("audit", __name__, url_prefix="/audit")

PAGE_SIZE = 50
VERIFIED = "audit_verification"
FILTERS = ("action", "actor", "subject", "start", "end")


def _filters(form: FilterForm) -> search.Filters:
    return search.Filters(
        form.action.data or None,
        (form.actor.data or "").strip() or None,
        (form.subject.data or "").strip() or None,
        form.start.data,
        form.end.data,
    )


def _filter_args() -> dict[str, Any]:
    """The filters in the current URL, to carry into pagination and export links."""
    return {k: v for k in FILTERS if (v := request.args.get(k, "").strip())}


def _link(args: dict[str, Any], wanted: bool, **keyset: int | None) -> str | None:
    """A link to the next page; an empty page (a keyset past the end) links to the first."""
    if not wanted:
        return None
    given: dict[str, Any] = {k: v for k, v in keyset.items() if v is not None}
    return url_for("audit.index", **args, **given)


@bp.get("")
def index() -> tuple[str, int]:
    """The event log, newest first, with filters and the chain's verification status."""
    form = FilterForm(formdata=request.args)
    size = int(current_app.config.get("AUDIT_PAGE_SIZE", PAGE_SIZE))
    with database().session() as s:
        form.action.choices = [SelectChoice("", "Any action")] + [
            SelectChoice(a) for a in search.actions(s)
        ]
        valid = form.validate()
        filters = _filters(form) if valid else search.Filters()
        found = search.page(s, filters, size, query_int("before"), query_int("after"))
        length, last_hash = search.head(s)
        matching = search.count(s, filters) if any(_filter_args().values()) else length
    args = _filter_args()
    events = found.events
    page = render_template(
        "audit/index.html",
        form=form,
        page=found,
        length=length,
        last_hash=last_hash,
        matching=matching,
        verification=session.get(VERIFIED),
        newer_url=_link(args, found.newer, after=events[0].seq if events else None),
        older_url=_link(args, found.older, before=events[-1].seq if events else None),
        filter_args=args,
    )
    return page, 200 if valid else 422


@bp.post("/verify")
def verify() -> BaseResponse:
    """Recompute the chain and check what it vouches for; show the result on the log."""
    started = perf_counter()
    with database().session() as s:
        result = audit.verify(s)
    session[VERIFIED] = {
        **result.to_dict(),
        "reason": (result.reason or "")[:500] or None,
        "at": now().isoformat(),
        "seconds": round(perf_counter() - started, 3),
    }
    if result.ok:
        flash(f"The audit chain is intact: {result.events} events verified.", "success")
    else:
        flash("The audit chain does NOT verify: see the details at the top of the log.", "error")
    return redirect(url_for("audit.index"))


def _csv(records: Iterable[AuditRecord]) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    for record in records:
        row: dict[str, Any] = record.to_dict()
        row["payload"] = canonical_json(row["payload"]).decode("utf-8")
        writer.writerow(row)
        yield out.getvalue()
        out.seek(0)
        out.truncate()
    yield out.getvalue()


def _json(records: Iterable[AuditRecord]) -> Iterator[str]:
    yield "["
    first = True
    for record in records:
        yield ("\n" if first else ",\n") + json.dumps(
            record.to_dict(), indent=2, ensure_ascii=False
        )
        first = False
    yield "]\n" if first else "\n]\n"


@bp.get("/export.<any(csv, json):fmt>")
def export(fmt: str) -> Response:
    """Download the events (all, or those the filters select) in chain order."""
    form = FilterForm(formdata=request.args)
    form.action.choices = []
    if not form.validate():
        raise InvalidRequestError(
            "the export's filters are not valid",
            [Problem("RB720", name, "; ".join(errors)) for name, errors in form.errors.items()],
        )
    batch = int(current_app.config.get("AUDIT_EXPORT_BATCH", search.EXPORT_BATCH))
    records = search.export_rows(database(), _filters(form), batch)
    stamp = now().strftime("%Y%m%dT%H%M%SZ")
    body = _csv(records) if fmt == "csv" else _json(records)
    mimetype = "text/csv" if fmt == "csv" else "application/json"
    return Response(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="rulebook-audit-{stamp}.{fmt}"'},
    )
