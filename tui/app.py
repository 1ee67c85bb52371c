"""The dashboard app: a full-screen view of the agents and their bottles."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import App
from textual.binding import Binding, BindingType
from textual.driver import Driver
from textual.screen import Screen

from .context import AppContext
from .logs import LogLine
from .screens import DashboardScreen, HelpScreen

__all__ = ["BotBottleApp"]


class BotBottleApp(App[int]):
    """Review, approve, run and clean up bottles; exits with status 0."""

    CSS_PATH = "app.tcss"
    TITLE = "bot-bottle"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        context: AppContext,
        *,
        initial_agent: str | None = None,
        driver_class: type[Driver] | None = None,
    ) -> None:
        super().__init__(driver_class=driver_class)
        self.context = context
        self.initial_agent = initial_agent

    def get_default_screen(self) -> Screen[Any]:
        return DashboardScreen(self.context, self.initial_agent)

    def on_mount(self) -> None:
        # Records of the package go to the app's log, never onto the terminal
        # that the app draws on.
        self.context.logs.divert(self)

    def on_unmount(self) -> None:
        self.context.logs.restore()

    @on(LogLine)
    def _log_line(self, event: LogLine) -> None:
        self.log.logging(event.line)

    async def action_quit(self) -> None:
        self.exit(0)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())
