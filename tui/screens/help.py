"""Help: the keys, and what happens when."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

__all__ = ["KEYS", "HelpScreen"]

#: Every key of the dashboard, as the help lists it.
KEYS: tuple[tuple[str, str], ...] = (
    ("↑ ↓  j k", "move in a table"),
    ("tab", "switch between the agents and the active bottles"),
    ("enter", "review the plan of the agent under the cursor"),
    ("y  enter", "approve a plan or a cleanup"),
    ("n", "refuse: nothing is created or removed"),
    ("esc", "go back; on the dashboard, clear the filter"),
    ("/", "filter the agents"),
    ("r", "read the manifest again and refresh the bottles"),
    ("c", "clean up what crashed runs left behind"),
    ("?", "this help"),
    ("q  ctrl+c", "quit"),
)

ABOUT = (
    "Choosing an agent prepares its plan: what the bottle holds and where it "
    "may connect. Nothing is created until you approve. On approval the "
    "terminal is handed to claude in the bottle; when claude exits, the "
    "bottle is torn down and the dashboard comes back."
)


class HelpScreen(ModalScreen[None]):
    """The keys and the flow, over the screen it was opened from."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark", "close", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="help-panel", classes="panel"):
            yield Static(self._keys(), id="help-keys")
            yield Static(Text(ABOUT), id="help-about")

    def on_mount(self) -> None:
        panel = self.query_one("#help-panel")
        panel.border_title = "Help"
        panel.border_subtitle = "esc closes"

    def _keys(self) -> Text:
        width = max(len(keys) for keys, _ in KEYS) + 3
        text = Text()
        for keys, meaning in KEYS:
            text.append(keys.ljust(width), style="bold")
            text.append(f"{meaning}\n")
        text.rstrip()
        return text

    def action_close(self) -> None:
        self.dismiss(None)
