"""CPU time of processes, read from /proc (Linux): what the benchmarks charge to a server and to
PostgreSQL, which run outside the measuring process."""

from __future__ import annotations

import os

__all__ = ["process_cpu"]

TICK = os.sysconf("SC_CLK_TCK")


def process_cpu(comm: str | None = None, session: int | None = None) -> float:
    """CPU seconds (user and system) so far of every live process of this machine whose
    command name starts with ``comm``, or that belongs to the session ``session``."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if comm is not None:
                with open(f"/proc/{pid}/comm") as f:
                    if not f.read().startswith(comm):
                        continue
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if session is not None and int(fields[3]) != session:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICK
