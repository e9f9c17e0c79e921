"""The hashed locks in requirements/ are those of pyproject.toml's ranges: every requirement is
met by a locked version, every locked line carries hashes, each lock records the digest of the
arrays it was compiled from, and this environment was installed from the dev lock.

A stale lock fails here; ``make lock`` refreshes it (see requirements/lock.py)."""

from __future__ import annotations

import importlib.util
import re
import shutil
from importlib import metadata
from pathlib import Path
from types import ModuleType

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
# Each lock and the arrays it must satisfy, on the Python it is for.
LOCKS = {
    "build.txt": (("build-system",), "3.11"),
    "lock.txt": (("dependencies",), "3.11"),
    "dev-lock.txt": (("dependencies", "dev"), "3.11"),
    "client-py39.txt": (("client",), "3.9"),
}
ENTRY = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)==(?P<version>\S+)(?P<rest>.*)$")
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")

Locked = dict[str, tuple[str, frozenset[str]]]


def _lock_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lock", ROOT / "requirements" / "lock.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


LOCK = _lock_module()


def read_lock(path: Path) -> tuple[str | None, Locked, list[str]]:
    """The digest line, the pins (name → version, hashes), and the lines that are no pin."""
    text = path.read_text(encoding="utf-8")
    digest = next(
        (
            line.removeprefix(LOCK.DIGEST_PREFIX)
            for line in text.splitlines()
            if line.startswith(LOCK.DIGEST_PREFIX)
        ),
        None,
    )
    locked: Locked = {}
    bad = []
    for entry in re.sub(r"\\\n\s*", " ", text).splitlines():
        entry = entry.split("#", 1)[0].strip()
        if not entry:
            continue
        found = ENTRY.match(entry)
        hashes = frozenset(HASH.findall(entry))
        if not found or not hashes or len(hashes) != entry.count("--hash="):
            bad.append(entry)
            continue
        locked[canonicalize_name(found["name"])] = (found["version"], hashes)
    return digest, locked, bad


def problems(root: Path) -> list[str]:
    """What is wrong with the locks under ``root`` against its pyproject files."""
    arrays = LOCK.inputs(root)
    digest = LOCK.inputs_digest(arrays)
    found = []
    for name, (groups, python) in LOCKS.items():
        recorded, locked, bad = read_lock(root / "requirements" / name)
        found += [f"{name}: not pinned with hashes: {line[:80]}" for line in bad]
        if recorded != digest:
            found.append(f"{name}: compiled from other inputs ({recorded} != {digest})")
        env = {**default_environment(), "python_version": python, "sys_platform": "linux"}
        for group in groups:
            for text in arrays[group]:
                req = Requirement(text)
                if req.marker is not None and not req.marker.evaluate(env):
                    continue
                pin = locked.get(canonicalize_name(req.name))
                if pin is None or not req.specifier.contains(pin[0], prereleases=True):
                    found.append(f"{name}: {text!r} is not met by {pin and pin[0]}")
    return found


def test_the_locks_match_pyproject() -> None:
    assert problems(ROOT) == []


def test_a_changed_range_makes_the_lock_stale(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "requirements", tmp_path / "requirements")
    (tmp_path / "clients/python").mkdir(parents=True)
    shutil.copy(ROOT / "clients/python/pyproject.toml", tmp_path / "clients/python")
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"Flask>=3.1.3,<3.2",' in text
    (tmp_path / "pyproject.toml").write_text(
        text.replace('"Flask>=3.1.3,<3.2",', '"Flask>=3.2,<3.3",'), encoding="utf-8"
    )
    found = problems(tmp_path)
    assert "lock.txt: 'Flask>=3.2,<3.3' is not met by 3.1.3" in found
    assert "dev-lock.txt: 'Flask>=3.2,<3.3' is not met by 3.1.3" in found
    assert sum("compiled from other inputs" in p for p in found) == len(LOCKS)


def test_an_unhashed_line_is_found(tmp_path: Path) -> None:
    lock = tmp_path / "lock.txt"
    lock.write_text(
        "flask==3.1.3 \\\n    --hash=sha256:" + "a" * 64 + "\nclick==8.3.1\n", encoding="utf-8"
    )
    _, locked, bad = read_lock(lock)
    assert list(locked) == ["flask"]
    assert bad == ["click==8.3.1"]


def test_the_runtime_lock_agrees_with_the_dev_lock() -> None:
    _, runtime, _ = read_lock(ROOT / "requirements/lock.txt")
    _, dev, _ = read_lock(ROOT / "requirements/dev-lock.txt")
    assert {name: runtime[name] for name in runtime} == {name: dev[name] for name in runtime}


@pytest.mark.parametrize("lock", ["dev-lock.txt", "build.txt"])
def test_this_environment_was_installed_from_the_locks(lock: str) -> None:
    _, locked, _ = read_lock(ROOT / "requirements" / lock)
    installed = {name: metadata.version(name) for name in locked}
    assert installed == {name: version for name, (version, _) in locked.items()}
