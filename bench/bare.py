"""The baseline of the HTTP benchmark: a bare Flask JSON endpoint.

It parses the same request body the decision endpoint gets and answers a small JSON object,
under the same gunicorn settings, so the ratio shows what Rulebook's work costs: key check,
validation, evaluation and a durable PostgreSQL commit per decision.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/api/v1/rulesets/<name>/decisions")
    def decide(name: str) -> tuple[dict[str, Any], int]:
        body = request.get_json(silent=True) or {}
        return {"ruleset": name, "facts": len(body.get("facts", {}))}, 201

    return app
