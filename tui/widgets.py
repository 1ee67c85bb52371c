"""Widgets the screens share."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Label, Static

from bot_bottle.backend import PlanSection
from bot_bottle.errors import ManifestError
from bot_bottle.manifest import Manifest

from .agents import describe_agent

__all__ = [
    "AgentDetails",
    "Cells",
    "ManifestProblems",
    "NavTable",
    "PlanView",
    "sync_rows",
]

#: The cells of one row, in column order.
Cells = Sequence[str | Text]

_MOVE = Binding.Group("Move")


class NavTable(DataTable[str | Text]):
    """A row-cursor table moved with the arrows or with j and k."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", key_display="↑/k", group=_MOVE),
        Binding("down,j", "cursor_down", "Down", key_display="↓/j", group=_MOVE),
    ]

    def __init__(self, columns: Iterable[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._column_spec = tuple(columns)

    def on_mount(self) -> None:
        for key, label in self._column_spec:
            self.add_column(label, key=key)

    @property
    def cursor_key(self) -> str | None:
        """The key of the row under the cursor, if there are rows."""
        if not self.row_count:
            return None
        row_key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        return row_key.value


def sync_rows(table: NavTable, rows: Mapping[str, Cells]) -> None:
    """Show `rows` (key to cells, in order) with the cursor kept on its row.

    Rows are updated in place where they can be; `DataTable.clear()` would move
    the cursor to the top.
    """
    selected = table.cursor_key
    for row_key in [key for key in table.rows if key.value not in rows]:
        table.remove_row(row_key)
    for key, cells in rows.items():
        if key in table.rows:
            _update_row(table, key, cells)
        else:
            table.add_row(*cells, key=key)
    if [row.key.value for row in table.ordered_rows] != list(rows):
        table.clear()
        for key, cells in rows.items():
            table.add_row(*cells, key=key)
    if selected is not None and selected in rows:
        table.move_cursor(row=table.get_row_index(selected))


def _update_row(table: NavTable, key: str, cells: Cells) -> None:
    current = table.get_row(key)
    for column, old, new in zip(table.columns, current, cells, strict=True):
        if old != new:
            table.update_cell(key, column, new)


class PlanView(Vertical):
    """A plan's warnings and titled sections, as the reader needs them."""

    def __init__(
        self,
        sections: Sequence[PlanSection],
        warnings: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.sections = tuple(sections)
        self.warnings = tuple(warnings)

    def compose(self) -> ComposeResult:
        for warning in self.warnings:
            yield Static(Text(f"⚠ {warning}"), classes="plan-warning")
        for section in self.sections:
            yield Label(Text(section.title), classes="section-title")
            if section.lines:
                yield Static(Text("\n".join(section.lines)), classes="section-lines")
            else:
                yield Static("(none)", classes="section-lines -empty")


class AgentDetails(VerticalScroll):
    """What an agent holds and may reach, from the manifest; titled by its name."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(can_focus=False, **kwargs)

    def compose(self) -> ComposeResult:
        yield Static(id="details")

    def show(self, manifest: Manifest | None, name: str | None) -> None:
        """Describe agent `name`, or say that none is selected."""
        details = self.query_one("#details", Static)
        if manifest is None or name is None or name not in manifest.agents:
            self.border_title = "Agent"
            details.update(Text("No agent selected.", style="italic"))
            return
        self.border_title = name
        details.update(_describe(manifest, name))


def _describe(manifest: Manifest, name: str) -> RenderableType:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for label, value in describe_agent(manifest, name):
        grid.add_row(Text(label), Text(value, overflow="fold"))
    description = manifest.agents[name].description
    if not description:
        return grid
    return Group(Text(description, style="italic"), "", grid)


class ManifestProblems(VerticalScroll):
    """Each problem of a manifest with its place, and what to do next."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(can_focus=False, **kwargs)

    def show(self, exc: ManifestError) -> None:
        self.remove_children()
        self.mount(Label(Text("The manifest cannot be used."), classes="headline"))
        self.mount(Static(Text(exc.source), classes="source"))
        for problem in exc.problems:
            bullet = Label("•", classes="bullet")
            line = Static(Text(problem), classes="problem-line")
            self.mount(Horizontal(bullet, line, classes="problem-row"))
        hint = "Fix the file and press r to read it again."
        self.mount(Static(hint, classes="hint"))
