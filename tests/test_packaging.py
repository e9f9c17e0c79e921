"""Rulebook is an installable product (DESIGN §1): the built wheel, installed into a fresh
virtualenv, works from an empty folder, with its migrations and demo data inside it.

The wheel test builds the wheel, installs it (and litellm from the same hash-pinned file the
Makefile uses; pip's cache makes it quick) and runs ``rulebook db upgrade``, ``ruleset
create``, ``decide``, ``demo load`` and ``serve`` in a temporary folder with no RULEBOOK_*
variables, so nothing can come from the source checkout. It runs in an xdist group of its
own so that it does not hold up the other tests' worker for long.

The wheel and its virtualenv are made by ``deploy/build.sh``, the script the Dockerfile runs;
the container test runs the script's remaining step (the instance folder) and then what the
image runs: compose's migration command, the image's CMD with its ENV, and its HEALTHCHECK
command until it passes. No container runtime is needed: the image differs from this only by
its base image.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shlex
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
import yaml

from rules.store.migrate import MIGRATIONS_PACKAGE

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("rules", "proposer", "review_app")
BUILD = ROOT / "deploy" / "build.sh"  # the container's build steps
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
    """A fresh virtualenv with the built wheel installed, made by the container's build
    script (deploy/build.sh, as the Dockerfile runs it); its ``bin`` folder."""
    where = tmp_path_factory.mktemp("wheel")
    # Built from a copy of the tree, so that the build leaves nothing in the checkout.
    source, dist, venv = where / "source", where / "dist", where / "venv"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(where), "PYTHON": sys.executable}
    # The locked, hashed tree (as make run and the container install it), then the wheel.
    _run(["sh", str(BUILD), "venv", str(venv), str(ROOT / "requirements")], where, env)
    _run(["sh", str(BUILD), "wheel", str(venv), str(source), str(dist)], where, env)
    (wheel,) = dist.glob("rulebook-*.whl")
    assert wheel.name.startswith("rulebook-0.1.0-py3-none-any")
    _run(["sh", str(BUILD), "app", str(venv), str(dist)], where, env)
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


def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions, ``(INSTRUCTION, arguments)``, continuations joined."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    joined = re.sub(r"\\\n\s*", " ", text)
    found = []
    for line in joined.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def build_steps() -> list[list[str]]:
    """Each ``deploy/build.sh`` call the Dockerfile makes, as its words after the script."""
    steps = []
    for word, rest in dockerfile():
        if word == "RUN":
            for command in rest.split("&&"):
                words = shlex.split(command)
                if any(w.endswith("build.sh") for w in words):
                    at = next(i for i, w in enumerate(words) if w.endswith("build.sh"))
                    steps.append(words[at + 1 :])
    return steps


def _image_env(**changes: str) -> dict[str, str]:
    env = {}
    for word, rest in dockerfile():
        if word == "ENV":
            name, _, value = rest.partition("=")
            env[name] = value
    return env | changes


def _healthy(command: str, env: dict[str, str]) -> bool:
    done = subprocess.run(["sh", "-c", command], env=env, capture_output=True, timeout=30)
    return done.returncode == 0


@pytest.mark.slow
@pytest.mark.xdist_group("wheel")
def test_the_image_build_steps_run_migrate_and_serve_a_healthy_instance(
    installed: Path, tmp_path: Path
) -> None:
    """What the image is: the fixture ran build.sh's venv, wheel and app steps; here its
    layout step, then compose's migration command and the image's CMD with the image's
    ENV (paths moved into tmp_path), until the image's HEALTHCHECK command passes."""
    steps = build_steps()
    assert [s[0] for s in steps] == ["venv", "wheel", "app", "layout"]
    assert steps[-1][2:] == ["rulebook"]  # the image's non-root user
    instructions = dict(dockerfile())  # the last of each instruction (the runtime stage)
    assert instructions["USER"] == "rulebook"
    assert len([w for w, _ in dockerfile() if w == "FROM"]) == 2  # multi-stage

    home = tmp_path / "var-lib-rulebook"
    owner = "nobody" if os.geteuid() == 0 and _user_exists("nobody") else ""
    _run(["sh", str(BUILD), "layout", str(home), *([owner] if owner else [])], tmp_path)
    assert home.stat().st_mode & 0o777 == 0o700
    if owner:
        assert pwd.getpwuid(home.stat().st_uid).pw_name == owner

    port = _free_port()
    env = _image_env(
        PATH=f"{installed}:/usr/bin:/bin",
        HOME=str(tmp_path),
        RULEBOOK_HOME=str(home),
        RULEBOOK_HOST="127.0.0.1",
        RULEBOOK_PORT=str(port),
    )
    assert env["RULEBOOK_LOG_FORMAT"] == "json"
    healthcheck = instructions["HEALTHCHECK"].split(" CMD ", 1)[1]
    assert not _healthy(healthcheck, env)  # nothing is listening yet: the check can fail

    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    _run(compose["services"]["migrate"]["command"], tmp_path, env)
    assert (home / "rulebook.sqlite3").is_file()

    log = tmp_path / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            json.loads(instructions["CMD"]),
            cwd=home,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while not _healthy(healthcheck, env):
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the HEALTHCHECK never passed"
            time.sleep(0.3)
        status, ready = _get(f"http://127.0.0.1:{port}/readyz")
        assert (status, ready["status"]) == (200, "ready")  # migrated by compose's command
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    assert server.returncode == 0, log.read_text()
    lines = [json.loads(line) for line in log.read_text().splitlines()]  # json, one a line
    assert any(line["logger"] == "gunicorn.access" for line in lines)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
