"""The connection to the Docker engine, and Docker's errors turned into ours.

Everything in this backend reaches the engine through an `Engine`, which
connects on first use, so choosing the backend costs nothing until it works.
Errors are translated here, at the bottom: `docker.errors.*` and the
`requests` exceptions the SDK lets through (timeouts, refused connections)
become `BackendError`s that say what was being done.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import docker
import requests
from docker.context import ContextAPI
from docker.errors import APIError, DockerException, NotFound

from ...errors import BackendError, EngineUnavailableError

__all__ = [
    "API_TIMEOUT",
    "Engine",
    "describe",
    "is_gone",
    "translated",
]

#: Seconds an engine call may take before the engine counts as not answering.
API_TIMEOUT = 60

_FIX = (
    "start the engine (for example `dockerd &`, or Docker Desktop) or point "
    "DOCKER_HOST at one that runs"
)


class Engine:
    """A lazily made Docker SDK client and the address the docker CLI needs."""

    def __init__(self, client: Any = None) -> None:
        self._client = client
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        """The SDK client, connected on first use.

        Raises:
            EngineUnavailableError: no engine answers.
        """
        with self._lock:
            if self._client is None:
                self._client = _connect()
            return self._client

    def cli_environment(self) -> dict[str, str]:
        """Variables that point the docker CLI at the engine the SDK uses.

        The CLI resolves DOCKER_HOST and contexts as the SDK does; only where
        the SDK fell back to a context without TLS is its address passed on,
        so both certainly talk to one engine.
        """
        if os.environ.get("DOCKER_HOST"):
            return {}
        try:
            params = ContextAPI.kwargs_from_context()
        except DockerException:
            return {}
        host = params.get("base_url")
        if not host or "tls" in params:
            return {}
        return {"DOCKER_HOST": str(host)}

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


def _connect() -> Any:
    try:
        client = docker.from_env(timeout=API_TIMEOUT)
        client.ping()
    except (DockerException, requests.exceptions.RequestException) as exc:
        raise EngineUnavailableError(
            f"the Docker engine does not answer ({describe(exc)}); {_FIX}"
        ) from exc
    return client


def describe(exc: BaseException) -> str:
    """A one-line reason from a Docker SDK or requests exception."""
    if isinstance(exc, APIError) and exc.explanation:
        return str(exc.explanation).strip()
    if isinstance(exc, requests.exceptions.Timeout):
        return f"no answer within {API_TIMEOUT} s"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "the connection to the engine failed"
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def is_gone(exc: BaseException) -> bool:
    """Whether `exc` says a resource is already gone or already going away."""
    if isinstance(exc, NotFound):
        return True
    # 409: a removal of the same resource is already in progress.
    return isinstance(exc, APIError) and exc.status_code == 409


@contextmanager
def translated(doing: str) -> Iterator[None]:
    """Turn Docker's and requests' exceptions into ours, saying what was done.

    Raises:
        EngineUnavailableError: the engine stopped answering.
        BackendError: the engine refused or failed the request.
    """
    try:
        yield
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
        raise EngineUnavailableError(
            f"{doing}: the Docker engine does not answer ({describe(exc)}); {_FIX}"
        ) from exc
    except (DockerException, requests.exceptions.RequestException) as exc:
        raise BackendError(f"{doing}: {describe(exc)}") from exc
