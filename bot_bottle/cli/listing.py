"""`bot-bottle list`: the bottles running now."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..backend import ActiveBottle, get_bottle_backend
from ..util import format_age


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "list",
        help="list the running bottles",
        description="List the bottles running now, oldest first.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run, command="list")


def run(args: argparse.Namespace, claude_args: tuple[str, ...]) -> int:
    bottles = get_bottle_backend().list_active()
    if args.json:
        print(json.dumps([_as_json(bottle) for bottle in bottles], indent=2))
    else:
        print(render_table(bottles))
    return 0


def render_table(bottles: list[ActiveBottle]) -> str:
    """The bottles as aligned columns, or a sentence when there are none."""
    if not bottles:
        return "No bottles are running."
    rows = [("SESSION", "AGENT", "BOTTLE", "RUNTIME", "AGE", "CONTAINERS")]
    rows += [
        (
            bottle.session,
            bottle.agent,
            bottle.bottle,
            bottle.runtime,
            format_age(bottle.age()),
            ", ".join(bottle.containers),
        )
        for bottle in bottles
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(5)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        + "  "
        + row[5]
        for row in rows
    ]
    return "\n".join(line.rstrip() for line in lines)


def _as_json(bottle: ActiveBottle) -> dict[str, object]:
    return {
        "session": bottle.session,
        "agent": bottle.agent,
        "bottle": bottle.bottle,
        "runtime": bottle.runtime,
        "started_at": bottle.started_at.isoformat(),
        "age_seconds": round(bottle.age()),
        "containers": list(bottle.containers),
    }
