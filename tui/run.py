"""Handing the terminal to claude in a bottle, and getting it back.

`App.suspend()` gives the terminal back only when its body returns normally:
an exception escaping the block leaves the app hung (Textual issue #6692,
https://github.com/Textualize/textual/issues/6692). So everything that runs
while suspended is caught here and turned into a `RunOutcome`.
"""

from __future__ import annotations

import dataclasses
import traceback
from dataclasses import dataclass
from typing import Any, TextIO

from textual.app import App, SuspendNotSupported

from bot_bottle.backend import BottleBackend, BottlePlan
from bot_bottle.errors import BotBottleError

from .logs import PackageLogs

__all__ = ["MOUSE_MODES_OFF", "RunOutcome", "hand_over", "run_bottle"]

#: Turns off every mouse-tracking mode claude may have left on.
MOUSE_MODES_OFF = "\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?1015l"


@dataclass(frozen=True)
class RunOutcome:
    """How one run ended: claude's exit status, or why there was none."""

    agent: str
    status: int | None = None
    title: str = ""
    cause: str = ""
    #: A traceback, for failures that are not ours to expect.
    detail: str = ""
    #: What the package logged during the run, such as where the work went.
    notes: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return self.status is None

    @property
    def summary(self) -> str:
        """One line: the exit status, or the failure and its first line."""
        if self.status is not None:
            return f"claude exited with status {self.status}"
        first = self.cause.splitlines()[0] if self.cause else "no cause given"
        return f"{self.title}: {first.rstrip('.')}"


def run_bottle(
    backend: BottleBackend, plan: BottlePlan, terminal: TextIO | None
) -> RunOutcome:
    """Launch `plan`, run claude in it and tear it down; never raises."""
    agent = plan.agent
    try:
        _say(terminal, f"bot-bottle: launching bottle '{plan.bottle}' for '{agent}'…")
        with backend.launch(plan) as bottle:
            status = bottle.exec_claude()
            _say(terminal, "bot-bottle: claude exited; tearing the bottle down…")
    except BotBottleError as exc:
        return RunOutcome(agent, title=f"Could not run {agent}", cause=str(exc))
    except KeyboardInterrupt:
        return RunOutcome(agent, title=f"Run of {agent} stopped", cause="interrupted")
    except BaseException as exc:  # nothing may escape the suspension
        return RunOutcome(
            agent,
            title=f"Unexpected error running {agent}",
            cause=f"{type(exc).__name__}: {exc}",
            detail="".join(traceback.format_exception(exc)),
        )
    return RunOutcome(agent, status=status)


def hand_over(
    app: App[Any],
    backend: BottleBackend,
    plan: BottlePlan,
    terminal: TextIO | None,
    logs: PackageLogs,
) -> RunOutcome:
    """Suspend `app`, run the bottle with the terminal, and resume."""
    try:
        with app.suspend():
            with logs.on_terminal() as notes:
                outcome = run_bottle(backend, plan, terminal)
            _say(terminal, MOUSE_MODES_OFF, end="")
    except SuspendNotSupported:
        return RunOutcome(
            plan.agent,
            title=f"Could not run {plan.agent}",
            cause="this terminal cannot be handed over to claude "
            "(the app cannot suspend here); nothing was launched",
        )
    return dataclasses.replace(outcome, notes=tuple(notes))


def _say(terminal: TextIO | None, text: str, *, end: str = "\n") -> None:
    if terminal is None:
        return
    try:
        terminal.write(text + end)
        terminal.flush()
    except (OSError, ValueError):
        # A closed or broken terminal must not stop the run or the resume.
        pass
