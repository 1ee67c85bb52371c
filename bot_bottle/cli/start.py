"""`bot-bottle start`: review an agent's plan, approve it, run claude in it.

Headless (`--no-tui`), the plan is printed and a y/N question asked; otherwise
the dashboard opens on the agent's review. Bare `bot-bottle` opens the
dashboard on its list of agents.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from .. import settings
from ..backend import BottleBackend, BottleSpec, get_bottle_backend
from ..errors import BadInputError
from ..manifest import Manifest, load_manifest
from ..stage import staging
from .prompt import confirm

log = logging.getLogger("bot_bottle")

EXIT_REFUSED = 1


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "start",
        help="review and run an agent",
        description=(
            "Prepare AGENT's bottle, show the plan for approval, then run claude "
            "in it. Arguments after '--' are passed to claude."
        ),
    )
    parser.add_argument(
        "agent", nargs="?", help="the agent to run (optional with one agent)"
    )
    parser.add_argument(
        "--no-tui",
        action="store_true",
        help="print the plan and ask y/N instead of the dashboard",
    )
    parser.add_argument(
        "-y",
        "--yes",
        action="store_true",
        help="approve the plan without asking (with --no-tui)",
    )
    parser.add_argument(
        "--ca-cert",
        action="append",
        default=[],
        metavar="FILE",
        type=Path,
        help="an extra CA certificate for image builds (repeatable)",
    )
    parser.set_defaults(run=run, command="start")


def run(args: argparse.Namespace, claude_args: tuple[str, ...]) -> int:
    manifest_path = settings.manifest_path(args.manifest)
    manifest = load_manifest(manifest_path)
    agent = choose_agent(manifest, args.agent, manifest_path)
    spec = BottleSpec(
        agent=agent,
        manifest=manifest,
        manifest_path=manifest_path,
        workdir=Path.cwd(),
        claude_args=claude_args,
        ca_certs=_checked_certs(args.ca_cert),
    )
    backend = get_bottle_backend()
    if not args.no_tui:
        return _open_dashboard(
            backend,
            manifest_path,
            initial_agent=agent,
            claude_args=claude_args,
            ca_certs=spec.ca_certs,
        )
    return run_headless(backend, spec, assume_yes=args.yes)


def run_headless(backend: BottleBackend, spec: BottleSpec, *, assume_yes: bool) -> int:
    """Prepare, print, ask, launch, run claude; claude's exit status."""
    with staging() as stage_dir:
        plan = backend.prepare(spec, stage_dir=stage_dir)
        plan.print()
        if not assume_yes and not confirm("Launch this bottle?"):
            print("Not launched; nothing was created.", file=sys.stderr)
            return EXIT_REFUSED

        with backend.launch(plan) as bottle:
            log.info("bottle %s is up; handing over to claude", bottle.name)
            status = bottle.exec_claude(tty=sys.stdin.isatty())
        log.info("claude exited with status %d; bottle removed", status)
        return status


def run_dashboard(args: argparse.Namespace, claude_args: tuple[str, ...]) -> int:
    """Bare `bot-bottle`: the dashboard on the manifest's agents."""
    backend = get_bottle_backend()
    manifest_path = settings.manifest_path(args.manifest)
    return _open_dashboard(backend, manifest_path, claude_args=claude_args)


def choose_agent(manifest: Manifest, wanted: str | None, source: Path) -> str:
    """The agent named on the command line, or the manifest's only agent."""
    known = ", ".join(sorted(manifest.agents)) or "none"
    if wanted is None:
        if len(manifest.agents) == 1:
            return next(iter(manifest.agents))
        raise BadInputError(
            f"{source} has {len(manifest.agents)} agents; name one: "
            f"bot-bottle start AGENT (known: {known})"
        )
    if wanted not in manifest.agents:
        raise BadInputError(f"{source} has no agent '{wanted}'; known agents: {known}")
    return wanted


def _checked_certs(paths: list[Path]) -> tuple[Path, ...]:
    for path in paths:
        if not path.is_file():
            raise BadInputError(
                f"--ca-cert {path}: no such file; give a PEM certificate file"
            )
    return tuple(path.resolve() for path in paths)


def _open_dashboard(
    backend: BottleBackend,
    manifest_path: Path,
    *,
    initial_agent: str | None = None,
    claude_args: tuple[str, ...] = (),
    ca_certs: tuple[Path, ...] = (),
) -> int:
    # Imported here: the headless commands never load Textual.
    from tui import create_app

    app = create_app(
        backend,
        manifest_path=manifest_path,
        workdir=Path.cwd(),
        initial_agent=initial_agent,
        claude_args=claude_args,
        ca_certs=ca_certs,
    )
    status = app.run()
    return status if isinstance(status, int) else 0
