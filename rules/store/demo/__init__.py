"""The Boston HMDA demo (``rulebook demo load``, ``make run``): its ruleset (``hmda.yaml``), the
2,380 real applications with the lender's decisions (``hmda_boston.csv``; ``README.md`` says
what each column means, ``SOURCE.md`` where the file comes from and on what terms), shipped
in this package so that an installed ``rulebook`` finds them; and
:mod:`~rules.store.demo.load`, which records them.
"""

from __future__ import annotations

from rules.store.demo.load import (
    DEMO_CSV,
    DEMO_RULESET,
    DEMO_SPEC,
    EXAMPLE_FACTS,
    DemoLoad,
    is_empty,
    load_demo,
)

__all__ = [
    "DEMO_CSV",
    "DEMO_RULESET",
    "DEMO_SPEC",
    "EXAMPLE_FACTS",
    "DemoLoad",
    "is_empty",
    "load_demo",
]
