"""The environment an agent's claude receives, resolved without its values.

`ResolvedEnv` names what is forwarded from the host and holds the manifest's
literal settings. Forwarded values stay in the host process environment until
the backend hands them to claude at exec time; nothing here writes, logs or
repeats them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from .errors import BadInputError
from .manifest import Manifest

__all__ = ["ResolvedEnv", "resolve_env"]


@dataclass(frozen=True)
class ResolvedEnv:
    """Forwarded variable names and literal variables for one agent."""

    forwarded: tuple[str, ...] = ()
    literals: Mapping[str, str] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        """Every variable name claude will see, sorted; never a value."""
        return sorted([*self.forwarded, *self.literals])

    def values(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """Name to value for every variable, forwarded ones read from `environ`.

        For the backend's exec call only; the result must not be logged.
        """
        source = os.environ if environ is None else environ
        values = {name: source[name] for name in self.forwarded}
        values.update(self.literals)
        return values

    def __repr__(self) -> str:
        # Literal values are not secret by contract, but a repr ends up in
        # tracebacks and logs; names are enough there.
        return f"ResolvedEnv(names={self.names!r})"


def resolve_env(
    manifest: Manifest,
    agent: str,
    environ: Mapping[str, str] | None = None,
) -> ResolvedEnv:
    """The environment for `agent`, checked against the host environment.

    Raises:
        BadInputError: a forwarded variable is unset on the host, or its value
            cannot be carried (a newline or NUL); the message names the
            variable, never its value.
    """
    source = os.environ if environ is None else environ
    bottle_name = manifest.agents[agent].bottle
    config = manifest.bottles[bottle_name].env

    unset = [name for name in config.forward if name not in source]
    if unset:
        raise BadInputError(
            f"bottles.{bottle_name}.env.forward names {', '.join(unset)}, "
            "unset on the host; export it before starting the agent or remove "
            "it from the manifest"
        )
    for name in config.forward:
        if any(char in source[name] for char in "\n\r\0"):
            raise BadInputError(
                f"the host variable {name} (forwarded by bottles.{bottle_name}"
                ".env.forward) contains a newline or NUL, which cannot be "
                "forwarded; change its value or stop forwarding it"
            )
    return ResolvedEnv(forwarded=tuple(config.forward), literals=dict(config.set))
