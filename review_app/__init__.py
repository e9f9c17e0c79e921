"""The Flask application: one factory serves the decision API (and, later, the review UI).

``create_app`` follows the Flask tutorial: configuration, then one shared database, then each
subsystem wiring itself with ``init_app(app)``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from rules import store

__all__ = ["create_app", "secret_key"]


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """The application for ``test_config`` (tests) or the environment (``rulebook serve``)."""
    # Imported here, not at module level: `rulebook serve` imports this package in the gunicorn
    # master, and prometheus_client must first be imported in a worker, after serve has set
    # PROMETHEUS_MULTIPROC_DIR, or each worker's metrics stay private to it.
    from rules import api

    app = Flask(__name__, instance_path=str(store.instance_path()))
    app.config.from_mapping(
        TESTING=False,
        # A batch of 1,000 decisions is well under this; anything larger is refused with 413.
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
    )
    if test_config is not None:
        app.config.from_mapping(test_config)
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = store.default_url()
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = os.environ.get("RULEBOOK_SECRET_KEY") or secret_key(
            store.instance_path()
        )

    app.extensions[api.DB_EXTENSION] = store.Database(app.config["DATABASE_URL"])
    api.init_app(app)
    return app


def secret_key(folder: Path) -> str:
    """The key in ``folder/secret_key``, generated (mode 0600) the first time it is needed.

    Several workers may start at once: the key is written to a private temporary file and
    linked into place, so every process reads the same complete key."""
    path = folder / "secret_key"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".secret_key.")  # created 0600
        try:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(secrets.token_hex(32))
            with contextlib.suppress(FileExistsError):  # another process won: use its key
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    return path.read_text(encoding="ascii").strip()
