"""Removing what a session created: containers first, then networks.

Used by teardown (one session, found by its label) and by cleanup (the
resources a cleanup plan lists, by id). Removal tolerates what is already
gone, and waits out a removal already under way elsewhere (409), so that a
network is not removed while its container is still going. It keeps going
past a failure so that one stuck resource does not strand the rest.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from docker.errors import APIError, NotFound

from ...errors import BackendError
from ...stage import remove_stage_dir
from .engine import is_gone, translated
from .labels import session_filter
from .util import deferred_signals

__all__ = ["SessionRemover", "remove_containers", "remove_networks"]

log = logging.getLogger(__name__)

_PARALLEL_REMOVALS = 4
#: How long a removal under way elsewhere is waited for.
_OTHER_REMOVAL_SECONDS = 60.0
_POLL_SECONDS = 0.1


def remove_containers(client: Any, ids: Sequence[str]) -> list[str]:
    """Remove containers at once (killing running ones); the failures, as text."""
    if not ids:
        return []
    with ThreadPoolExecutor(min(len(ids), _PARALLEL_REMOVALS)) as pool:
        results = pool.map(lambda ident: _remove_container(client, ident), ids)
        return [failure for failure in results if failure]


def remove_networks(client: Any, ids: Sequence[str]) -> list[str]:
    """Remove networks, after their containers; the failures, as text."""
    failures = []
    for ident in ids:
        try:
            with translated(f"removing network {ident[:12]}"):
                _tolerate_gone(client.api.remove_network, ident)
        except BackendError as exc:
            failures.append(str(exc))
    return failures


def _remove_container(client: Any, ident: str) -> str:
    try:
        with translated(f"removing container {ident[:12]}"):
            if _tolerate_gone(client.api.remove_container, ident, force=True):
                _wait_removed(client, ident)
    except BackendError as exc:
        return str(exc)
    return ""


def _wait_removed(client: Any, ident: str) -> None:
    """Return once the container is gone; another removal may still hold it.

    Another teardown or cleanup removing the same container gets it a 409;
    its networks cannot go until it has.
    """
    deadline = time.monotonic() + _OTHER_REMOVAL_SECONDS
    while True:
        try:
            client.api.inspect_container(ident)
        except NotFound:
            return
        if time.monotonic() > deadline:
            raise BackendError(
                f"container {ident[:12]} was still being removed after "
                f"{_OTHER_REMOVAL_SECONDS:g} s"
            )
        time.sleep(_POLL_SECONDS)


def _tolerate_gone(call: Any, ident: str, **options: Any) -> bool:
    """Make the call; True when another removal of `ident` is under way (409)."""
    try:
        call(ident, **options)
    except APIError as exc:
        if not is_gone(exc):
            raise
        log.debug("%s was already gone or going", ident[:12])
        return bool(exc.status_code == 409)
    return False


class SessionRemover:
    """Removes one session's containers, networks and stage dir, once.

    Resources are found by the session's label rather than from a record of
    what was created, so one whose creation was interrupted before its id
    came back is removed too. Signals that would cut the removal short are
    held back until it is done.
    """

    def __init__(self, client: Any, session: str, stage_dir: Path) -> None:
        self.client = client
        self.session = session
        self.stage_dir = stage_dir
        self.done = False

    def remove(self) -> list[str]:
        """Remove everything of the session; what could not be removed, as text."""
        if self.done:
            return []
        with deferred_signals(signal.SIGINT, signal.SIGTERM):
            failures = self._remove_resources()
            remove_stage_dir(self.stage_dir)
            self.done = True
        for failure in failures:
            log.warning("teardown of session %s: %s", self.session, failure)
        return failures

    def _remove_resources(self) -> list[str]:
        where = session_filter(self.session)
        try:
            with translated(f"listing the resources of session {self.session}"):
                containers = self.client.api.containers(all=True, filters=where)
                networks = self.client.api.networks(filters=where)
        except BackendError as exc:
            return [str(exc)]
        failures = remove_containers(self.client, [each["Id"] for each in containers])
        failures += remove_networks(self.client, [each["Id"] for each in networks])
        return failures
