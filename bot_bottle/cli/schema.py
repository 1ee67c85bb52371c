"""`bot-bottle schema`: print the manifest's JSON Schema."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..manifest import manifest_json_schema


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "schema",
        help="print the manifest's JSON Schema",
        description="Print the JSON Schema that bot-bottle.json is checked against.",
    )
    parser.set_defaults(run=run, command="schema")


def run(args: argparse.Namespace, claude_args: tuple[str, ...]) -> int:
    print(json.dumps(manifest_json_schema(), indent=2))
    return 0
