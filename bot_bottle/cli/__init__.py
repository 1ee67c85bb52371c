"""The `bot-bottle` command: the dashboard, and the headless commands.

Only our own errors are caught here, each printed as one line with the exit
status it carries; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from ..errors import BotBottleError
from . import cleanup, listing, schema, start

__all__ = ["Terminated", "main"]

EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class Terminated(BaseException):
    """SIGTERM arrived; raised so that every `finally` on the stack runs."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    words = list(sys.argv[1:] if argv is None else argv)
    words, claude_args = _split_claude_args(words)
    parser = _parser()
    args = parser.parse_args(words)
    if claude_args and args.command != "start":
        parser.error("arguments after '--' are for claude and go with 'start'")
    handler = _configure_logging(args.verbose - args.quiet)
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        return _run(args, tuple(claude_args))
    finally:
        signal.signal(signal.SIGTERM, previous)
        logging.getLogger("bot_bottle").removeHandler(handler)


def _run(args: argparse.Namespace, claude_args: tuple[str, ...]) -> int:
    try:
        status: int = args.run(args, claude_args)
    except BotBottleError as exc:
        print(f"bot-bottle: {exc}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        print(
            "bot-bottle: interrupted; everything created was removed", file=sys.stderr
        )
        return EXIT_INTERRUPTED
    except Terminated:
        print("bot-bottle: terminated; everything created was removed", file=sys.stderr)
        return EXIT_TERMINATED
    return status


def _split_claude_args(words: list[str]) -> tuple[list[str], list[str]]:
    if "--" not in words:
        return words, []
    cut = words.index("--")
    return words[:cut], words[cut + 1 :]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bot-bottle",
        description=(
            "Run Claude Code in an isolated bottle whose only way out is an "
            "allowlisting egress proxy. Without a command, opens the dashboard."
        ),
    )
    parser.add_argument(
        "--manifest",
        metavar="PATH",
        help="the manifest (default: $BOT_BOTTLE_MANIFEST, else ./bot-bottle.json)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="say more (repeat for debugging detail)",
    )
    parser.add_argument(
        "-q", "--quiet", action="count", default=0, help="say only warnings and errors"
    )
    parser.set_defaults(run=start.run_dashboard, command=None)

    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    start.add_parser(commands)
    listing.add_parser(commands)
    cleanup.add_parser(commands)
    schema.add_parser(commands)
    return parser


def _configure_logging(verbosity: int) -> logging.Handler:
    level = {-1: logging.WARNING, 0: logging.INFO}.get(
        max(-1, min(verbosity, 1)), logging.DEBUG
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("bot-bottle: %(message)s"))
    root = logging.getLogger("bot_bottle")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    return handler


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated()
