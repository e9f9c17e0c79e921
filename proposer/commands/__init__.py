"""The ``rulebook`` verbs the proposer adds (``propose``, ``backtest``, ``proposals``,
``proposer``), found through the ``rulebook.commands`` entry-point group (``rules`` never
imports ``proposer``).

They are wrapped by :func:`rules.cli.service.service_command` like the store's verbs: its
``--database-url``, ``--json``, a :class:`~rules.cli.service.Cli`, and every error of the one
tree (the proposer's included) shown by :func:`rules.cli.output.fail` with its exit code (1; 3
for a proposal that does not exist). Nothing is written when a verb fails: its transaction is
rolled back.
"""
