"""`bot-bottle cleanup`: remove what crashed or killed runs left behind."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..backend import get_bottle_backend
from .prompt import confirm

EXIT_REFUSED = 1


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "cleanup",
        help="remove the leftovers of crashed runs",
        description=(
            "Find containers and networks of bottles whose bot-bottle process is "
            "gone, show them, and remove them once approved. Live bottles and "
            "anything bot-bottle did not create are never touched."
        ),
    )
    parser.add_argument(
        "-y", "--yes", action="store_true", help="remove without asking"
    )
    parser.set_defaults(run=run, command="cleanup")


def run(args: argparse.Namespace, claude_args: tuple[str, ...]) -> int:
    backend = get_bottle_backend()
    plan = backend.prepare_cleanup()
    plan.print()
    if plan.is_empty:
        return 0
    if not args.yes and not confirm("Remove these?"):
        print("Nothing was removed.", file=sys.stderr)
        return EXIT_REFUSED
    backend.cleanup(plan)
    print(f"Removed {len(plan.items)} resource(s).")
    return 0
