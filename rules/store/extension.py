"""The store as a Flask extension (Flask's ``init_app`` pattern, as in the tutorial's
``db.py``): the app factory calls :func:`init_app`, and views reach the store through
:func:`database`, :func:`decisions` and :func:`key_cache`.

Each app gets one :class:`~rules.store.database.Database` (from ``DATABASE_URL`` unless the
factory made one), the :class:`~rules.store.decisions.DecisionService` bound to it (the one
decide-and-record path, with its per-process version cache and, on PostgreSQL, its per-thread
connections) and its own cache of verified API keys. The HTTP layer and the review app hold
no database handle of their own.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, current_app
from sqlalchemy.orm import configure_mappers

from rules.store.accounts import KeyCache
from rules.store.database import Database
from rules.store.decisions.service import DecisionService

__all__ = [
    "DB_EXTENSION",
    "DECISIONS_EXTENSION",
    "KEYS_EXTENSION",
    "database",
    "decisions",
    "init_app",
    "key_cache",
    "warm",
]

log = logging.getLogger(__name__)

DB_EXTENSION = "rulebook.db"
KEYS_EXTENSION = "rulebook.keys"
DECISIONS_EXTENSION = "rulebook.decisions"


def init_app(app: Flask) -> None:
    """Give ``app`` its database (unless its factory made one), its decision service and its
    API key cache; calling it again changes nothing."""
    if DB_EXTENSION not in app.extensions:
        app.extensions[DB_EXTENSION] = Database(app.config.get("DATABASE_URL"))
    app.extensions.setdefault(KEYS_EXTENSION, KeyCache())
    app.extensions.setdefault(DECISIONS_EXTENSION, DecisionService(app.extensions[DB_EXTENSION]))


def database() -> Database:
    """The current app's database."""
    db: Database = current_app.extensions[DB_EXTENSION]
    return db


def decisions() -> DecisionService:
    """The current app's decision service."""
    found: DecisionService = current_app.extensions[DECISIONS_EXTENSION]
    return found


def key_cache() -> KeyCache:
    """The current app's cache of verified API keys."""
    keys: KeyCache = current_app.extensions[KEYS_EXTENSION]
    return keys


def warm(app: Flask) -> None:
    """Do before a server process takes requests what its first ones would otherwise do: the
    ORM's mappers configured, the API key lookup compiled (a lookup of a key that cannot
    exist), each active ruleset's version read and compiled, the group commit's connection
    opened with its statements prepared (:meth:`DecisionService.warm`). ``rulebook serve``'s
    workers call it (:func:`review_app.serve_app`). A database that cannot be used yet is
    logged, not raised: the worker starts anyway, ``/readyz`` says what is wrong, and the
    first requests do the rest."""
    started = time.perf_counter()
    try:
        configure_mappers()
        db: Database = app.extensions[DB_EXTENSION]
        # The hot path's own key lookup, with a key that cannot exist (None, not remembered).
        app.extensions[KEYS_EXTENSION].get(db.sessions, "rbk_warm_up")
        compiled = app.extensions[DECISIONS_EXTENSION].warm()
    except Exception:
        log.warning("warm-up incomplete: the first requests will do the rest", exc_info=True)
        return
    log.info(
        "warmed up: %d ruleset versions compiled in %.0f ms",
        compiled,
        (time.perf_counter() - started) * 1000,
    )
