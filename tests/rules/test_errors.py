"""One error tree for the whole product (DESIGN §1): every error a package raises on purpose
derives from RulebookError, and each layer maps the tree in one place (the API's problems,
the CLI's exit codes)."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil

import click
import pytest
from click.testing import CliRunner
from flask import Flask

import proposer
import review_app
import rules
from proposer.errors import (
    FourEyesError,
    OperationError,
    ProposalNotFoundError,
    ProposalStateError,
    ProposerError,
)
from rules.api.problems import handle
from rules.cli.output import fail
from rules.errors import (
    DocumentError,
    FactsError,
    NotFoundError,
    Problem,
    RulebookError,
    UnavailableError,
)

# Signals caught inside the module (or its one caller) that raises them, never shown to anyone.
INTERNAL_SIGNALS = {
    "rules.core.engine.runtime._Closed",
    "rules.core.check.partitions.Exhausted",
    "review_app.proposals.editing.FormMismatch",
    "rules.core.document.canonical._Slow",
}
# The auditor's verifier is one stdlib-only file run outside the product (python
# verify_chain.py export.json): it may import nothing of Rulebook, its errors included.
STANDALONE = {"rules.audit.offline.ExportError"}


def _modules() -> list[str]:
    names: list[str] = []
    for package in (rules, proposer, review_app):
        names.append(package.__name__)
        prefix = package.__name__ + "."
        names += [m.name for m in pkgutil.walk_packages(package.__path__, prefix)]
    return names


def _exception_classes() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for name in _modules():
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == name
            ):
                found[f"{name}.{attr}"] = value
    return found


def test_every_error_of_every_package_is_a_rulebook_error() -> None:
    classes = _exception_classes()
    assert "proposer.llm.errors.ModelCallError" in classes  # the walk reaches sub-packages
    outside = sorted(
        name
        for name, cls in classes.items()
        if not issubclass(cls, RulebookError) and name not in INTERNAL_SIGNALS | STANDALONE
    )
    assert outside == []
    assert set(classes) >= INTERNAL_SIGNALS | STANDALONE  # the ones allowed here still exist


def test_the_proposer_errors_are_a_branch_of_the_tree() -> None:
    assert issubclass(ProposerError, RulebookError)
    error = OperationError("bad", [Problem("RB910", "operations[0]", "wrong")])
    assert error.problems[0].location == "operations[0]"
    assert str(error) == "bad\n  RB910 operations[0]: wrong"


@pytest.mark.parametrize(
    ("error", "status", "kind"),
    [
        (NotFoundError("no ruleset named 'x'"), 404, "not-found"),
        (UnavailableError("down"), 503, "unavailable"),
        (FactsError("facts", [Problem("RB301", "facts.pirat", "required")]), 422, "invalid-facts"),
        (ProposalNotFoundError("no proposal 7"), 404, "not-found"),
        (ProposalStateError("accepted already"), 409, "conflict"),
        (FourEyesError("you wrote it"), 403, None),
        (DocumentError("a defect if it reaches the API"), 500, "rules-error"),
        (OperationError("nor this"), 500, "rules-error"),
    ],
)
def test_the_api_maps_the_whole_tree_in_one_place(
    error: RulebookError, status: int, kind: str | None
) -> None:
    app = Flask(__name__)
    with app.test_request_context("/api/v1/rulesets"):
        response = handle(error)
    assert not isinstance(response, Exception)
    body = json.loads(response.get_data(as_text=True))
    assert (response.status_code, body["status"]) == (status, status)
    assert body["type"] == (f"urn:rulebook:problem:{kind}" if kind else "about:blank")
    assert [e["field"] for e in body["errors"]] == [p.location for p in error.problems]


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (DocumentError("bad document"), 1),
        (NotFoundError("no such ruleset"), 3),
        (UnavailableError("database down"), 4),
        (ProposalNotFoundError("no proposal 7"), 3),
        (OperationError("bad operation"), 1),
    ],
)
def test_the_cli_maps_the_whole_tree_in_one_place(error: RulebookError, code: int) -> None:
    @click.command()
    def verb() -> None:
        fail(error, as_json=True)

    result = CliRunner().invoke(verb)
    assert result.exit_code == code
    assert json.loads(result.output)["kind"] == type(error).__name__
