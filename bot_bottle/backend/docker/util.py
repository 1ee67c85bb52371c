"""Docker-specific helpers: naming, runtime detection, deferred signals."""

from __future__ import annotations

import re
import secrets
import signal
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any

__all__ = [
    "RUNSC",
    "SessionNames",
    "deferred_signals",
    "new_session_id",
    "runsc_registered",
    "runtime_line",
    "slugify",
]

#: gVisor's runtime, as Docker registers it.
RUNSC = "runsc"

_SESSION_HEX_DIGITS = 6


def slugify(text: str) -> str:
    """`text` reduced to what a container or network name may hold, lower case."""
    slug = re.sub(r"[^a-z0-9_.-]+", "-", text.lower()).strip("-._")
    return slug or "agent"


def new_session_id() -> str:
    """A short random id that keeps two launches of one agent apart."""
    return secrets.token_hex(_SESSION_HEX_DIGITS // 2)


@dataclass(frozen=True)
class SessionNames:
    """The readable names of one session's containers and networks."""

    container: str
    sidecar: str
    internal_network: str
    egress_network: str

    @classmethod
    def for_session(cls, agent: str, session: str) -> SessionNames:
        stem = f"bot-bottle-{slugify(agent)}-{session}"
        return cls(
            container=stem,
            sidecar=f"{stem}-proxy",
            internal_network=f"{stem}-internal",
            egress_network=f"{stem}-egress",
        )


def runsc_registered(info: Mapping[str, Any]) -> bool:
    """Whether `docker info` lists gVisor's runsc among its runtimes."""
    runtimes = info.get("Runtimes") or {}
    return RUNSC in runtimes


def runtime_line(runtime: str | None) -> str:
    """The line the preflight and the log show for the chosen runtime."""
    if runtime == RUNSC:
        return "docker runtime: runsc (gVisor)"
    return "docker runtime: runc (default)"


@contextmanager
def deferred_signals(*signums: int) -> Iterator[None]:
    """Hold back `signums` for the duration, then deliver any that arrived.

    Teardown runs under this, so a second Ctrl-C (or a SIGTERM) cannot cut it
    short and leave resources behind. Signals can only be handled on the main
    thread; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    previous = {signum: signal.signal(signum, hold) for signum in signums}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(caught):
            signal.raise_signal(signum)
