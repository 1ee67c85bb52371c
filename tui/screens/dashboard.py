"""The dashboard: the manifest's agents, the active bottles, and the way in."""

from __future__ import annotations

from functools import partial
from typing import ClassVar, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static
from textual.worker import Worker, WorkerState

from bot_bottle.backend import ActiveBottle, BottlePlan
from bot_bottle.errors import BotBottleError, EngineUnavailableError, ManifestError
from bot_bottle.manifest import Manifest, load_manifest
from bot_bottle.stage import remove_stage_dir

from ..context import AppContext
from ..format import count, first_lines, format_age, show_path
from ..run import RunOutcome, hand_over
from ..widgets import AgentDetails, Cells, ManifestProblems, NavTable, sync_rows
from .cleanup import CleanupScreen
from .review import ReviewScreen

__all__ = ["DashboardScreen"]

AGENT_COLUMNS = (
    ("agent", "Agent"),
    ("bottle", "Bottle"),
    ("allowlist", "Allowlist"),
    ("description", "Description"),
)
ACTIVE_COLUMNS = (
    ("agent", "Agent"),
    ("bottle", "Bottle"),
    ("session", "Session"),
    ("runtime", "Runtime"),
    ("age", "Age"),
)


class AgentTable(NavTable):
    """The agents; enter reviews the one under the cursor."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Review"),
    ]


class DashboardScreen(Screen[None]):
    """Agents to launch, bottles running, and the outcome of the last run."""

    AUTO_FOCUS = "#agents"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("escape", "clear_filter", "Clear filter"),
        Binding("r", "refresh", "Refresh"),
        Binding("c", "cleanup", "Cleanup"),
    ]

    def __init__(self, context: AppContext, initial_agent: str | None = None) -> None:
        super().__init__()
        self.context = context
        self.initial_agent = initial_agent
        self.manifest: Manifest | None = None
        self.filter_text = ""
        #: The agent whose approved plan is being launched, if any.
        self.launching: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(
            placeholder="filter agents by name, bottle or description", id="filter"
        )
        with Horizontal(id="top"):
            with Vertical(id="agents-panel", classes="panel"):
                yield AgentTable(AGENT_COLUMNS, id="agents")
                yield ManifestProblems(id="manifest-problem", classes="problem")
            yield AgentDetails(id="details-panel", classes="panel")
        with Vertical(id="active-panel", classes="panel"):
            yield NavTable(ACTIVE_COLUMNS, id="active")
            yield Static(id="engine-problem", classes="problem")
        yield Static(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "bot-bottle"
        self.sub_title = show_path(self.context.manifest_path)
        self.query_one("#agents-panel").border_title = "Agents"
        self.query_one("#active-panel").border_title = "Active bottles"
        self.query_one("#filter", Input).cursor_blink = self.context.cursor_blink
        self.show_status("Choose an agent and press enter to review its plan.")
        self.load_agents()
        self.refresh_active()
        self.set_interval(self.context.refresh_seconds, self.refresh_active)
        if self.initial_agent is not None:
            self.call_after_refresh(self.review, self.initial_agent)

    # The agents

    def load_agents(self) -> None:
        """Read the manifest again and show its agents or its problems."""
        try:
            self.manifest = load_manifest(self.context.manifest_path)
        except ManifestError as exc:
            self.manifest = None
            self._show_manifest_problem(exc)
            return
        if self.has_class("-manifest-invalid"):
            self.set_class(False, "-manifest-invalid")
            table = self.query_one("#agents", AgentTable)
            table.disabled = False
            table.focus()
            self.refresh_bindings()
            self.show_status("The manifest was read again.")
        self._show_agents()

    def _show_agents(self) -> None:
        table = self.query_one("#agents", AgentTable)
        rows = dict(self._agent_rows())
        sync_rows(table, rows)
        self._show_details(table.cursor_key)
        total = len(self.manifest.agents) if self.manifest else 0
        panel = self.query_one("#agents-panel")
        panel.border_subtitle = (
            f"{len(rows)} of {total} · filter: {self.filter_text}"
            if self.filter_text
            else f"{total} in the manifest"
        )

    def _agent_rows(self) -> list[tuple[str, Cells]]:
        if self.manifest is None:
            return []
        rows: list[tuple[str, Cells]] = []
        needle = self.filter_text.casefold()
        for name, agent in self.manifest.agents.items():
            hosts = len(self.manifest.bottles[agent.bottle].egress.allowlist)
            cells = (
                Text(name, style="bold"),
                Text(agent.bottle),
                count(hosts, "host"),
                Text(agent.description),
            )
            haystack = f"{name} {agent.bottle} {agent.description}".casefold()
            if needle in haystack:
                rows.append((name, cells))
        return rows

    def _show_manifest_problem(self, exc: ManifestError) -> None:
        self.set_class(True, "-manifest-invalid")
        self.query_one("#agents-panel").border_subtitle = "invalid manifest"
        self.query_one("#manifest-problem", ManifestProblems).show(exc)
        self.query_one("#agents", AgentTable).disabled = True
        self.refresh_bindings()
        self.show_status(
            "The manifest has problems; nothing can be launched.", "-failed"
        )

    def _show_details(self, name: str | None) -> None:
        self.query_one(AgentDetails).show(self.manifest, name)

    @on(DataTable.RowHighlighted, "#agents")
    def _agent_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_details(event.row_key.value)

    # The active bottles

    def action_refresh(self) -> None:
        self.load_agents()
        self.refresh_active()

    def refresh_active(self) -> None:
        """Ask the backend for the active bottles, off the event loop."""
        self._list_active()

    @work(thread=True, exit_on_error=False, exclusive=True, group="active")
    def _list_active(self) -> list[ActiveBottle]:
        return self.context.backend.list_active()

    def _show_active(self, bottles: list[ActiveBottle]) -> None:
        self.set_class(False, "-engine-down")
        now = self.context.clock()
        rows: dict[str, Cells] = {}
        for bottle in bottles:
            rows[f"{bottle.session}/{bottle.agent}"] = (
                Text(bottle.agent, style="bold"),
                Text(bottle.bottle),
                Text(bottle.session),
                Text(bottle.runtime),
                format_age(bottle.age(now)),
            )
        sync_rows(self.query_one("#active", NavTable), rows)
        self.query_one("#active-panel").border_subtitle = f"{len(rows)} running"

    def _show_engine_problem(self, exc: BaseException) -> None:
        self.set_class(True, "-engine-down")
        if isinstance(exc, EngineUnavailableError):
            headline = "The container engine is not reachable."
        elif isinstance(exc, BotBottleError):
            headline = "The backend could not list the active bottles."
        else:
            headline = "Listing the active bottles failed unexpectedly."
        text = Text()
        text.append(f"{headline}\n", style="bold")
        text.append(f"{exc}\n\n")
        text.append("Retrying every few seconds; press r to retry now.", style="italic")
        self.query_one("#engine-problem", Static).update(text)
        self.query_one("#active-panel").border_subtitle = "unavailable"

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "active":
            return
        if event.state == WorkerState.SUCCESS:
            self._show_active(cast(list[ActiveBottle], event.worker.result))
        elif event.state == WorkerState.ERROR and event.worker.error is not None:
            self._show_engine_problem(event.worker.error)

    # Filtering

    def action_filter(self) -> None:
        self.set_class(True, "-filtering")
        self.query_one("#filter", Input).focus()

    def action_clear_filter(self) -> None:
        self.query_one("#filter", Input).value = ""
        self.set_class(False, "-filtering")
        self.query_one("#agents", AgentTable).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clear_filter":
            return self.has_class("-filtering")
        if action == "filter":
            return self.manifest is not None
        return True

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self._show_agents()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self.query_one("#agents", AgentTable).focus()

    # Review and run

    @on(DataTable.RowSelected, "#agents")
    def _agent_chosen(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.review(event.row_key.value)

    def review(self, agent: str) -> None:
        """Prepare `agent`'s plan on the review screen."""
        if self.launching is not None:
            return
        if self.manifest is None:
            self.notify(
                "Fix the manifest first.", title="Cannot review", severity="error"
            )
            return
        if agent not in self.manifest.agents:
            known = ", ".join(self.manifest.agents) or "none"
            self.notify(
                f"No agent '{agent}' in the manifest (known: {known}).",
                title="Unknown agent",
                severity="error",
            )
            return
        spec = self.context.spec(agent, self.manifest)
        screen = ReviewScreen(self.context.backend, spec)
        self.app.push_screen(screen, partial(self._reviewed, agent))

    def _reviewed(self, agent: str, plan: BottlePlan | None) -> None:
        if plan is None:
            self.notify("Nothing was launched.", title=f"Refused {agent}")
            return
        self.launching = agent
        self.show_status(
            f"Launching {agent}… the terminal goes to claude once the bottle is up.",
            "-busy",
        )
        self.call_after_refresh(self._run, plan)

    def _run(self, plan: BottlePlan) -> None:
        try:
            outcome = hand_over(
                self.app,
                self.context.backend,
                plan,
                self.context.terminal(),
                self.context.logs,
            )
        finally:
            remove_stage_dir(plan.stage_dir)
            self.launching = None
        self.report(outcome)
        self.refresh_active()

    def report(self, outcome: RunOutcome) -> None:
        """Tell how a run ended: as a notification and on the status line."""
        if outcome.detail:
            self.log.error(outcome.detail)
        severity: SeverityLevel = "error"
        if outcome.failed:
            message, variant = first_lines(outcome.cause), "-failed"
        else:
            message = f"{outcome.summary}; the bottle was torn down."
            severity = "information" if outcome.status == 0 else "warning"
            variant = "-ok" if outcome.status == 0 else "-failed"
        title = outcome.title or f"{outcome.agent} finished"
        self.notify(
            "\n".join([message, *outcome.notes]),
            title=title,
            severity=severity,
            timeout=10,
        )
        self.show_status(f"Last run of {outcome.agent}: {outcome.summary}.", variant)

    def show_status(self, message: str, variant: str = "") -> None:
        """Write the line under the tables."""
        status = self.query_one("#status", Static)
        status.update(Text(message))
        status.set_classes(variant)

    # Cleanup

    def action_cleanup(self) -> None:
        screen = CleanupScreen(self.context.backend)
        self.app.push_screen(screen, lambda _: self.refresh_active())
