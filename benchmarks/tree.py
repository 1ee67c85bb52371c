"""A second prepare of an unchanged 10,000-file tree, beside `git ls-files -s`."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import time

from .context import Bench, timed
from .rows import Row
from .workspace import Project

__all__ = ["TREE_FILES", "tree_row"]

TREE_FILES = 10_000
TREE_GOAL = 2.0
BUILD_ENDPOINT = "POST /build"
#: What git itself runs to find modified and untracked files, in one call.
GIT_CHECK = [
    "ls-files",
    "-t",
    "--stage",
    "--modified",
    "--others",
    "--exclude-standard",
]


def tree_row(bench: Bench, project: Project) -> Row:
    row = Row(
        f"prepare again, unchanged {TREE_FILES:,}-file tree",
        floor_name="git ls-files -s on the tree",
        goal=f"<= {TREE_GOAL:g}x, no build",
    )
    with timed() as first:
        image = _prepare(bench, project)
    row.notes.append(f"the first prepare built its image in {first.seconds:.1f} s")
    rebuilt: list[str] = []
    git_check: list[float] = []
    for run in range(bench.runs):
        bench.say(f"second prepare of the {TREE_FILES:,}-file tree, run {run + 1}")
        bench.alternate(
            run,
            lambda: rebuilt.extend(_again(bench, project, row, image)),
            lambda: _ls_files(project, row),
        )
        git_check.append(_git(project, GIT_CHECK))
    row.notes.append(
        f"git's own check for changed and untracked files ({' '.join(GIT_CHECK)}) "
        f"took {statistics.median(git_check) * 1000:.0f} ms"
    )
    row.notes += rebuilt or ["no image was built by any second prepare, same tag"]
    row.check = lambda row: row.ratio is not None and row.ratio <= TREE_GOAL
    if rebuilt:
        row.check = lambda row: False
    return row


def _prepare(bench: Bench, project: Project) -> str:
    plan = bench.prepare(project)
    shutil.rmtree(plan.stage_dir, ignore_errors=True)
    return plan.image


def _again(bench: Bench, project: Project, row: Row, image: str) -> list[str]:
    """One timed second prepare; what went wrong with it, if anything."""
    with timed() as took:
        again = _prepare(bench, project)
    row.ours.append(took.seconds)
    row.ours_calls.append(took.call_count)
    assert took.calls is not None
    row.engine_seconds = took.calls.seconds_by_endpoint()
    problems = []
    if took.calls.by_endpoint().get(BUILD_ENDPOINT):
        problems.append("a second prepare built an image")
    if again != image:
        problems.append(f"a second prepare chose {again}, not {image}")
    return problems


def _ls_files(project: Project, row: Row) -> None:
    row.floor.append(_git(project, ["ls-files", "-s"]))


def _git(project: Project, args: list[str]) -> float:
    """Seconds `git ARGS` takes in the project, its output read."""
    started = time.perf_counter()
    subprocess.run(
        ["git", "-C", str(project.workdir), *args], check=True, capture_output=True
    )
    return time.perf_counter() - started
