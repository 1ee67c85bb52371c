"""prepare, list_active and cleanup, beside the engine calls they stand on."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from bot_bottle.backend.docker import labels as label
from bot_bottle.backend.docker.bottle_cleanup_plan import DockerBottleCleanupPlan

from .bottles import MadeBottles, discard
from .context import Bench, timed
from .floor import floor_remove
from .rows import Row, ratio_goal

__all__ = [
    "cleanup_rows",
    "judge_constant",
    "list_row",
    "live_bottles",
    "prepare_row",
]

PREPARE_GOAL = 3.0


def prepare_row(bench: Bench) -> Row:
    row = Row(
        "prepare, warm images",
        floor_name="one docker info (SDK)",
        goal=f"<= {PREPARE_GOAL:g}x",
        check=ratio_goal(PREPARE_GOAL),
    )
    bench.prepare()  # the project's image is built here, once
    for run in range(bench.runs):
        bench.alternate(run, lambda: _prepare(bench, row), lambda: _info(bench, row))
    return row


def _prepare(bench: Bench, row: Row) -> None:
    with timed() as took:
        plan = bench.prepare()
    shutil.rmtree(plan.stage_dir, ignore_errors=True)
    _add(row, took)


def _info(bench: Bench, row: Row) -> None:
    with timed() as took:
        bench.api.info()
    row.floor.append(took.seconds)
    row.floor_calls.append(took.call_count)


@contextmanager
def live_bottles(bench: Bench, count: int) -> Iterator[int]:
    """`count` live bottles of this run: one launched for real, the rest made.

    Yields how many live bottles list_active sees, any others on the engine too.
    """
    plan = bench.prepare()
    made = MadeBottles()
    try:
        with bench.backend.launch(plan):
            made = bench.factory.make(count - 1, orphaned=False)
            yield len(bench.backend.list_active())
    finally:
        discard(bench.api, made)


def list_row(bench: Bench, count: int, seen: int) -> Row:
    """list_active while `count` bottles of this run are live."""
    row = Row(
        f"list_active, {count} live bottle{'s' if count > 1 else ''}",
        floor_name="one container listing by label (SDK)",
        goal="engine calls constant",
    )
    bench.say(f"list_active with {count} live bottles ({seen} on the engine)")
    row.notes.append(f"{seen} live bottles on the engine during the row")
    for run in range(bench.runs):
        bench.alternate(run, lambda: _list(bench, row), lambda: _scan(bench, row))
    return row


def _list(bench: Bench, row: Row) -> None:
    with timed() as took:
        bench.backend.list_active()
    _add(row, took)


def _scan(bench: Bench, row: Row) -> None:
    with timed() as took:
        bench.api.containers(all=True, filters=label.managed_filter())
    row.floor.append(took.seconds)
    row.floor_calls.append(took.call_count)


def cleanup_rows(bench: Bench, counts: tuple[int, ...]) -> list[Row]:
    rows = []
    for count in counts:
        row = Row(
            f"cleanup, {count} orphaned bottle{'s' if count > 1 else ''}",
            floor_name=f"remove {2 * count} containers, {2 * count} networks by id",
            goal="constant + 1 per removal",
        )
        for run in range(bench.runs):
            bench.say(f"cleanup of {count} orphans, run {run + 1} of {bench.runs}")
            bench.alternate(
                run,
                partial(_cleanup, bench, row, count),
                partial(_remove, bench, row, count),
            )
        rows.append(row)
    # The engine removes one container or network per call: 4 per bottle.
    judge_constant(rows, counts, per_bottle=4)
    return rows


def _cleanup(bench: Bench, row: Row, count: int) -> None:
    made = bench.factory.make(count, orphaned=True)
    try:
        with timed() as took:
            plan = _only(bench.backend.prepare_cleanup(), made, bench.project.agent)
            bench.backend.cleanup(plan)
    finally:
        discard(bench.api, made)
    _add(row, took)
    if len(plan.container_ids) != len(made.containers):
        row.notes.append(
            f"cleanup found {len(plan.container_ids)} of {len(made.containers)} "
            "orphaned containers"
        )


def _only(
    found: DockerBottleCleanupPlan, made: MadeBottles, agent: str
) -> DockerBottleCleanupPlan:
    """The part of a cleanup plan that is this run's: never another's orphans."""
    containers, networks = set(made.containers), set(made.networks)
    stage_dirs = set(made.stage_dirs)
    return DockerBottleCleanupPlan(
        items=[item for item in found.items if item.agent == agent],
        container_ids=[ident for ident in found.container_ids if ident in containers],
        network_ids=[ident for ident in found.network_ids if ident in networks],
        stage_dirs=[path for path in found.stage_dirs if path in stage_dirs],
    )


def _remove(bench: Bench, row: Row, count: int) -> None:
    made = bench.factory.make(count, orphaned=True)
    with timed() as took:
        floor_remove(bench.api, made.containers, made.networks)
        for stage_dir in made.stage_dirs:
            shutil.rmtree(stage_dir, ignore_errors=True)
    row.floor.append(took.seconds)
    row.floor_calls.append(took.call_count)


def _add(row: Row, took: Any) -> None:
    row.ours.append(took.seconds)
    row.ours_calls.append(took.call_count)
    if took.calls is not None:
        row.engine_seconds = took.calls.seconds_by_endpoint()


def judge_constant(
    rows: list[Row], counts: tuple[int, ...], per_bottle: int = 0
) -> None:
    """Met when the engine calls, less `per_bottle` for each bottle, are the
    same for every number of bottles."""

    def fixed(row: Row, count: int) -> int | None:
        return None if row.calls is None else row.calls - per_bottle * count

    def check(row: Row) -> bool:
        costs = {fixed(each, count) for each, count in zip(rows, counts, strict=True)}
        return len(costs) == 1 and None not in costs

    for row in rows:
        row.check = check
