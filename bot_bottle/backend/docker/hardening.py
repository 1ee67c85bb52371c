"""How a bottle is hardened, and what the engine running it can guarantee.

The agent container drops every capability, may not gain privileges, keeps
the engine's default seccomp profile, and has no DNS path out. The internal
network gets no host address where the engine can do that. What this engine
cannot do is said in the plan's warnings; nothing is silently weaker than the
plan says. docs/security.md explains each layer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "GATEWAY_MODE_IPV4",
    "INHIBIT_IPV4",
    "NO_RESOLVER",
    "EngineAssessment",
    "agent_security",
    "assess_engine",
    "engine_version",
    "sidecar_security",
]

#: The agent's upstream resolver: its own loopback, where nothing listens.
#: Docker's embedded resolver sends names it does not know to the `dns`
#: servers from inside the container's network namespace, so a query goes
#: nowhere. Without it, engines before 25.0.5 forward them from the host's
#: namespace when the host's resolver is on loopback (CVE-2024-29018).
NO_RESOLVER = "127.0.0.1"

#: The bridge option that keeps the host's address off a network (20.10+).
INHIBIT_IPV4 = "com.docker.network.bridge.inhibit_ipv4"
#: Its successor for internal networks, `isolated` (28.0+).
GATEWAY_MODE_IPV4 = "com.docker.network.bridge.gateway_mode_ipv4"

_NO_PRIVILEGES = "no-new-privileges"

_INHIBIT_SINCE = (20, 10)
_ISOLATED_SINCE = (28, 0)
_DNS_FIXED_IN = (25, 0, 5)


def agent_security() -> dict[str, Any]:
    """Options for creating the agent container, beside its user and limits.

    claude and git run as an unprivileged user and need no capability; with
    the bounding set empty and no-new-privileges, a setuid program in the
    image gains nothing either. No seccomp option is given, so the engine's
    default profile applies. IPv6 is switched off inside: the internal
    network has none, and a link-local address would reach the host's bridge.
    """
    return {
        "cap_drop": ["ALL"],
        "security_opt": [_NO_PRIVILEGES],
        "dns": [NO_RESOLVER],
        "sysctls": {"net.ipv6.conf.all.disable_ipv6": "1"},
    }


def sidecar_security() -> dict[str, Any]:
    """Options for creating the egress proxy: no capability, no privilege gain.

    It binds an unprivileged port and reads a world-readable config, so it
    needs no capability. It publishes no port and gets no environment.
    """
    return {"cap_drop": ["ALL"], "security_opt": [_NO_PRIVILEGES]}


@dataclass(frozen=True)
class EngineAssessment:
    """What a launch applies on one engine, and what it cannot guarantee."""

    version: str
    #: Driver options for the internal network.
    internal_network_options: Mapping[str, str] = field(default_factory=dict)
    #: What keeps the agent in, one line per layer, for the plan.
    isolation: tuple[str, ...] = ()
    #: What this engine cannot guarantee, in plain sentences.
    warnings: tuple[str, ...] = ()


def engine_version(text: str) -> tuple[int, ...]:
    """`20.10.24+dfsg1` as (20, 10, 24); () when it holds no version."""
    numbers = re.findall(r"\d+", text.split("+", 1)[0].split("-", 1)[0])
    return tuple(int(number) for number in numbers[:3])


def assess_engine(server_version: str, runtime: str | None = None) -> EngineAssessment:
    """Decide, from the engine's version, how the internal network is made.

    `runtime` is the one the agent will run under ("runsc", or None for the
    engine's default); it changes only what the plan says about seccomp.
    """
    version = engine_version(server_version)
    options, gateway, warnings = _gateway(server_version, version)
    return EngineAssessment(
        version=server_version,
        internal_network_options=options,
        isolation=(
            f"agent: no capabilities, no privilege gain (no-new-privileges), "
            f"an unprivileged user, {_syscall_line(runtime)}",
            f"DNS: {_dns_line(version)}",
            f"host: {gateway}",
            "IPv6: off inside the agent container; the networks have none",
            "egress proxy: no capabilities, no published port, none of the "
            "agent's environment",
        ),
        warnings=warnings,
    )


def _gateway(
    text: str, version: tuple[int, ...]
) -> tuple[dict[str, str], str, tuple[str, ...]]:
    """The internal network's options, the plan's line, and any warning."""
    if version >= _ISOLATED_SINCE:
        return (
            {GATEWAY_MODE_IPV4: "isolated"},
            "no address on the internal network (isolated gateway mode)",
            (),
        )
    if version >= _INHIBIT_SINCE:
        return (
            {INHIBIT_IPV4: "true"},
            "no address on the internal network (inhibit_ipv4; this engine "
            "predates the isolated gateway mode of 28.0)",
            (),
        )
    reachable = (
        "the agent can reach services on the host that listen on the internal "
        "network's gateway address or on 0.0.0.0"
    )
    if not version:
        return (
            {INHIBIT_IPV4: "true"},
            "asked for no address on the internal network (inhibit_ipv4), unconfirmed",
            (
                f"Docker engine version {text!r} is not recognised; whether "
                f"the host keeps an address on the internal network is "
                f"unknown: if it does, {reachable}.",
            ),
        )
    return (
        {},
        "reachable at the internal network's gateway address",
        (
            f"Docker engine {text} cannot keep the host off the internal "
            f"network (that needs 20.10 or later): {reachable}.",
        ),
    )


def _dns_line(version: tuple[int, ...]) -> str:
    line = "no resolver beyond the internal network; outside names do not resolve"
    if version and version < _DNS_FIXED_IN:
        # The engine itself would forward queries (CVE-2024-29018); the
        # resolver above is what stops it.
        line += (
            " (engines before 25.0.5, like this one, would forward them; the "
            "agent's resolver setting stops that)"
        )
    return line


def _syscall_line(runtime: str | None) -> str:
    if runtime == "runsc":
        # runsc loads the OCI seccomp profile only with --oci-seccomp.
        return "gVisor's kernel between it and the host's"
    return "the engine's default seccomp profile"
