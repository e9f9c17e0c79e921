"""What the API keeps on the Flask app: the shared database, the API key cache and the
decision recorder (the one-statement hot path)."""

from __future__ import annotations

from flask import Flask, current_app

from rules.store import Database
from rules.store.accounts import KeyCache
from rules.store.recorder import Recorder

__all__ = ["DB_EXTENSION", "KEYS_EXTENSION", "database", "install", "key_cache", "recorder"]

DB_EXTENSION = "rulebook.db"
KEYS_EXTENSION = "rulebook.keys"
RECORDER_EXTENSION = "rulebook.recorder"


def install(app: Flask) -> None:
    """Give ``app`` a database (unless its factory made one) and its own key cache."""
    if DB_EXTENSION not in app.extensions:
        app.extensions[DB_EXTENSION] = Database(app.config.get("DATABASE_URL"))
    app.extensions.setdefault(KEYS_EXTENSION, KeyCache())
    app.extensions.setdefault(RECORDER_EXTENSION, Recorder(app.extensions[DB_EXTENSION]))


def database() -> Database:
    db: Database = current_app.extensions[DB_EXTENSION]
    return db


def key_cache() -> KeyCache:
    keys: KeyCache = current_app.extensions[KEYS_EXTENSION]
    return keys


def recorder() -> Recorder:
    found: Recorder = current_app.extensions[RECORDER_EXTENSION]
    return found
