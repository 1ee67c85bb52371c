"""Peak memory of the bot-bottle process through a whole session."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .context import Bench
from .rows import Row
from .workspace import Project

__all__ = ["memory_row"]

MEMORY_RUNS = 3
ROOT = Path(__file__).resolve().parent.parent


def memory_row(bench: Bench, project: Project, what: str) -> Row:
    """`bot-bottle start --no-tui -y` in `project`, claude printing a report."""
    row = Row(
        f"peak memory, session in {what}",
        unit="MB",
        floor_name="Python + Docker SDK, connected",
    )
    row.notes.append(
        "prepare, launch, claude (the test stand-in) and teardown in one process"
    )
    for run in range(min(bench.runs, MEMORY_RUNS)):
        bench.say(f"session memory in {what}, run {run + 1}")
        args = ["--manifest", str(project.manifest_path), "-q", "start"]
        args += [project.agent, "--no-tui", "-y", "--", "report"]
        peak, status = _peak_mb(bench, ["--", *args], project.workdir)
        row.ours.append(peak)
        if status != 0:
            row.notes.append(f"a session exited with status {status}")
        row.floor.append(_peak_mb(bench, ["--floor"], project.workdir)[0])
    return row


def _peak_mb(bench: Bench, args: list[str], cwd: Path) -> tuple[float, int]:
    """The child's peak resident memory in MB, and its exit status."""
    out = bench.workspace.root / "session.json"
    subprocess.run(
        [sys.executable, "-m", "benchmarks.session_child", str(out), *args],
        check=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    result = json.loads(out.read_text())
    return float(result["peak_kib"]) / 1024, int(result["status"])
