"""rulebook-client is a distribution of its own: it builds into a typed wheel that needs httpx
alone, and that wheel works on Python 3.9 against the live server.

The 3.9 venv is installed from ``requirements/client-py39.txt`` (hashed) once, and kept in
pytest's cache until that lock changes; each run reinstalls the freshly built wheel into it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
import rulebook_client

from tests.clients.conftest import APPROVE, Live

pytestmark = pytest.mark.xdist_group("client-py39")

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "python"
LOCK = ROOT / "requirements" / "client-py39.txt"
PY39 = Path(os.environ.get("RULEBOOK_TEST_PYTHON39", "/root/.pyenv/versions/3.9.18/bin/python"))
SMOKE = Path(__file__).with_name("py39_smoke.py")


def _run(*args: str | Path, timeout: float = 120) -> str:
    done = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{args}: {done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The client's wheel, built as a user would (setuptools from the build lock)."""
    out = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    _run(*pip, "--wheel-dir", out, CLIENT)
    (built,) = out.glob("rulebook_client-*.whl")
    return built


def test_the_wheel_is_typed_and_needs_only_httpx(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(archive.read(meta_name).decode("utf-8"))
    assert "rulebook_client/py.typed" in names
    assert all(n.startswith(("rulebook_client/", "rulebook_client-")) for n in names), names
    assert meta["Name"] == "rulebook-client"
    assert meta["Version"] == rulebook_client.__version__
    assert meta["Requires-Python"] == ">=3.9"
    assert meta.get_all("Requires-Dist") == ["httpx<1,>=0.23"]


@pytest.fixture(scope="module")
def python39(request: pytest.FixtureRequest, wheel: Path) -> Path:
    """A 3.9 venv with the client's locked dependencies (cached) and this wheel."""
    if not PY39.exists():
        pytest.skip(f"no Python 3.9 at {PY39} (set RULEBOOK_TEST_PYTHON39)")
    home = Path(request.config.cache.mkdir("client-py39"))
    key = hashlib.sha256(LOCK.read_bytes() + str(PY39).encode()).hexdigest()
    stamp, venv = home / "stamp", home / "venv"
    python = venv / "bin" / "python"
    if not stamp.exists() or stamp.read_text() != key:
        shutil.rmtree(venv, ignore_errors=True)
        _run(PY39, "-m", "venv", venv)
        _run(python, "-m", "pip", "install", "-q", "--require-hashes", "-r", LOCK, timeout=300)
        stamp.write_text(key)
    install = [python, "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall"]
    _run(*install, "--disable-pip-version-check", wheel)
    return python


def test_the_client_works_on_python_39(python39: Path, live: Live) -> None:
    out = json.loads(_run(python39, SMOKE, live.url, live.key, json.dumps(APPROVE), timeout=60))
    assert out["python"] == [3, 9]
    assert out["decide"] == [True, False, True]
    assert out["outputs"] == {"outcome": "approve", "reason": "Low debt ratio and clean credit"}
    assert out["batch"] == [2, True]
    assert (out["resolution"], out["replay"]) == ("on 3.9", True)
    assert (out["rulesets"], out["versions"]) == (["mortgage-approval"], [1])
    assert out["invalid"] == [["facts.insurence", "insurance"]]
    assert out["missing"] == 404
    assert out["async"] == [True] * 5
    assert out["installed"] == [False, False, False]
