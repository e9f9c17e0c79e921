"""review_app.create_app: configuration, the secret key, one database per app."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from review_app import create_app, secret_key
from rules.store import default_url
from tests.rules.api.conftest import db_of


def test_the_secret_key_is_generated_once_and_private(tmp_path: Path) -> None:
    folder = tmp_path / "instance"
    first = secret_key(folder)
    assert len(first) == 64
    assert secret_key(folder) == first
    assert stat.S_IMODE((folder / "secret_key").stat().st_mode) == 0o600
    assert [p.name for p in folder.iterdir()] == ["secret_key"]  # no temporary files left


def test_configuration_comes_from_the_environment_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RULEBOOK_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("RULEBOOK_DATABASE_URL", f"sqlite:///{tmp_path / 'env.sqlite3'}")
    monkeypatch.delenv("RULEBOOK_SECRET_KEY", raising=False)
    app = create_app()
    db_of(app).dispose()
    assert app.config["DATABASE_URL"] == default_url() == db_of(app).url
    assert app.config["SECRET_KEY"] == (tmp_path / "secret_key").read_text()
    assert not app.testing
    monkeypatch.setenv("RULEBOOK_SECRET_KEY", "from-the-environment")
    app = create_app()
    db_of(app).dispose()
    assert app.config["SECRET_KEY"] == "from-the-environment"


def test_test_config_overrides_and_each_app_has_its_own_database(sqlite_url: str) -> None:
    config = {"TESTING": True, "DATABASE_URL": sqlite_url, "SECRET_KEY": "s"}
    one, two = create_app(config), create_app(config)
    try:
        assert one.testing
        assert one.config["SECRET_KEY"] == "s"
        assert db_of(one) is not db_of(two)
        assert db_of(one).url == sqlite_url
    finally:
        db_of(one).dispose()
        db_of(two).dispose()
