"""The system of record's store: the database handle, the tables and the services on them.

- :mod:`~rules.store.database`: :class:`Database` (an engine and sessions for one URL), the
  default URL and the instance folder; :mod:`~rules.store.pool`: its pool and time-outs
  from the environment (:class:`PoolSettings`);
- :mod:`~rules.store.extension`: ``init_app``, which gives a Flask app its database and the
  services bound to it (Flask's ``init_app`` pattern), and the accessors views use;
- :mod:`~rules.store.migrate`: Alembic's configuration and ``upgrade``;
- :mod:`~rules.store.models`: every table, on one metadata;
- :mod:`~rules.store.versions`: rulesets, immutable versions, activation;
- :mod:`~rules.store.decisions`: the one decide-and-record service, resolutions, replay;
- :mod:`~rules.store.decision_log`: the decision log streamed for readers of many decisions;
- :mod:`~rules.store.accounts`: users and API keys; :mod:`~rules.store.settings`: operator
  settings (the LLM kill switch); :mod:`~rules.store.credentials`: password checks, throttled
  (:mod:`~rules.store.login_throttle`) and audited, and the sessions they open
  (:mod:`~rules.store.user_sessions`);
- :mod:`~rules.store.history`: importing past decisions from CSV;
- :mod:`~rules.store.demo`: the HMDA demo, its data shipped in the package;
- :mod:`~rules.store.pages`: keyset pages, newest first, for the searches people page through.

Services take a SQLAlchemy session (or the :class:`Database`) and return frozen dataclasses;
rows do not leave the package. The store may import :mod:`rules.core`, :mod:`rules.audit`
(each change appends its audit event) and :mod:`rules.errors`; never :mod:`rules.api`,
:mod:`rules.cli`, the proposer or the review app. Only the handle is imported here, so that
the audit package, which reads the tables, can import :mod:`rules.store.models` first.
"""

from __future__ import annotations

from rules.store.database import Database, default_url, instance_path
from rules.store.migrate import migrations_config, upgrade
from rules.store.pool import PoolSettings

__all__ = [
    "Database",
    "PoolSettings",
    "default_url",
    "instance_path",
    "migrations_config",
    "upgrade",
]
