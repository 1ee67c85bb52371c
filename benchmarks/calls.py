"""Counting the Docker engine API calls an operation makes.

Every request the SDK sends passes through `APIClient.send`; wrapping it on
the class counts the calls of every client in this process, bot-bottle's own
included, without touching bot-bottle.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from docker.api.client import APIClient

__all__ = ["CallLog", "EngineCall", "counting", "install"]

_VERSION = re.compile(r"^/v\d+\.\d+")
#: A container, network or exec named by id or name, not a collection verb.
_RESOURCE = re.compile(
    r"^/(containers|networks|exec|volumes)/(?!(json|create|prune)$)[^/]+"
)
#: An image by id or name; a name may hold slashes.
_IMAGE = re.compile(r"^/images/(?!(json|create|prune|load|search)$)(.+?)(/[a-z]+)?$")


@dataclass(frozen=True)
class EngineCall:
    """One engine request: method, endpoint (ids replaced) and its duration."""

    method: str
    endpoint: str
    seconds: float
    #: When the request was sent, on the `time.perf_counter` clock.
    started: float = 0.0

    @property
    def key(self) -> str:
        return f"{self.method} {self.endpoint}"


@dataclass
class CallLog:
    """The engine calls made while a `counting` block ran."""

    calls: list[EngineCall] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.calls)

    def by_endpoint(self) -> dict[str, int]:
        """How many calls went to each endpoint."""
        return dict(Counter(call.key for call in self.calls))

    def span(self, endpoints: tuple[str, ...]) -> float:
        """Seconds from the first call to one of `endpoints` to the end of the
        last: how long a step made of those calls took, streaming included."""
        chosen = [call for call in self.calls if call.endpoint.startswith(endpoints)]
        if not chosen:
            return 0.0
        end = max(call.started + call.seconds for call in chosen)
        return end - min(call.started for call in chosen)

    def seconds_by_endpoint(self) -> dict[str, float]:
        """The time spent waiting on each endpoint, summed."""
        totals: dict[str, float] = {}
        for call in self.calls:
            totals[call.key] = totals.get(call.key, 0.0) + call.seconds
        return totals


_lock = threading.Lock()
_active: list[CallLog] = []
_installed = False


def install() -> None:
    """Wrap `APIClient.send` once, so that `counting` sees every request."""
    global _installed
    if _installed:
        return
    original = APIClient.send

    def send(self: APIClient, request: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(self, request, **kwargs)
        finally:
            _record(request, started, time.perf_counter() - started)

    APIClient.send = send
    _installed = True


def _record(request: Any, started: float, seconds: float) -> None:
    path = str(request.path_url).split("?", 1)[0]
    endpoint = _endpoint(_VERSION.sub("", path))
    call = EngineCall(str(request.method), endpoint, seconds, started)
    with _lock:
        for log in _active:
            log.calls.append(call)


def _endpoint(path: str) -> str:
    """The path with the resource it names replaced by `{id}`."""
    path = _RESOURCE.sub(lambda found: f"/{found.group(1)}/{{id}}", path)
    return _IMAGE.sub(lambda found: f"/images/{{id}}{found.group(3) or ''}", path)


@contextmanager
def counting() -> Iterator[CallLog]:
    """Record the engine calls made, from any thread, until the block exits."""
    install()
    log = CallLog()
    with _lock:
        _active.append(log)
    try:
        yield log
    finally:
        with _lock:
            _active.remove(log)
