"""The pipelock egress proxy: its configuration, whatever platform runs it.

`PipelockProxy` turns an allowlist into the YAML pipelock reads and writes it
into the stage dir. Starting and stopping the proxy belong to a backend, which
subclasses it.

Pipelock refuses a config with any key it does not know, so only keys from its
configuration reference are written here.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from .util import is_ipv4_literal

__all__ = ["PIPELOCK_PORT", "PipelockProxy"]

#: The port the proxy listens on inside its container.
PIPELOCK_PORT = 8888

#: How long one CONNECT tunnel may stay open. pipelock's default (300 s) would
#: cut an agent's API stream or git transfer mid-session.
TUNNEL_SECONDS = 24 * 60 * 60


class PipelockProxy(ABC):
    """An allowlisting proxy whose config is written before it starts."""

    config_name = "pipelock.yaml"

    def __init__(self, allowlist: Sequence[str]) -> None:
        self.allowlist = list(allowlist)
        self.config_path: Path | None = None

    @property
    def domains(self) -> list[str]:
        """Allowlist entries pipelock matches by name (`api_allowlist`)."""
        return [entry for entry in self.allowlist if not is_ipv4_literal(entry)]

    @property
    def addresses(self) -> list[str]:
        """IPv4 entries, as the /32 CIDRs `ssrf.ip_allowlist` expects."""
        return [f"{entry}/32" for entry in self.allowlist if is_ipv4_literal(entry)]

    def config(self) -> dict[str, Any]:
        """The pipelock configuration, as a mapping ready to dump."""
        config: dict[str, Any] = {
            "version": 1,
            # Only strict mode enforces api_allowlist; balanced lets every
            # domain through.
            "mode": "strict",
            "api_allowlist": self.domains,
            "forward_proxy": {
                "enabled": True,
                "max_tunnel_seconds": TUNNEL_SECONDS,
            },
        }
        if self.addresses:
            config["ssrf"] = {"ip_allowlist": self.addresses}
        return config

    def prepare(self, stage_dir: Path) -> Path:
        """Write the config into `stage_dir`, readable by the proxy's user."""
        path = stage_dir / self.config_name
        text = yaml.safe_dump(self.config(), sort_keys=False)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        self.config_path = path
        return path

    @abstractmethod
    def start(self) -> None:
        """Start the proxy and return once it accepts connections."""

    @abstractmethod
    def stop(self) -> None:
        """Stop the proxy and remove what starting it created."""
