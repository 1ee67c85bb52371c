"""The two networks of a session: internal (no way out) and egress."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from docker.errors import APIError

from .engine import is_gone, translated

__all__ = ["create_network", "remove_network"]

log = logging.getLogger(__name__)


def create_network(
    client: Any,
    name: str,
    labels: Mapping[str, str],
    *,
    internal: bool,
    options: Mapping[str, str] | None = None,
) -> Any:
    """Create a bridge network; `internal` gives it no route out.

    `options` are the bridge driver's (for example, to keep the host's
    address off the network). `check_duplicate` makes the engine refuse a
    name already taken: a duplicated name would be ambiguous in every later
    call.
    """
    with translated(f"creating network {name}"):
        return client.networks.create(
            name,
            driver="bridge",
            internal=internal,
            enable_ipv6=False,
            check_duplicate=True,
            labels=dict(labels),
            options=dict(options or {}),
        )


def remove_network(client: Any, ident: str) -> None:
    """Remove a network; one already gone is not an error."""
    with translated(f"removing network {ident}"):
        try:
            client.api.remove_network(ident)
        except APIError as exc:
            if not is_gone(exc):
                raise
            log.debug("network %s was already gone", ident)
