"""What the dashboard says about an agent, from the manifest alone."""

from __future__ import annotations

from bot_bottle.manifest import Manifest

__all__ = ["describe_agent"]


def describe_agent(manifest: Manifest, name: str) -> list[tuple[str, str]]:
    """Label and text for each fact about agent `name`; never an env value."""
    agent = manifest.agents[name]
    bottle = manifest.bottles[agent.bottle]
    env_names = sorted([*bottle.env.forward, *bottle.env.set])
    limits = bottle.limits
    facts = [
        ("bottle", agent.bottle),
        ("egress", "\n".join(bottle.egress.allowlist) or "nothing (no network)"),
        ("env", ", ".join(env_names) or "none"),
        ("ssh", ", ".join(key.host for key in bottle.ssh) or "none"),
        ("prompt", agent.prompt or "none"),
        ("skills", "\n".join(agent.skills) or "none"),
        ("claude", " ".join(agent.claude_args) or "no extra arguments"),
        ("mode", "unattended (no prompts)" if agent.unattended else "asks first"),
        (
            "limits",
            f"{limits.memory} memory, {limits.cpus:g} CPUs, {limits.pids} processes",
        ),
    ]
    return facts
