"""Log records brought into the app, never onto the terminal it draws on.

The CLI sends the package's records to stderr, which is the terminal Textual
draws on. While the app runs they are diverted into it; while claude has the
terminal they go where they went before, and are kept as notes for the
outcome. Backend calls run in worker threads, so records arrive from any
thread: the handler posts them as messages, which is thread-safe and does not
wait, so a thread that logs never blocks on the UI.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from textual.message import Message
from textual.message_pump import MessagePump

__all__ = [
    "BUILD_LOGGER",
    "PACKAGE_LOGGER",
    "ForwardingHandler",
    "LogLine",
    "PackageLogs",
    "attach",
    "detach",
]

#: The logger image builds write their output to.
BUILD_LOGGER = "bot_bottle.build"
#: The logger every module of the package logs under.
PACKAGE_LOGGER = "bot_bottle"


class LogLine(Message):
    """One line of a log record."""

    def __init__(self, logger: str, line: str) -> None:
        super().__init__()
        self.logger = logger
        self.line = line


class ForwardingHandler(logging.Handler):
    """Posts each record, from any thread, to `target` as `LogLine`s."""

    def __init__(self, target: MessagePump, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.target = target
        self.saved_level = logging.NOTSET

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:
            self.handleError(record)
            return
        for line in text.splitlines() or [""]:
            self.target.post_message(LogLine(record.name, line))


def attach(handler: ForwardingHandler, name: str, *, level: int) -> None:
    """Send the records of logger `name` from `level` up to `handler`."""
    logger = logging.getLogger(name)
    handler.saved_level = logger.level
    if logger.getEffectiveLevel() > level:
        logger.setLevel(level)
    logger.addHandler(handler)


def detach(handler: ForwardingHandler, name: str) -> None:
    """Undo `attach`; safe to call twice."""
    logger = logging.getLogger(name)
    if handler in logger.handlers:
        logger.removeHandler(handler)
        logger.setLevel(handler.saved_level)


class _NoteCollector(logging.Handler):
    def __init__(self, notes: list[str]) -> None:
        super().__init__(logging.INFO)
        self.notes = notes

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(BUILD_LOGGER):
            self.notes.append(record.getMessage())


class PackageLogs:
    """Where the package's records go: into the app, or onto the terminal."""

    def __init__(self, name: str = PACKAGE_LOGGER) -> None:
        self.name = name
        self._handler: ForwardingHandler | None = None
        self._saved: tuple[list[logging.Handler], bool] | None = None

    def divert(self, target: MessagePump) -> None:
        """Send the records to `target` instead of their handlers."""
        logger = logging.getLogger(self.name)
        if self._saved is None:
            self._saved = (logger.handlers[:], logger.propagate)
        self._handler = ForwardingHandler(target)
        logger.handlers[:] = [self._handler]
        logger.propagate = False

    def restore(self) -> None:
        """Give the records back to the handlers they had; safe to call twice."""
        if self._saved is None:
            return
        logger = logging.getLogger(self.name)
        logger.handlers[:], logger.propagate = self._saved
        self._saved = None

    @contextmanager
    def on_terminal(self) -> Iterator[list[str]]:
        """While the terminal is handed over: records go where they went before,
        and those of INFO and up (build output aside) are kept as notes."""
        notes: list[str] = []
        target = self._handler.target if self._handler is not None else None
        self.restore()
        collector = _NoteCollector(notes)
        logger = logging.getLogger(self.name)
        logger.addHandler(collector)
        try:
            yield notes
        finally:
            logger.removeHandler(collector)
            if target is not None:
                self.divert(target)
