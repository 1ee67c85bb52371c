"""Review: a plan is prepared off the event loop, shown, then approved or not."""

from __future__ import annotations

import logging
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Log, Static
from textual.worker import Worker, WorkerState

from bot_bottle.backend import BottleBackend, BottlePlan, BottleSpec
from bot_bottle.errors import BotBottleError

from ..format import first_lines
from ..logs import BUILD_LOGGER, ForwardingHandler, LogLine, attach, detach
from ..staging import SharedStageDir
from ..widgets import PlanView

__all__ = ["ReviewScreen"]


class ReviewScreen(Screen[BottlePlan | None]):
    """One agent's plan: dismissed with the plan if approved, else with None.

    Nothing is created until the plan is approved; the stage dir made for the
    plan is removed on refusal and on failure, and handed over on approval.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "approve", "Approve"),
        Binding("enter", "approve", "Approve", show=False),
        Binding("n", "refuse", "Refuse"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, backend: BottleBackend, spec: BottleSpec) -> None:
        super().__init__()
        self.backend = backend
        self.spec = spec
        self.stage = SharedStageDir()
        self.plan: BottlePlan | None = None
        self.failure: BaseException | None = None
        self._build_log = ForwardingHandler(self, logging.INFO)

    @property
    def agent(self) -> str:
        return self.spec.agent

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="plan-panel", classes="panel"):
            yield Static(id="plan-waiting")
        yield Log(id="build-log", classes="panel", max_lines=2000)
        yield Static(id="review-status")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Review"
        self.sub_title = self.agent
        self.query_one("#plan-panel").border_title = f"Plan for {self.agent}"
        self.query_one("#build-log").border_title = "Build output"
        self.query_one("#plan-waiting", Static).update(
            Text(f"Preparing the plan for {self.agent}… nothing is created yet.")
        )
        self._status("Preparing: images may be built; their output shows below.")
        attach(self._build_log, BUILD_LOGGER, level=logging.INFO)
        self.stage.claim()
        self._prepare()

    def on_unmount(self) -> None:
        detach(self._build_log, BUILD_LOGGER)
        self.stage.release()

    @work(thread=True, exit_on_error=False, name="prepare")
    def _prepare(self) -> BottlePlan:
        return self.stage.use(
            lambda path: self.backend.prepare(self.spec, stage_dir=path)
        )

    @on(LogLine)
    def _build_line(self, event: LogLine) -> None:
        event.stop()
        self.query_one("#build-log", Log).write_line(event.line)
        self.add_class("-has-log")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.name != "prepare":
            return
        result = event.worker.result
        if event.state == WorkerState.SUCCESS and isinstance(result, BottlePlan):
            detach(self._build_log, BUILD_LOGGER)
            self._show_plan(result)
        elif event.state == WorkerState.ERROR:
            detach(self._build_log, BUILD_LOGGER)
            self._show_failure(event.worker.error)

    def _show_plan(self, plan: BottlePlan) -> None:
        self.plan = plan
        panel = self.query_one("#plan-panel", VerticalScroll)
        panel.remove_children()
        panel.mount(PlanView(plan.sections(), plan.warnings))
        panel.focus()
        self.add_class("-ready")
        self._status(
            "Nothing is created yet. y approves and launches; "
            "n refuses and creates nothing."
        )
        self.refresh_bindings()

    def _show_failure(self, error: BaseException | None) -> None:
        self.failure = error
        cause = str(error) if isinstance(error, BotBottleError) else repr(error)
        title = f"Could not prepare {self.agent}"
        if not isinstance(error, BotBottleError):
            title = f"Unexpected error preparing {self.agent}"
            self.log.error(error)
        self.notify(first_lines(cause), title=title, severity="error", timeout=10)
        text = Text()
        text.append(f"{title}.\n", style="bold")
        text.append(f"{cause}\n\n")
        text.append("Nothing was created. Press esc to go back.", style="italic")
        self.query_one("#plan-waiting", Static).update(text)
        self.add_class("-failed")
        self._status("Preparing failed; the build output, if any, is below.")
        self.refresh_bindings()

    def _status(self, message: str) -> None:
        self.query_one("#review-status", Static).update(Text(message))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.failure is not None:
            return action not in ("approve", "refuse")
        if action == "approve":
            return True if self.plan is not None else None
        return True

    def action_approve(self) -> None:
        if self.plan is None:
            return
        self.stage.hand_over()
        self.dismiss(self.plan)

    def action_refuse(self) -> None:
        self.dismiss(None)

    def action_back(self) -> None:
        self.dismiss(None)
