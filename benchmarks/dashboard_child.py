"""The child process that times a dashboard from process start.

`python -m benchmarks.dashboard_child OUT MANIFEST WORKDIR ROWS` imports what
`bot-bottle` imports, opens the dashboard headless and writes to OUT the
wall-clock time at which its first full screen (ROWS table rows) was shown.
`python -m benchmarks.dashboard_child OUT --bare` does the same for a bare
Textual app (a header, a one-row table, a footer): Textual's own floor.
Nothing else is imported first, so the time is the program's own.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["SIZE", "TIMEOUT", "NotReady", "bare_app", "dashboard_app", "first_screen"]

SIZE = (120, 40)
TIMEOUT = 20.0
_TICK = 0.005


class NotReady(Exception):
    """The dashboard did not show its full first screen in time."""


def dashboard_app(backend: Any, manifest: Path, workdir: Path) -> Any:
    from tui import create_app

    return create_app(backend, manifest_path=manifest, workdir=workdir)


def bare_app() -> Any:
    """A bare Textual app of a header, a one-row table and a footer."""
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable, Footer, Header

    class Bare(App[None]):
        def compose(self) -> ComposeResult:
            yield Header()
            yield DataTable()
            yield Footer()

        def on_mount(self) -> None:
            table: DataTable[str] = self.query_one(DataTable)
            table.add_columns("agent", "bottle")
            table.add_row("agent", "bottle")

    return Bare()


async def first_screen(app: Any, pilot: Any, expected: int) -> None:
    """Return once the screen's tables hold `expected` rows, drawn."""
    from textual.widgets import DataTable

    deadline = time.perf_counter() + TIMEOUT
    while sum(table.row_count for table in app.screen.query(DataTable)) < expected:
        if time.perf_counter() > deadline:
            raise NotReady(
                f"not available: the dashboard did not show {expected} rows "
                f"within {TIMEOUT:g} s"
            )
        await asyncio.sleep(_TICK)
    await pilot.pause()


def _show(make: Callable[[], Any], expected: int, out: str) -> None:
    async def drive() -> None:
        app = make()
        async with app.run_test(size=SIZE) as pilot:
            await first_screen(app, pilot, expected)
            Path(out).write_text(json.dumps({"ready": time.time()}))

    asyncio.run(drive())


def main(out: str, args: list[str]) -> None:
    if args == ["--bare"]:
        _show(bare_app, 1, out)
        return
    manifest, workdir, expected = args

    def make() -> Any:
        from bot_bottle.backend import get_bottle_backend

        return dashboard_app(get_bottle_backend(), Path(manifest), Path(workdir))

    _show(make, int(expected), out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
