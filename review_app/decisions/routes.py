"""``/decisions``: search the decision log, read one decision with its replay, and record the
outcome a person chose (a resolution) through :func:`rules.store.decisions.resolve`, which appends
its audit event in the same transaction.

Personal data (inputs marked ``pii``) is masked unless the viewer's role may read it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response
from wtforms import SelectChoice  # type: ignore[import-untyped]

from review_app.access import PII_READERS, actor, current_user
from review_app.decisions.facts import fact_rows, output_pairs
from review_app.decisions.forms import (
    OUTPUT_PREFIX,
    ResolveForm,
    SearchForm,
    output_values,
    resolve_form,
    yes_no,
)
from review_app.forms import apply_problems, query_int, status_for
from review_app.rulesets.table import value_text
from rules.errors import InvalidRequestError, Problem, RulebookError, suggest
from rules.store import decisions, versions
from rules.store.decisions import search
from rules.store.extension import database

__all__ = ["bp"]

bp = Blueprint("decisions", __name__, url_prefix="/decisions")

PAGE_SIZE = 50
FILTERS = ("ruleset", "decision_id", "exception", "resolved", "override", "source", "start", "end")
SOURCE = "review"  # a resolution's source when recorded in the review app


def _filters(form: SearchForm) -> search.Filters:
    return search.Filters(
        form.ruleset.data or None,
        form.decision_id.data,
        yes_no(form.exception.data),
        yes_no(form.resolved.data),
        yes_no(form.override.data),
        form.source.data or None,
        form.start.data,
        form.end.data,
    )


def _link(args: dict[str, Any], wanted: bool, **keyset: int | None) -> str | None:
    """A link to the next page; an empty page (a keyset past the end) links to the first."""
    if not wanted:
        return None
    given: dict[str, Any] = {k: v for k, v in keyset.items() if v is not None}
    return url_for("decisions.index", **args, **given)


def _check_ruleset(form: SearchForm, names: list[str]) -> bool:
    wanted = form.ruleset.data
    if not wanted or wanted in names:
        return True
    hint = suggest(wanted, names)
    form.ruleset.errors = [
        f"There is no ruleset named {wanted!r}" + (f"; did you mean {hint!r}?" if hint else ".")
    ]
    return False


@bp.get("")
def index() -> tuple[str, int]:
    """Decisions, newest first, filtered; a page at a time."""
    form = SearchForm(formdata=request.args)
    size = int(current_app.config.get("DECISIONS_PAGE_SIZE", PAGE_SIZE))
    with database().session() as s:
        names = [r.name for r in versions.list_rulesets(s)]
        form.ruleset.choices = [SelectChoice("", "Any ruleset"), *(SelectChoice(n) for n in names)]
        valid = form.validate() & _check_ruleset(form, names)
        found = (
            search.search(s, _filters(form), size, query_int("before"), query_int("after"))
            if valid
            else search.Page((), False, False)
        )
    args: dict[str, Any] = {k: v for k in FILTERS if (v := request.args.get(k, "").strip())}
    rows = found.rows
    page = render_template(
        "decisions/index.html",
        form=form,
        page=found,
        valid=valid,
        filtered=bool(args),
        newer_url=_link(args, found.newer, after=rows[0].id if rows else None),
        older_url=_link(args, found.older, before=rows[-1].id if rows else None),
        output_pairs=output_pairs,
        value_text=value_text,
    )
    return page, 200 if valid else 422


def _may_read_pii() -> bool:
    user = current_user()
    return user is not None and user.role in PII_READERS


def _show_page(decision_id: int, form: ResolveForm | None = None) -> tuple[str, int]:
    with database().session() as s:
        record = decisions.get_decision(s, decision_id)
        info = versions.get_version(s, record.ruleset, record.version)
        history = decisions.resolutions_of(s, decision_id)
        replay_error: str | None = None
        try:
            replayed = decisions.replay(s, decision_id)
        except RulebookError as exc:  # shown on the page: the rest of the record still reads
            replayed, replay_error = None, str(exc)
    doc = info.document
    if form is None:
        form = resolve_form(doc.outputs, formdata=None)
    page = render_template(
        "decisions/show.html",
        record=record,
        version=info,
        doc=doc,
        facts=fact_rows(doc, record.facts, _may_read_pii()),
        may_read_pii=_may_read_pii(),
        results=output_pairs(record.outputs),
        history=list(reversed(history)),
        replay=replayed,
        replay_error=replay_error,
        form=form,
        output_pairs=output_pairs,
        value_text=value_text,
    )
    return page, status_for(form)


@bp.get("/<int:decision_id>")
def show(decision_id: int) -> tuple[str, int]:
    """One decision: facts, result, record, replay, resolutions; and the resolution form."""
    return _show_page(decision_id)


def _located(exc: InvalidRequestError) -> InvalidRequestError:
    """The service's problems with locations the form knows (``outputs.x`` → ``output_x``)."""
    problems = []
    for p in exc.problems:
        if p.location.startswith("outputs."):
            p = replace(p, location=OUTPUT_PREFIX + p.location.removeprefix("outputs."))
        elif p.location == "outputs":
            p = Problem(p.code, "", "Set at least one output to the value the person chose.")
        problems.append(p)
    return InvalidRequestError(str(exc.args[0]) if exc.args else "", problems)


@bp.post("/<int:decision_id>/resolve")
def resolve(decision_id: int) -> Response | tuple[str, int]:
    """Record the outcome a person chose for this decision."""
    with database().session() as s:
        record = decisions.get_decision(s, decision_id)
        doc = versions.get_version(s, record.ruleset, record.version).document
    form = resolve_form(doc.outputs)
    if form.validate_on_submit():
        outputs: Any = output_values(form, doc.outputs)
        note = (form.note.data or "").strip() or None
        try:
            with database().session() as s:
                done = decisions.resolve(
                    s,
                    decision_id,
                    outputs,
                    note=note,
                    actor=actor(),
                    source=SOURCE,
                    require_review=True,
                )
        except InvalidRequestError as exc:
            apply_problems(form, _located(exc))
        else:
            kind = "an override" if done.override else "a resolution"
            chosen = ", ".join(f"{k} = {value_text(v)}" for k, v in done.outputs.items())
            flash(f"Recorded {kind} for decision {decision_id}: {chosen}.", "success")
            return redirect(url_for("decisions.show", decision_id=decision_id))
    return _show_page(decision_id, form)
