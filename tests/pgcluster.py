"""A PostgreSQL cluster of one's own: ``initdb`` in a temporary directory, ``pg_ctl`` on a free
port of 127.0.0.1, so a test or the fault script (bench/faults.py) can stop and start it.

Never the shared server on 5432: faults are only ever injected into this one. PostgreSQL's
tools refuse to run as root, so as root they run as the ``postgres`` system user (through
``runuser``), and the directory is handed to that user.

    with own_cluster() as pg:     # e.g. the ``own_pg`` fixture of tests/rules/api/test_pg_restart.py
        url = pg.url              # postgresql+psycopg://postgres@127.0.0.1:PORT/postgres
        pg.stop("immediate"); pg.start()
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.serving import free_port

__all__ = ["PgCluster", "missing_reason", "own_cluster", "pg_bindir"]

RUN_AS = "postgres"  # the system user the tools run as when we are root


def pg_bindir() -> Path | None:
    """The newest installed PostgreSQL's bin directory that has initdb and pg_ctl."""
    found = [
        d
        for d in Path("/usr/lib/postgresql").glob("*/bin")
        if (d / "initdb").exists() and (d / "pg_ctl").exists()
    ]
    return max(
        found, key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else 0, default=None
    )


def missing_reason() -> str | None:
    """Why no cluster of our own can be started here, or None when one can."""
    if pg_bindir() is None:
        return "no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(RUN_AS)
        except KeyError:
            return f"running as root and there is no {RUN_AS!r} user to run initdb as"
        if shutil.which("runuser") is None:
            return "running as root and runuser is missing"
    return None


class PgCluster:
    """One initdb'd cluster in ``root``, listening on 127.0.0.1:``port`` only."""

    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self.data = root / "data"
        self.log = root / "postgres.log"
        self.bindir = pg_bindir()
        if self.bindir is None:
            raise RuntimeError(missing_reason() or "no PostgreSQL binaries")
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        assert self.bindir is not None
        cmd = [str(self.bindir / tool), *args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", RUN_AS, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=120)

    def init(self) -> None:
        if os.geteuid() == 0:
            user = pwd.getpwnam(RUN_AS)
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8")

    def start(self) -> None:
        """Start and wait until it accepts connections."""
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
            "-c max_connections=100 -c fsync=on"
        )
        self._run(
            "pg_ctl",
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
        )

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m mode``: fast (clients disconnected, clean) or immediate (a crash)."""
        self._run("pg_ctl", "stop", "-w", "-t", "60", "-D", str(self.data), "-m", mode)

    def running(self) -> bool:
        return self._run("pg_ctl", "status", "-D", str(self.data), check=False).returncode == 0


@contextmanager
def own_cluster() -> Iterator[PgCluster]:
    """A started cluster in a fresh temporary directory, stopped and removed at the end."""
    reason = missing_reason()
    if reason:
        raise RuntimeError(reason)
    # Not under pytest's tmp_path: its 0700 parents would keep the postgres user out.
    root = Path(tempfile.mkdtemp(prefix="rb-own-pg-"))
    cluster = PgCluster(root, free_port())
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        if cluster.data.exists() and cluster.running():
            cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
