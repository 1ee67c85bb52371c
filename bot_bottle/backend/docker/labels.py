"""The labels on every container and network a launch creates, and who owns them.

Cleanup and the active list work from these labels alone. The owner label
names the process that launched a session (`host:pid:start-time`), so a
session whose process is gone can be told from one still running, even after
the pid has been reused.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

__all__ = [
    "AGENT",
    "BOTTLE",
    "MANAGED",
    "OWNER",
    "PREFIX",
    "ROLE",
    "RUNTIME",
    "SESSION",
    "STAGE",
    "STARTED",
    "Owner",
    "managed_filter",
    "owner_of",
    "process_start_time",
    "session_filter",
    "session_labels",
    "started_at",
]

PREFIX = "dev.bot-bottle"
MANAGED = f"{PREFIX}.managed"
SESSION = f"{PREFIX}.session"
AGENT = f"{PREFIX}.agent"
BOTTLE = f"{PREFIX}.bottle"
OWNER = f"{PREFIX}.owner"
RUNTIME = f"{PREFIX}.runtime"
ROLE = f"{PREFIX}.role"
STARTED = f"{PREFIX}.started"
#: On the sidecar only: the stage dir it mounts, removed by cleanup.
STAGE = f"{PREFIX}.stage"


@dataclass(frozen=True)
class Owner:
    """The process that owns a session: its host, pid and start time."""

    host: str
    pid: int
    #: Clock ticks since boot at which the process started; "" where unknown.
    started: str

    @classmethod
    def current(cls) -> Owner:
        pid = os.getpid()
        return cls(socket.gethostname(), pid, process_start_time(pid) or "")

    @classmethod
    def parse(cls, text: str) -> Owner | None:
        """The owner a label names, or None when the label is malformed."""
        host, _, rest = text.rpartition(":")
        host, _, pid = host.rpartition(":")
        if not host or not pid.isdigit():
            return None
        return cls(host, int(pid), rest)

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}:{self.started}"

    def is_alive(self, *, this_host: str | None = None) -> bool:
        """Whether the owner may still be running.

        A process on another host cannot be checked, so it counts as alive:
        cleanup must never remove a session that might be in use.
        """
        if self.host != (this_host or socket.gethostname()):
            return True
        if not _pid_exists(self.pid):
            return False
        started = process_start_time(self.pid)
        # Where start times are unknown, a live pid is all there is to go on.
        return not (self.started and started) or started == self.started


def process_start_time(pid: int) -> str | None:
    """When `pid` started, in clock ticks since boot, from /proc; None if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces; the
    # start time is field 22, the 20th after the closing parenthesis.
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else None


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def session_labels(
    *,
    session: str,
    agent: str,
    bottle: str,
    owner: Owner,
    runtime: str,
    role: str,
    started: datetime | None = None,
) -> dict[str, str]:
    """The labels of one resource of a session."""
    when = started or datetime.now(UTC)
    return {
        MANAGED: "true",
        SESSION: session,
        AGENT: agent,
        BOTTLE: bottle,
        OWNER: str(owner),
        RUNTIME: runtime,
        ROLE: role,
        STARTED: when.isoformat(timespec="seconds"),
    }


def managed_filter() -> dict[str, str]:
    """The engine-side filter for every resource bot-bottle made."""
    return {"label": f"{MANAGED}=true"}


def session_filter(session: str) -> dict[str, list[str]]:
    """The engine-side filter for the resources of one session."""
    return {"label": [f"{MANAGED}=true", f"{SESSION}={session}"]}


def owner_of(labels: Mapping[str, str]) -> Owner | None:
    """The owner recorded in `labels`, or None when there is none."""
    text = labels.get(OWNER)
    return Owner.parse(text) if text else None


def started_at(labels: Mapping[str, str]) -> datetime | None:
    """When the session that made a resource started, if recorded."""
    try:
        return datetime.fromisoformat(labels.get(STARTED, ""))
    except ValueError:
        return None
