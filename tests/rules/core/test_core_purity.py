"""The engine core imports no web, database or LLM framework (DESIGN §1): a property of the
whole ``rules.core`` package, every module under it, found by walking it (not a list)."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import rules.core

FORBIDDEN = (
    "flask",
    "werkzeug",
    "sqlalchemy",
    "alembic",
    "litellm",
    "wtforms",
    "proposer",
    "review_app",
)

# In a fresh interpreter: walk rules.core, import every module, then list what got loaded.
PROBE = """
import importlib, json, pkgutil, sys
import {package}
names = [{package!r}] + [
    m.name for m in pkgutil.walk_packages({package}.__path__, {package!r} + ".")
]
for name in names:
    importlib.import_module(name)
bad = sorted(m for m in sys.modules if m.split(".")[0] in {forbidden!r})
print(json.dumps({{"imported": names, "forbidden": bad}}))
"""


def _probe(package: str, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    code = PROBE.format(package=package, forbidden=forbidden)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    found: dict[str, list[str]] = json.loads(proc.stdout)
    return found


def test_no_module_of_the_core_imports_a_framework() -> None:
    found = _probe("rules.core", FORBIDDEN)
    assert found["forbidden"] == []


def test_the_walk_reaches_every_module_of_the_core() -> None:
    expected = {
        m.name for m in pkgutil.walk_packages(rules.core.__path__, "rules.core.") if not m.ispkg
    }
    found = set(_probe("rules.core", FORBIDDEN)["imported"])
    assert expected <= found
    # The walk goes into sub-packages, so a module added anywhere below is checked too.
    assert {"rules.core.engine.runtime", "rules.core.dmn.feel", "rules.core.check.domains"} <= found


def test_the_check_would_notice_a_forbidden_import() -> None:
    # rules.api is not part of the core: it brings Flask, which the probe must report.
    found = _probe("rules.api", ("flask",))
    assert found["forbidden"]
