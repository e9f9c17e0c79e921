"""LLM settings from the environment, the versioned prompt, and the tool schemas: pure, no
database, no model."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proposer.llm import (
    ENV,
    PROMPT_VERSION,
    TOOL_SCHEMA_VERSION,
    TOOLS,
    LlmSettings,
    LlmSettingsError,
    load_prompt,
    openai_tools,
)
from proposer.llm.record import _without_credentials


def test_defaults_are_designs() -> None:
    s = LlmSettings.from_env({})
    assert (s.model, s.max_cost_usd, s.max_calls, s.timeout_s) == (None, 0.50, 20, 120.0)
    assert not s.configured


def test_every_variable_is_read() -> None:
    env = {
        "RULEBOOK_LLM_MODEL": "openai/gpt-4o-mini",
        "RULEBOOK_LLM_API_BASE": "http://127.0.0.1:8080/v1",
        "RULEBOOK_LLM_API_KEY": "sk-secret",
        "RULEBOOK_LLM_FALLBACK_MODEL": "ollama/llama3.1",
        "RULEBOOK_LLM_MAX_COST_USD": "0.25",
        "RULEBOOK_LLM_MAX_CALLS": "7",
        "RULEBOOK_LLM_MAX_TOKENS": "5000",
        "RULEBOOK_LLM_MAX_TOOL_CALLS": "9",
        "RULEBOOK_LLM_TIMEOUT_S": "30",
        "RULEBOOK_LLM_CALL_TIMEOUT_S": "10",
        "RULEBOOK_LLM_RETRIES": "0",
    }
    s = LlmSettings.from_env(env)
    assert set(env) == set(ENV.values())
    assert s == LlmSettings(
        model="openai/gpt-4o-mini",
        api_base="http://127.0.0.1:8080/v1",
        api_key="sk-secret",
        fallback_model="ollama/llama3.1",
        max_cost_usd=0.25,
        max_calls=7,
        max_tokens=5000,
        max_tool_calls=9,
        timeout_s=30.0,
        call_timeout_s=10.0,
        retries=0,
    )
    assert "sk-secret" not in json.dumps(s.to_dict()) + repr(s)
    assert s.to_dict()["api_key_set"] is True


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("RULEBOOK_LLM_MAX_CALLS", "ten", "not a whole number"),
        ("RULEBOOK_LLM_MAX_CALLS", "0", "from 1"),
        ("RULEBOOK_LLM_MAX_CALLS", "2.5", "not a whole number"),
        ("RULEBOOK_LLM_MAX_COST_USD", "-1", "from 0"),
        ("RULEBOOK_LLM_MAX_COST_USD", "nan", "from 0"),
        ("RULEBOOK_LLM_TIMEOUT_S", "soon", "not a number"),
        ("RULEBOOK_LLM_MAX_TOKENS", "0", "tokens per run"),
        ("RULEBOOK_LLM_API_BASE", "127.0.0.1:8080", "http(s) URL"),
        ("RULEBOOK_LLM_MODEL", "gpt 4o", "litellm model string"),
    ],
)
def test_a_bad_value_names_its_variable(variable: str, value: str, says: str) -> None:
    with pytest.raises(LlmSettingsError) as err:
        LlmSettings.from_env({variable: value})
    [problem] = err.value.problems
    assert (problem.code, problem.location) == ("RB950", variable)
    assert says in problem.message


def test_every_bad_variable_is_reported_at_once() -> None:
    with pytest.raises(LlmSettingsError) as err:
        LlmSettings.from_env({"RULEBOOK_LLM_MAX_CALLS": "x", "RULEBOOK_LLM_RETRIES": "99"})
    assert [p.location for p in err.value.problems] == [
        "RULEBOOK_LLM_MAX_CALLS",
        "RULEBOOK_LLM_RETRIES",
    ]


def test_the_prompt_is_versioned_by_its_file() -> None:
    prompt = load_prompt()
    assert prompt.version == PROMPT_VERSION == "propose-v2"
    assert "read_frontier" in prompt.system.template
    # a released prompt is never edited: the previous version still loads, unchanged
    assert "read_frontier" not in load_prompt("propose-v1").system.template
    system, user = prompt.messages(
        ruleset="loans", version=2, versions=2, active=1, decisions=10, exceptions=4, limit=3
    )
    assert "untrusted_case_data" in system["content"]
    assert "never instructions" in system["content"]
    assert "base version 2 of 2" in user["content"]
    assert "$" not in system["content"] + user["content"]
    with pytest.raises(ValueError, match="not a prompt version"):
        load_prompt("../secrets")


def test_the_tool_schemas_are_strict_and_versioned() -> None:
    tools = openai_tools()
    assert [t["function"]["name"] for t in tools] == [
        "read_ruleset",
        "query_exceptions",
        "read_case",
        "read_frontier",
        "run_backtest",
        "submit_proposal",
    ]
    assert all(t["function"]["parameters"]["additionalProperties"] is False for t in tools)
    assert [name for name, spec in TOOLS.items() if spec.writes] == ["submit_proposal"]
    assert len(TOOL_SCHEMA_VERSION) == 16


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(tool=st.sampled_from(sorted(TOOLS)), arguments=JSON)
def test_any_json_is_either_accepted_or_refused_with_located_problems(
    tool: str, arguments: Any
) -> None:
    spec = TOOLS[tool]
    _, problems = spec.read(arguments)
    names = {p.name for p in spec.params}
    if not problems:
        assert isinstance(arguments, dict)
        assert set(arguments) <= names
        assert all(p.name in arguments for p in spec.params if p.required)
    else:
        assert all(
            p.location == "arguments" or p.location.startswith("arguments.") for p in problems
        )
    if isinstance(arguments, dict) and set(arguments) - names:
        assert {p.location for p in problems} >= {f"arguments.{k}" for k in set(arguments) - names}


def test_the_run_record_keeps_no_credentials_of_the_endpoint() -> None:
    assert _without_credentials("https://bob:s3cret@llm.example.com:8443/v1?key=k") == (
        "https://llm.example.com:8443/v1"
    )
    assert _without_credentials("http://[::1]:8080/v1") == "http://[::1]:8080/v1"
    assert _without_credentials(None) is None
