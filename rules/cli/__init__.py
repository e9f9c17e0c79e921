"""The ``rulebook`` command line (DESIGN §4): every verb takes ``--json`` and exits non-zero on
any error, with a message naming what was wrong.

- :mod:`~rules.cli.main`: the group (the console script's ``main``) and the engine's verbs;
  :mod:`~rules.cli.dmn`: DMN import, export and TCK runs;
- :mod:`~rules.cli.lazy`: the group that imports verbs on first use, and from entry points;
- :mod:`~rules.cli.output`: ``--json``, printing, reading files, and :func:`fail`, the one place
  an error becomes a message and an exit status;
- :mod:`~rules.cli.service`: what the store-backed verbs share (``--database-url``, a
  :class:`~rules.cli.service.Cli`, database errors said in the user's terms);
- the store-backed verbs: :mod:`~rules.cli.db`, :mod:`~rules.cli.rulesets`,
  :mod:`~rules.cli.decisions`, :mod:`~rules.cli.history`, :mod:`~rules.cli.accounts`,
  :mod:`~rules.cli.audit`, :mod:`~rules.cli.demo`.

It may import click, :mod:`rules.core`, :mod:`rules.store`, :mod:`rules.audit` and
:mod:`rules.errors`. Importing this package (``rulebook eval``, ``rulebook ruleset check``)
loads the pure core and click only; the store-backed modules import SQLAlchemy when one of
their verbs runs.
"""

from __future__ import annotations

from rules.cli.main import main

__all__ = ["main"]
