"""The engine core imports no web, database or LLM framework (DESIGN §1)."""

from __future__ import annotations

import subprocess
import sys

CORE = [
    "rules",
    "rules.document",
    "rules.validate",
    "rules.check",
    "rules.logic",
    "rules.compile",
    "rules.engine",
    "rules.result",
    "rules.facts",
    "rules.dmn",
    "rules.feel",
    "rules.cli",
]
FORBIDDEN = ("flask", "sqlalchemy", "litellm", "alembic", "wtforms", "proposer", "review_app")


def test_core_imports_no_framework() -> None:
    code = (
        "import sys, importlib\n"
        f"for m in {CORE!r}: importlib.import_module(m)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""


def test_the_check_would_notice_a_forbidden_import() -> None:
    code = "import sys, json; import rules; print('json' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.stdout.strip() == "True"
