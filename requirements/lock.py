"""Write the hashed lock files from the dependency ranges in pyproject.toml (``make lock``).

Needs the network (PyPI) and uv, which the dev extra pins. Each file is compiled by
``uv pip compile --generate-hashes`` for CPython on linux x86_64, keeping the versions already
locked unless ``--upgrade`` is given (``make lock UPGRADE=1``):

- ``build.txt``: the build backend (``[build-system].requires``), installed first, so that
  the project and the sdists in the lock (durable-rules) are built from hashed packages
  without pip's build isolation (which would fetch its backend unhashed);
- ``dev-lock.txt``: ``[project.dependencies]`` and the ``dev`` extra (``make test``, CI);
- ``lock.txt``: ``[project.dependencies]`` alone (``make run``), constrained to the dev lock's
  versions so the two never disagree;
- ``client-py39.txt``: rulebook-client's dependencies on Python 3.9, for its test there.

Each file's first line records the digest of the arrays it was compiled from
(:func:`inputs_digest`); ``tests/test_lock.py`` recomputes it, so an edited range fails the
suite until the lock is refreshed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "requirements"
CLIENT = ROOT / "clients" / "python" / "pyproject.toml"
PYTHON, PLATFORM = "3.11", "x86_64-manylinux_2_28"
DIGEST_PREFIX = "# inputs-sha256: "


def inputs(root: Path = ROOT) -> dict[str, list[str]]:
    """The dependency arrays the locks are compiled from."""
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    client = tomllib.loads((root / "clients/python/pyproject.toml").read_text(encoding="utf-8"))
    return {
        "build-system": project["build-system"]["requires"],
        "dependencies": project["project"]["dependencies"],
        "dev": project["project"]["optional-dependencies"]["dev"],
        "client": client["project"]["dependencies"],
    }


def inputs_digest(arrays: dict[str, list[str]]) -> str:
    return hashlib.sha256(json.dumps(arrays, sort_keys=True).encode("utf-8")).hexdigest()


def _compile(
    out: Path, sources: list[str], *options: str, python: str = PYTHON, stdin: str | None = None
) -> None:
    uv = Path(sys.executable).with_name("uv")
    command = [str(uv), "pip", "compile", *sources, "--output-file", str(out)]
    command += ["--generate-hashes", "--python-version", python, "--python-platform", PLATFORM]
    command += ["--custom-compile-command", "make lock", "--quiet", *options]
    subprocess.run(command, cwd=ROOT, input=stdin, text=True, check=True)


def _stamp(out: Path, digest: str) -> None:
    """Put the inputs' digest on the first line (replacing an older one)."""
    lines = out.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith(DIGEST_PREFIX)]
    out.write_text(f"{DIGEST_PREFIX}{digest}\n" + "".join(kept), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upgrade", action="store_true", help="take the newest versions allowed")
    upgrade = ["--upgrade"] if parser.parse_args(argv).upgrade else []
    arrays = inputs()
    build = "\n".join(arrays["build-system"]) + "\n"
    _compile(HERE / "build.txt", ["-"], *upgrade, stdin=build)
    _compile(HERE / "dev-lock.txt", ["pyproject.toml"], "--extra", "dev", *upgrade)
    _compile(HERE / "lock.txt", ["pyproject.toml"], "--constraint", str(HERE / "dev-lock.txt"))
    _compile(HERE / "client-py39.txt", [str(CLIENT)], *upgrade, python="3.9")
    digest = inputs_digest(arrays)
    for name in ("build.txt", "dev-lock.txt", "lock.txt", "client-py39.txt"):
        _stamp(HERE / name, digest)
    print(f"locked {', '.join(sorted(arrays))} (inputs sha256 {digest[:12]})")


if __name__ == "__main__":
    main()
