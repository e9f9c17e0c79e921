"""Rulebook is an installable product (DESIGN §1): the built wheel, installed into a fresh
virtualenv, works from an empty folder, with its migrations and demo data inside it.

The wheel test builds the wheel, installs it (and litellm from the same hash-pinned file the
Makefile uses; pip's cache makes it quick) and runs ``rulebook db upgrade``, ``ruleset
create``, ``decide``, ``demo load`` and ``serve`` in a temporary folder with no RULEBOOK_*
variables, so nothing can come from the source checkout. It runs in an xdist group of its
own so that it does not hold up the other tests' worker for long.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from rules.store.migrate import MIGRATIONS_PACKAGE

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("rules", "proposer", "review_app")
STEP_TIMEOUT = 240  # seconds for one step (an install from pip's cache takes far less)
NOT_SOURCE = (".git", ".venv", "build", "dist", "instance", "*.egg-info", "__pycache__", ".*_cache")


def _listed() -> tuple[set[str], dict[str, str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    return set(config["setuptools"]["packages"]), dict(config["setuptools"]["package-dir"])


def _packages_in(folder: Path, name: str) -> set[str]:
    return {
        ".".join((name, *init.parent.relative_to(folder).parts))
        for init in folder.rglob("__init__.py")
    }


def test_every_package_of_the_tree_is_listed_for_the_wheel() -> None:
    listed, mapped = _listed()
    found = set().union(*(_packages_in(ROOT / source, source) for source in SOURCES))
    found |= _packages_in(ROOT / "migrations", MIGRATIONS_PACKAGE)
    assert mapped == {MIGRATIONS_PACKAGE: "migrations"}
    assert listed == found


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=STEP_TIMEOUT, check=False
    )
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, Any]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, json.loads(response.read())


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the built wheel installed; its ``bin`` folder."""
    where = tmp_path_factory.mktemp("wheel")
    # Built from a copy of the tree, so that the build leaves nothing in the checkout.
    source, dist = where / "source", where / "dist"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    wheel_build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist)]
    _run([*wheel_build, str(source)], where)
    (wheel,) = dist.glob("rulebook-*.whl")
    venv = where / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], where)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    # The locked, hashed tree (as make run and the container install it), then the wheel.
    requirements = ROOT / "requirements"
    _run([*pip, "--require-hashes", "-r", str(requirements / "build.txt")], where)
    locked = ["--require-hashes", "--no-build-isolation", "-r", str(requirements / "lock.txt")]
    _run([*pip, *locked], where)
    _run([*pip, "--no-deps", str(wheel)], where)
    return venv / "bin"


@pytest.mark.slow
@pytest.mark.xdist_group("wheel")
def test_the_wheel_installs_and_runs_from_an_empty_folder(installed: Path, tmp_path: Path) -> None:
    work = tmp_path / "empty"
    work.mkdir()
    env = {"PATH": f"{installed}:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    rulebook = str(installed / "rulebook")

    site = _run([str(installed / "python"), "-c", "import rules; print(rules.__file__)"], work, env)
    assert Path(site.strip()).is_relative_to(installed.parent)  # the wheel, not the checkout

    upgraded = json.loads(_run([rulebook, "db", "upgrade", "--json"], work, env))
    assert upgraded["revision"] == upgraded["head"]
    assert (work / "instance" / "rulebook.sqlite3").is_file()  # ./instance by default

    ruleset = work / "loans.yaml"
    text = (ROOT / "examples" / "mortgage.yaml").read_text(encoding="utf-8")
    ruleset.write_text(text.replace("name: mortgage-approval", "name: loans"), encoding="utf-8")
    created = json.loads(_run([rulebook, "ruleset", "create", str(ruleset), "--json"], work, env))
    assert (created["ruleset"], created["version"], created["active"]) == ("loans", 1, True)

    facts = {"pirat": 0.25, "hirat": 0.2, "lvrat": 0.8, "chist": 1, "mhist": 1}
    facts |= {"phist": False, "insurance": False}
    decided = json.loads(
        _run([rulebook, "decide", "loans", "--facts", json.dumps(facts), "--json"], work, env)
    )
    assert (decided["version"], decided["outputs"]["outcome"]) == (1, "approve")

    demo = json.loads(_run([rulebook, "demo", "load", "--json"], work, env))
    assert demo["ruleset"] == "mortgage-approval"
    assert demo["history"]["imported"] == 2380  # the CSV shipped inside the wheel

    _serve(rulebook, work, env)


def _serve(rulebook: str, work: Path, env: dict[str, str]) -> None:
    port, log = _free_port(), work.parent / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [rulebook, "serve", "--port", str(port), "--workers", "1", "--threads", "1"],
            cwd=work,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, body = _get(f"http://127.0.0.1:{port}/healthz")
                break
            except OSError:
                assert server.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "rulebook serve never answered /healthz"
                time.sleep(0.2)
        assert (status, body) == (200, {"status": "ok"})
        status, ready = _get(f"http://127.0.0.1:{port}/readyz")
        assert (status, ready["status"]) == (200, "ready")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    assert server.returncode == 0
