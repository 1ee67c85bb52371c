"""The benchmark's command line: measure every row, print the table, write JSON."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import docker

from bot_bottle.backend.docker.backend import DockerBottleBackend
from bot_bottle.backend.docker.engine import Engine

from . import calls
from .bottles import BottleFactory, Images
from .context import Bench
from .dashboard import dashboard_rows
from .launch import launch_rows
from .listing import (
    cleanup_rows,
    judge_constant,
    list_row,
    live_bottles,
    prepare_row,
)
from .memory import memory_row
from .report import machine, table, write_json
from .rows import Row
from .tree import TREE_FILES, tree_row
from .workspace import Workspace, interrupts_as_keyboard

__all__ = ["main"]

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
BOTTLE_COUNTS = (1, 20)
SECTIONS = ("launch", "prepare", "list", "cleanup", "tree", "dashboard", "memory")


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=(
            "Measure bot-bottle beside the engine's own floor, on the engine "
            "the Docker SDK finds, with the warm test images."
        ),
    )
    parser.add_argument(
        "--runs", type=int, default=3, help="samples per row, medians reported"
    )
    parser.add_argument(
        "--output", type=Path, default=RESULTS, help="where to write the JSON"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=SECTIONS,
        help="measure only this part (repeatable); all parts by default",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    if args.runs < 1:
        print("benchmarks: --runs must be at least 1", file=sys.stderr)
        return 2
    calls.install()
    client = docker.from_env(timeout=120)
    workspace = Workspace(client)
    started = time.perf_counter()
    try:
        with interrupts_as_keyboard():
            bench = _bench(client, workspace, args.runs)
            about = machine(client, bench.factory.images.runtime)
            rows = _measure(bench, set(args.only or SECTIONS))
    except KeyboardInterrupt:
        print("benchmarks: interrupted; removing what the run made", file=sys.stderr)
        return 130
    finally:
        for line in workspace.sweep():
            print(f"benchmarks: could not remove {line}", file=sys.stderr)
    print(table(rows))
    write_json(args.output, rows, about, args.runs, time.perf_counter() - started)
    print(f"\nwritten to {args.output}")
    return 0


_STARTED = time.perf_counter()


def _say(text: str) -> None:
    elapsed = time.perf_counter() - _STARTED
    print(f"benchmarks: [{elapsed:5.0f} s] {text}", file=sys.stderr, flush=True)


def _bench(client: docker.DockerClient, workspace: Workspace, runs: int) -> Bench:
    """The images warm, bot-bottle pointed at them, and a project to run in."""
    # The test images (a stand-in proxy and an agent image whose claude is a
    # fake) are what the end-to-end tests run; no registry is needed.
    from tests.e2e.images import ensure_agent_image, ensure_proxy_image

    _say("making sure the test images are built")
    agent_image = ensure_agent_image(client)
    proxy_image = ensure_proxy_image(client)
    os.environ["BOT_BOTTLE_BASE_IMAGE"] = agent_image
    os.environ["BOT_BOTTLE_PIPELOCK_IMAGE"] = proxy_image

    project = workspace.project("project")
    backend = DockerBottleBackend(Engine(client))
    plan = backend.prepare(project.spec(), stage_dir=workspace.stage_dir())
    images = Images(
        agent=plan.image,
        sidecar=plan.sidecar_image,
        runtime=plan.runtime,
        config=plan.stage_dir / "pipelock.yaml",
    )
    factory = BottleFactory(
        client,
        images,
        agent=project.agent,
        extra_labels=workspace.labels,
        stage_dir=workspace.stage_dir,
    )
    return Bench(client, backend, workspace, project, factory, runs, _say)


def _measure(bench: Bench, sections: set[str]) -> list[Row]:
    rows: dict[str, list[Row]] = {}
    if "prepare" in sections:
        rows["prepare"] = [prepare_row(bench)]
    if "launch" in sections:
        rows["launch"] = launch_rows(bench, bench.project)
    if sections & {"list", "dashboard"}:
        rows["list"] = _with_live_bottles(bench, "dashboard" in sections, rows)
        if "list" not in sections:
            del rows["list"]
    if "cleanup" in sections:
        rows["cleanup"] = cleanup_rows(bench, BOTTLE_COUNTS)
    if sections & {"tree", "memory"}:
        tree = bench.workspace.project("tree", files=TREE_FILES)
    if "tree" in sections:
        rows["tree"] = [tree_row(bench, tree)]
        rows["tree"] += launch_rows(bench, tree, f" ({TREE_FILES:,}-file tree)")
    if "memory" in sections:
        rows["memory"] = [
            memory_row(bench, bench.project, "a small project"),
            memory_row(bench, tree, f"the {TREE_FILES:,}-file tree"),
        ]
    return [row for part in SECTIONS for row in rows.get(part, [])]


def _with_live_bottles(
    bench: Bench, dashboard: bool, rows: dict[str, list[Row]]
) -> list[Row]:
    """The list_active rows; the dashboard rows too, with the most bottles live."""
    listed = []
    for count in BOTTLE_COUNTS:
        with live_bottles(bench, count) as seen:
            listed.append(list_row(bench, count, seen))
            if dashboard and count == BOTTLE_COUNTS[-1]:
                rows["dashboard"] = dashboard_rows(bench, count)
    judge_constant(listed, BOTTLE_COUNTS)
    return listed
