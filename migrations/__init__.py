"""Rulebook's Alembic migrations, one history for every table (``rules.store.models``).

Installed as the package ``rulebook_migrations`` (see ``pyproject.toml``), so that an
installed ``rulebook db upgrade`` finds ``env.py``, ``script.py.mako`` and ``versions/``
(:func:`rules.store.migrate.migrations_folder`). Alembic loads these files itself; nothing
imports this package but to find its folder.
"""
