"""The exceptions bot-bottle raises for every failure it expects.

Everything the program anticipates going wrong is a `BotBottleError`. The CLI
catches that root alone and prints its message as one line; anything else is a
bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "BackendError",
    "BadInputError",
    "BotBottleError",
    "EngineUnavailableError",
    "LaunchError",
    "ManifestError",
]


class BotBottleError(Exception):
    """The root of every failure bot-bottle expects."""

    #: The process exit status the CLI uses for this failure.
    exit_status = 1


class BadInputError(BotBottleError):
    """The user's input (arguments, environment, manifest) cannot be used.

    Raised before anything is created, so nothing needs undoing.
    """

    exit_status = 2


class ManifestError(BadInputError):
    """The manifest is malformed; carries one line per problem found."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        super().__init__(self._compose())

    def _compose(self) -> str:
        if len(self.problems) == 1:
            return f"{self.source}: {self.problems[0]}"
        lines = [f"{self.source}: {len(self.problems)} problems:"]
        lines += [f"  {problem}" for problem in self.problems]
        return "\n".join(lines)


class BackendError(BotBottleError):
    """A backend failed while doing what it was asked."""


class EngineUnavailableError(BackendError):
    """The container engine did not answer."""


class LaunchError(BackendError):
    """A bottle could not be launched; whatever was created has been removed."""

    def __init__(self, step: str, cause: str, *, detail: str = "") -> None:
        self.step = step
        self.cause = cause
        self.detail = detail
        message = f"launch failed while {step}: {cause}"
        if detail:
            message += f"\n{detail}"
        super().__init__(message)
