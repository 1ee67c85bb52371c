"""The table and the JSON of one run, and the machine it ran on."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docker

from .rows import Row

__all__ = ["machine", "table", "write_json"]

HEADERS = ("operation", "bot-bottle", "floor", "ratio", "calls", "goal", "met?")


def machine(client: docker.DockerClient, runtime: str | None) -> dict[str, Any]:
    """What the numbers were measured on."""
    info = client.info()
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(_memory_kib() / 1024 / 1024, 1),
        "cpu": _cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "engine": info.get("ServerVersion", "?"),
        "storage_driver": info.get("Driver", "?"),
        "agent_runtime": runtime or "runc",
        "sidecar_runtime": info.get("DefaultRuntime", "runc"),
    }


def _memory_kib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    return 0


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


def _value(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "MB":
        return f"{value:.0f} MB"
    return f"{value * 1000:.0f} ms" if value < 10 else f"{value:.1f} s"


def _cells(row: Row) -> tuple[str, ...]:
    if row.unavailable:
        return (row.operation, row.unavailable, "—", "—", "—", row.goal or "—", "—")
    ratio = f"{row.ratio:.2f}x" if row.ratio is not None else "—"
    calls = "—"
    if row.calls is not None:
        floor_calls = max(row.floor_calls) if row.floor_calls else None
        calls = f"{row.calls}" + (f" / {floor_calls}" if floor_calls else "")
    met = {True: "yes", False: "NO", None: "—"}[row.met]
    return (
        row.operation,
        _value(row.ours_median, row.unit),
        _value(row.floor_median, row.unit),
        ratio,
        calls,
        row.goal or "—",
        met,
    )


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table, aligned for a terminal too."""
    lines = [HEADERS, *(_cells(row) for row in rows)]
    widths = [max(len(line[column]) for line in lines) for column in range(7)]

    def render(cells: tuple[str, ...]) -> str:
        padded = (cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([render(HEADERS), rule, *(render(cells) for cells in lines[1:])])


def write_json(
    path: Path, rows: list[Row], about: dict[str, Any], runs: int, seconds: float
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "runs": runs,
        "seconds": round(seconds, 1),
        "machine": about,
        "rows": [row.as_dict() for row in rows],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
