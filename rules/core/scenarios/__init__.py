"""Test scenarios (DESIGN §5), the pure part: a scenario's facts checked against a ruleset's
inputs and its expectations against its outputs (:mod:`~rules.core.scenarios.check`), a
scenario run under a document (:mod:`~rules.core.scenarios.run`), and scenarios read from CSV,
YAML or a DMN TCK test file (:mod:`~rules.core.scenarios.files`). No I/O, no database.
"""

from __future__ import annotations

from rules.core.scenarios.check import SCENARIO_ID, ScenarioData, check_scenario
from rules.core.scenarios.files import read_scenarios
from rules.core.scenarios.run import ScenarioOutcome, run_scenario, run_scenarios

__all__ = [
    "SCENARIO_ID",
    "ScenarioData",
    "ScenarioOutcome",
    "check_scenario",
    "read_scenarios",
    "run_scenario",
    "run_scenarios",
]
