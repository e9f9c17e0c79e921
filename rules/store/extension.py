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

from flask import Flask, current_app

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
]

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
