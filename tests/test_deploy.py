"""compose.yaml and the Dockerfile, read as data: the services, their order, health checks and
environment. (The build steps themselves run in tests/test_packaging.py.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from review_app.serving import ServeSettings
from rules.logs import LogSettings
from rules.store import PoolSettings
from tests.test_packaging import build_steps, dockerfile

ROOT = Path(__file__).resolve().parents[1]
VARIABLE = re.compile(r"\$\{(\w+)(?::([-?])([^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    found: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    return found


def _defaults(value: str) -> str:
    """``value`` as compose interpolates it with nothing set (``${X:-d}`` is ``d``)."""
    return VARIABLE.sub(lambda m: m.group(3) if m.group(2) == "-" else "set", value)


def test_the_services_start_in_order_database_migration_service(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"db", "migrate", "rulebook"}
    assert services["db"]["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    migrate = services["migrate"]
    assert migrate["command"] == ["rulebook", "db", "upgrade"]
    assert migrate["restart"] == "no"  # one shot
    assert migrate["depends_on"] == {"db": {"condition": "service_healthy"}}
    app = services["rulebook"]
    assert app["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    assert "command" not in app  # the image's CMD: rulebook serve
    assert "/healthz" in " ".join(app["healthcheck"]["test"])
    assert migrate["image"] == app["image"]
    assert migrate["build"] == app["build"] == "."


def test_both_rulebook_services_use_the_compose_database(compose: dict[str, Any]) -> None:
    for name in ("migrate", "rulebook"):
        url = _defaults(compose["services"][name]["environment"]["RULEBOOK_DATABASE_URL"])
        assert url == "postgresql+psycopg://rulebook:rulebook@db:5432/rulebook"
    db = compose["services"]["db"]["environment"]
    assert (db["POSTGRES_DB"], db["POSTGRES_USER"]) == ("rulebook", "rulebook")


def test_the_service_environment_is_valid_and_documented(compose: dict[str, Any]) -> None:
    env = {k: _defaults(str(v)) for k, v in compose["services"]["rulebook"]["environment"].items()}
    assert (
        "${RULEBOOK_SECRET_KEY:?"
        in compose["services"]["rulebook"]["environment"]["RULEBOOK_SECRET_KEY"]
    )  # required: every replica must sign sessions with the same key
    # Every default is a value the settings accept (SettingsError otherwise).
    assert ServeSettings.from_env(env).workers == 5
    assert PoolSettings.from_env(env).pool_size == 5
    assert LogSettings.from_env(env).format == "json"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in env:
        assert f"`{name}`" in readme, f"{name} is not in the README's configuration tables"


def test_the_dockerfile_runs_the_build_script_as_a_non_root_user() -> None:
    instructions = dockerfile()
    words = [w for w, _ in instructions]
    assert words.count("FROM") == 2
    assert any(rest.endswith("AS build") for w, rest in instructions if w == "FROM")
    assert [s[0] for s in build_steps()] == ["venv", "wheel", "app", "layout"]
    last = dict(instructions)
    assert last["USER"] == "rulebook"
    assert last["CMD"] == '["rulebook", "serve"]'
    assert "/healthz" in last["HEALTHCHECK"]
    assert words.index("USER") > words.index("RUN", words.index("COPY", 0))
    dockerignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".git", ".venv", "instance"} <= set(dockerignore)
