"""The backtest (DESIGN §5): a window of the decision log replayed under a base and a candidate.

    from proposer.backtest import Window, backtest
    report = backtest(session, "mortgage-approval", candidate, window=Window.parse("last:10000"))
    report.changed, report.transitions["outcome"], report.to_dict()

:mod:`~proposer.backtest.window` selects the decisions, :mod:`~proposer.backtest.run` replays
them, streaming, and :mod:`~proposer.backtest.report` defines every figure reported.
"""

from __future__ import annotations

from proposer.backtest.report import Backtest, ChangedDecision
from proposer.backtest.run import CACHE, KEEP, backtest
from proposer.backtest.window import Window
from proposer.errors import BacktestError

__all__ = ["CACHE", "KEEP", "Backtest", "BacktestError", "ChangedDecision", "Window", "backtest"]
