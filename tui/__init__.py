"""The bot-bottle dashboard: a Textual app over the backend interface.

It reaches bottles only through `BottleBackend`. `create_app` builds it for a
backend; the CLI runs it, and tests hand it an in-memory backend.
"""

from __future__ import annotations

from pathlib import Path

from bot_bottle.backend import BottleBackend

from .app import BotBottleApp
from .context import AppContext

__all__ = ["AppContext", "BotBottleApp", "create_app"]


def create_app(
    backend: BottleBackend,
    *,
    manifest_path: Path,
    workdir: Path,
    initial_agent: str | None = None,
    claude_args: tuple[str, ...] = (),
    ca_certs: tuple[Path, ...] = (),
) -> BotBottleApp:
    """The dashboard for `backend`, reading the manifest at `manifest_path`.

    With `initial_agent`, the app opens on that agent's review. `claude_args`
    and `ca_certs` go into every spec, as on the command line.
    """
    context = AppContext(
        backend=backend,
        manifest_path=manifest_path,
        workdir=workdir,
        claude_args=claude_args,
        ca_certs=ca_certs,
    )
    return BotBottleApp(context, initial_agent=initial_agent)
