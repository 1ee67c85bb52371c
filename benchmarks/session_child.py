"""The child process whose peak memory is a session's.

`python -m benchmarks.session_child OUT -- ARGS...` runs `bot-bottle ARGS` in
this process and writes its exit status and peak resident memory to OUT.
`python -m benchmarks.session_child OUT --floor` instead only connects the
Docker SDK to the engine: the least any Python program that drives the
engine holds.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

__all__: list[str] = []


def _peak_kib() -> int:
    """The process's peak resident memory since it started.

    VmHWM, not getrusage: Linux carries a parent's ru_maxrss into a child
    across fork and exec, so getrusage would report the benchmark's own.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main(out: str, args: list[str]) -> None:
    if args == ["--floor"]:
        import docker

        docker.from_env().ping()
        status = 0
    else:
        from bot_bottle.cli import main as bot_bottle

        status = bot_bottle(args[1:] if args[:1] == ["--"] else args)
    Path(out).write_text(json.dumps({"status": status, "peak_kib": _peak_kib()}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
