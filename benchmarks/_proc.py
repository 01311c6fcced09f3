"""CPU time of processes and threads, read from /proc (Linux), for the benchmarks' figures."""

from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def stat_seconds(path: str, with_children: bool = False) -> float:
    """CPU seconds (user + system) of the process or thread whose stat file this is; with
    its children that have ended, too (a postmaster's finished backends)."""
    try:
        fields = Path(path).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if with_children:
        ticks += int(fields[13]) + int(fields[14])  # of children waited for
    return ticks / TICKS


def process_cpu(pid: int) -> float:
    return stat_seconds(f"/proc/{pid}/stat")


def descendants(root: int) -> list[int]:
    """The process and every process below it."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
                )
            except OSError:
                continue
    found, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        found.append(pid)
        frontier += [child for child, parent in parents.items() if parent == pid]
    return found


def postmaster_of(data_dir: Path) -> int:
    return int((data_dir / "postmaster.pid").read_text().split()[0])


def cluster_cpu(postmaster: int) -> float:
    """CPU seconds used so far by a PostgreSQL cluster: its postmaster, its live processes
    and the backends that have ended."""
    return sum(
        stat_seconds(f"/proc/{pid}/stat", with_children=pid == postmaster)
        for pid in descendants(postmaster)
    )
