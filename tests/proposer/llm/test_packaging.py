"""litellm is pinned to the one version that passed our checks, and only the LLM client
imports it, lazily: the decision service never pays its ~2 s and ~160 MB."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata

PINNED = "1.101.6"  # docs/notes/litellm.md: later ones need mcp/fastapi; 1.82.7-8 malicious
SERVICE = ["rules", "rules.api", "rules.cli", "proposer", "proposer.llm", "proposer.llm.agent"]


def test_litellm_is_exactly_the_pinned_version() -> None:
    assert metadata.version("litellm") == PINNED


def _loaded_after_each(modules: list[str], watched: str) -> dict[str, bool]:
    """For each module imported in turn (in a fresh interpreter): is ``watched`` loaded yet?"""
    code = (
        "import importlib, json, sys\n"
        "seen = {}\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        f"    seen[m] = {watched!r} in sys.modules\n"
        "print(json.dumps(seen))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    loaded: dict[str, bool] = json.loads(proc.stdout)
    return loaded


def test_importing_the_service_does_not_import_litellm() -> None:
    assert _loaded_after_each(SERVICE, "litellm") == dict.fromkeys(SERVICE, False)


def test_the_check_would_notice_a_module_being_imported() -> None:
    assert _loaded_after_each(["rules", "wave"], "wave") == {
        "rules": False,
        "wave": True,
    }
