"""Generated documents shared by the engine tests."""

from __future__ import annotations

import random
from typing import Any

from rules.core.document import Document, parse_document


def range_heavy(n: int, seed: int = 1, *, with_category: bool = False) -> Document:
    """``n`` rules of the shape ``f_i >= a and f_j < b and f_k between c, c+25`` (optionally
    ``and cat == X``): the first two tests each hold for about half of all inputs, which is
    what overflows a naive alpha network."""
    rnd = random.Random(seed)
    inputs: list[dict[str, Any]] = [
        {"name": f"f{i}", "type": "number", "min": 0, "max": 100} for i in range(8)
    ]
    if with_category:
        inputs.append({"name": "cat", "type": "string"})
    rules = []
    for r in range(n):
        i, j, k = rnd.sample(range(8), 3)
        low = round(rnd.uniform(0, 60), 1)
        high = round(rnd.uniform(40, 100), 1)
        band = round(rnd.uniform(0, 75), 1)
        cond: list[dict[str, Any]] = [
            {"input": f"f{i}", "op": "ge", "value": low},
            {"input": f"f{j}", "op": "lt", "value": high},
            {"input": f"f{k}", "op": "between", "value": {"low": band, "high": band + 25}},
        ]
        if with_category:
            cond.append({"input": "cat", "op": "eq", "value": f"c{rnd.randrange(20)}"})
        rules.append({"id": f"rule-{r}", "when": {"all": cond}, "then": {"score": r}})
    return parse_document(
        {
            "name": "range-heavy",
            "inputs": inputs,
            "outputs": [{"name": "score", "type": "integer", "default": -1}],
            "hit_policy": "RULE ORDER",
            "rules": rules,
        }
    )


def random_facts(doc: Document, count: int, seed: int = 2) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    out = []
    for _ in range(count):
        facts: dict[str, Any] = {}
        for spec in doc.inputs:
            if spec.type == "string":
                facts[spec.name] = f"c{rnd.randrange(20)}"
            else:
                facts[spec.name] = round(rnd.uniform(0, 100), 2)
        out.append(facts)
    return out
