"""What a load cost in CPU: the machine's busy share, and milliseconds a request by process.

A tail latency on a shared machine is read against how busy the machine was: a server whose
requests cost more CPU runs closer to saturation at the same rate, and queues. So a paced
run in bench/e2e.py also reports, for the hub and the floor alike, the share of all CPUs
busy while it ran, and the CPU a request cost the server's own processes (supervisor and
workers) and PostgreSQL's.

Read from Linux's /proc: a few lines, no dependency. Elsewhere the figures are None. A
process that ends during the run (a pool's overflow connection) takes its CPU time with it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Snapshot:
    busy: int
    total: int
    server: dict[int, float]
    postgres: dict[int, float]
    """CPU seconds so far, by process id."""


def _stat(pid: str) -> tuple[str, int, float] | None:
    """(command name, parent pid, CPU seconds) of a process, or None once it has gone."""
    try:
        text = (PROC / pid / "stat").read_text()
    except OSError:
        return None
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()  # from field 3, the state
    return name, int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def snapshot(server_pid: int) -> Snapshot | None:
    """CPU so far of the machine, of ``server_pid`` and its descendants, and of PostgreSQL."""
    try:
        first = (PROC / "stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    ticks = [int(t) for t in first[1:9]]  # user nice system idle iowait irq softirq steal
    idle = ticks[3] + ticks[4]
    processes = {p.name: s for p in PROC.iterdir() if p.name.isdigit() and (s := _stat(p.name))}
    children: dict[int, list[int]] = {}
    for pid, (_, parent, _) in processes.items():
        children.setdefault(parent, []).append(int(pid))
    server: dict[int, float] = {}
    todo = [server_pid]
    while todo:
        pid = todo.pop()
        found = processes.get(str(pid))
        if found is not None:
            server[pid] = found[2]
        todo.extend(children.get(pid, ()))
    postgres = {int(pid): cpu for pid, (name, _, cpu) in processes.items() if name == "postgres"}
    return Snapshot(sum(ticks) - idle, sum(ticks), server, postgres)


def usage(
    before: Snapshot | None, after: Snapshot | None, requests: int
) -> dict[str, float | None]:
    """The machine's busy share and the CPU milliseconds a request, between two snapshots."""
    if before is None or after is None or not requests or after.total == before.total:
        return {"busy": None, "server_cpu_ms": None, "postgres_cpu_ms": None}
    return {
        "busy": round((after.busy - before.busy) / (after.total - before.total), 3),
        "server_cpu_ms": round(_used(before.server, after.server) / requests * 1000, 3),
        "postgres_cpu_ms": round(_used(before.postgres, after.postgres) / requests * 1000, 3),
    }


def _used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds the processes alive at the end used since the first snapshot (or since
    they started): one that ended meanwhile is left out, never counted as negative."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())
