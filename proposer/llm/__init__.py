"""The LLM proposer (DESIGN §5): an agent on litellm whose every tool call passes a gateway.

    from proposer.llm import LlmSettings, run_llm_proposer
    result = run_llm_proposer(db, "mortgage-approval", actor="cli:ann", limit=3)
    result.status, result.proposals, result.record["tool_calls"]

:mod:`~proposer.llm.gateway` decides every tool call (allow-list, typed arguments, per-run
limits, PII removed, case data wrapped as data); :mod:`~proposer.llm.agent` runs the loop;
:mod:`~proposer.llm.client` is the only module that imports litellm, lazily; each run's full
record goes to ``llm_runs`` (:mod:`~proposer.llm.record`). Importing this package does not
import litellm.
"""

from __future__ import annotations

from proposer.llm.agent import LlmRunResult, run_llm_proposer
from proposer.llm.budget import Budget, Stop
from proposer.llm.client import LitellmClient, ModelClient, ModelReply, RequestedCall
from proposer.llm.errors import LlmError, LlmSettingsError, ModelCallError
from proposer.llm.gateway import Gateway, GatewayEntry, ToolOutcome, parse_arguments
from proposer.llm.prompt import PROMPT_VERSION, Prompt, load_prompt
from proposer.llm.settings import ENV, LlmSettings
from proposer.llm.tools import TOOL_SCHEMA_VERSION, TOOLS, openai_tools
from proposer.llm.views import UNTRUSTED, WITHHELD

__all__ = [
    "ENV",
    "PROMPT_VERSION",
    "TOOLS",
    "TOOL_SCHEMA_VERSION",
    "UNTRUSTED",
    "WITHHELD",
    "Budget",
    "Gateway",
    "GatewayEntry",
    "LitellmClient",
    "LlmError",
    "LlmRunResult",
    "LlmSettings",
    "LlmSettingsError",
    "ModelCallError",
    "ModelClient",
    "ModelReply",
    "Prompt",
    "RequestedCall",
    "Stop",
    "ToolOutcome",
    "load_prompt",
    "openai_tools",
    "parse_arguments",
    "run_llm_proposer",
]
