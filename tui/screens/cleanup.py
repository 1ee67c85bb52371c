"""Cleanup: what crashed runs left behind, shown before anything is removed."""

from __future__ import annotations

import enum
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Static
from textual.worker import Worker, WorkerState

from bot_bottle.backend import BottleBackend, BottleCleanupPlan
from bot_bottle.errors import BotBottleError

from ..format import count, first_lines
from ..widgets import Cells, NavTable, sync_rows

__all__ = ["CleanupScreen"]

ORPHAN_COLUMNS = (
    ("kind", "Kind"),
    ("name", "Name"),
    ("agent", "Agent"),
    ("session", "Session"),
)


class Step(enum.Enum):
    FINDING = "finding"
    CHOOSING = "choosing"
    REMOVING = "removing"
    DONE = "done"


class CleanupScreen(Screen[None]):
    """Find orphans, show them, remove them only on approval."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "approve", "Remove all"),
        Binding("enter", "approve", "Remove all", show=False),
        Binding("n", "refuse", "Keep"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, backend: BottleBackend) -> None:
        super().__init__()
        self.backend = backend
        self.plan: BottleCleanupPlan | None = None
        self.step = Step.FINDING

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="cleanup-panel", classes="panel"):
            yield Static(id="cleanup-summary")
            yield NavTable(ORPHAN_COLUMNS, id="orphans")
        yield Static(id="cleanup-status")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Cleanup"
        self.sub_title = "leftovers of crashed runs"
        self.query_one("#cleanup-panel").border_title = "Orphans"
        self._summary("Looking for what crashed or killed runs left behind…")
        self._status("Nothing is removed without your approval.")
        self._find()

    @work(thread=True, exit_on_error=False, name="find")
    def _find(self) -> BottleCleanupPlan:
        return self.backend.prepare_cleanup()

    @work(thread=True, exit_on_error=False, name="remove")
    def _remove(self, plan: BottleCleanupPlan) -> None:
        self.backend.cleanup(plan)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        result = event.worker.result
        if event.state == WorkerState.SUCCESS:
            if isinstance(result, BottleCleanupPlan):
                self._show_plan(result)
            elif event.worker.name == "remove":
                self._removed()
        elif event.state == WorkerState.ERROR:
            self._failed(event.worker.name, event.worker.error)

    def _show_plan(self, plan: BottleCleanupPlan) -> None:
        self.plan = plan
        self.step = Step.CHOOSING
        rows: dict[str, Cells] = {
            f"{item.kind}/{item.name}": (
                Text(item.kind),
                Text(item.name, style="bold"),
                Text(item.agent),
                Text(item.session),
            )
            for item in plan.items
        }
        sync_rows(self.query_one("#orphans", NavTable), rows)
        if plan.is_empty:
            self.step = Step.DONE
            self._summary("Nothing to clean up: no orphans were found.")
            self._status("Press esc to go back.")
        else:
            self._summary(
                f"{count(len(plan.items), 'orphaned resource')} of "
                f"{count(len(plan.sessions), 'session')}, left by runs that "
                "crashed or were killed. Live sessions are never listed."
            )
            self._status("y removes everything listed; n keeps it all.")
        self.refresh_bindings()

    def _removed(self) -> None:
        assert self.plan is not None
        removed = f"Removed {count(len(self.plan.items), 'orphaned resource')}."
        self.step = Step.DONE
        sync_rows(self.query_one("#orphans", NavTable), {})
        self._summary(removed)
        self._status("Press esc to go back.")
        self.notify(removed, title="Cleanup done")
        self.refresh_bindings()

    def _failed(self, step: str | None, error: BaseException | None) -> None:
        self.step = Step.DONE
        doing = "find orphans" if step == "find" else "remove the orphans"
        title = f"Could not {doing}"
        if not isinstance(error, BotBottleError):
            title = f"Unexpected error trying to {doing}"
            self.log.error(error)
        self.notify(first_lines(str(error)), title=title, severity="error", timeout=10)
        self._summary(f"{title}.\n{error}")
        self._status("Press esc to go back; c tries again from the dashboard.")
        self.refresh_bindings()

    def _summary(self, message: str) -> None:
        self.query_one("#cleanup-summary", Static).update(Text(message))

    def _status(self, message: str) -> None:
        self.query_one("#cleanup-status", Static).update(Text(message))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("approve", "refuse"):
            if self.step == Step.DONE:
                return False
            return True if self.step == Step.CHOOSING else None
        if action == "back":
            return self.step != Step.REMOVING
        return True

    def action_approve(self) -> None:
        if self.step != Step.CHOOSING or self.plan is None:
            return
        self.step = Step.REMOVING
        self._summary(f"Removing {count(len(self.plan.items), 'orphaned resource')}…")
        self._status("Removing; this can take a few seconds.")
        self.refresh_bindings()
        self._remove(self.plan)

    def action_refuse(self) -> None:
        if self.step != Step.CHOOSING:
            return
        self.notify("Nothing was removed.", title="Cleanup refused")
        self.dismiss(None)

    def action_back(self) -> None:
        if self.step == Step.CHOOSING:
            self.action_refuse()
        elif self.step != Step.REMOVING:
            self.dismiss(None)
