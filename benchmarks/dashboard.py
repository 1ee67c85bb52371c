"""The dashboard's first full screen, headless, and its input during refreshes.

The floor is a bare Textual app (a header, a one-row table, a footer): what
any Textual program costs before it shows anything of its own.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .context import Bench
from .dashboard_child import SIZE, NotReady, bare_app, dashboard_app, first_screen
from .rows import Row

__all__ = ["dashboard_rows"]

FIRST_SCREEN_GOAL = 0.5
STALL_GOAL = 0.1
REFRESHES = 10
REFRESH_GAP = 0.2
ROOT = Path(__file__).resolve().parent.parent
_TICK = 0.005


def _under(limit: float) -> Callable[[Row], bool]:
    return lambda row: row.ours_median is not None and row.ours_median < limit


def dashboard_rows(bench: Bench, live: int) -> list[Row]:
    """The dashboard rows, measured with `live` bottles of this run running."""
    warm = Row(
        "dashboard: create_app() to first full screen",
        floor_name="a bare Textual app, same way",
        goal=f"< {FIRST_SCREEN_GOAL:g} s",
        check=_under(FIRST_SCREEN_GOAL),
    )
    cold = Row(
        "dashboard: process start to first full screen",
        floor_name="a bare Textual app, same way",
        goal=f"< {FIRST_SCREEN_GOAL:g} s",
        check=_under(FIRST_SCREEN_GOAL),
    )
    stall = Row(
        f"dashboard: longest input stall, {REFRESHES} refreshes",
        goal=f"< {STALL_GOAL:g} s",
        check=_under(STALL_GOAL),
    )
    rows = [warm, cold, stall]
    for row in rows:
        row.notes.append(f"{live} live bottles of this run; 1 agent in the manifest")
    try:
        for run in range(bench.runs):
            bench.say(f"dashboard, run {run + 1} of {bench.runs}")
            _measure(bench, rows, 1 + live)
    except NotReady as exc:
        for row in rows:
            row.unavailable = str(exc)
    return rows


def _measure(bench: Bench, rows: list[Row], expected: int) -> None:
    warm, cold, stall = rows
    project = bench.project

    def make() -> Any:
        from bot_bottle.backend.docker.backend import DockerBottleBackend

        backend = DockerBottleBackend()
        return dashboard_app(backend, project.manifest_path, project.workdir)

    seconds, longest = asyncio.run(_drive(make, expected, stall=True))
    warm.ours.append(seconds)
    stall.ours.append(longest)
    warm.floor.append(asyncio.run(_drive(bare_app, 1, stall=False))[0])
    args = [str(project.manifest_path), str(project.workdir), str(expected)]
    cold.ours.append(_from_process_start(bench, args))
    cold.floor.append(_from_process_start(bench, ["--bare"]))


async def _drive(
    make: Callable[[], Any], expected: int, *, stall: bool
) -> tuple[float, float]:
    """Seconds to the first full screen, and the longest stall of the event
    loop while the active list is refreshed again and again."""
    started = time.perf_counter()
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await first_screen(app, pilot, expected)
        seconds = time.perf_counter() - started
        longest = await _longest_stall(pilot) if stall else 0.0
    return seconds, longest


async def _longest_stall(pilot: Any) -> float:
    """Press `r` (refresh) every REFRESH_GAP seconds; the longest the event
    loop was late, which is how long a key press would have waited."""
    longest = 0.0
    done = asyncio.Event()

    async def watch() -> None:
        nonlocal longest
        while not done.is_set():
            before = time.perf_counter()
            await asyncio.sleep(_TICK)
            longest = max(longest, time.perf_counter() - before - _TICK)

    watcher = asyncio.create_task(watch())
    for _ in range(REFRESHES):
        await pilot.press("r")
        await asyncio.sleep(REFRESH_GAP)
    done.set()
    await watcher
    return longest


def _from_process_start(bench: Bench, args: list[str]) -> float:
    out = bench.workspace.root / "dashboard-ready.json"
    started = time.time()
    subprocess.run(
        [sys.executable, "-m", "benchmarks.dashboard_child", str(out), *args],
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.DEVNULL,
    )
    ready: float = json.loads(out.read_text())["ready"]
    return ready - started
