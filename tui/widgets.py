"""Widgets the screens share."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Label, Static

from bot_bottle.backend import PlanSection

__all__ = ["Cells", "NavTable", "PlanView", "sync_rows"]

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
