"""Where the embedded database lives: a user-writable instance folder, never the package."""

from __future__ import annotations

from pathlib import Path

import pytest

from rules.store import default_url, instance_path


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in ("RULEBOOK_HOME", "RULEBOOK_INSTANCE_PATH", "RULEBOOK_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_the_instance_folder_is_in_the_working_directory_by_default(
    clean: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert instance_path() == (tmp_path / "instance").resolve()
    assert default_url() == f"sqlite:///{(tmp_path / 'instance').resolve()}/rulebook.sqlite3"


def test_rulebook_home_names_it_and_wins_over_the_older_name(
    clean: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean.setenv("RULEBOOK_INSTANCE_PATH", str(tmp_path / "old"))
    assert instance_path() == (tmp_path / "old").resolve()  # the older name still works
    clean.setenv("RULEBOOK_HOME", str(tmp_path / "home"))
    assert instance_path() == (tmp_path / "home").resolve()
    clean.setenv("RULEBOOK_DATABASE_URL", "postgresql+psycopg://db/rulebook")
    assert default_url() == "postgresql+psycopg://db/rulebook"
