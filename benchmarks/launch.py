"""Launch and teardown, beside the same engine operations done directly."""

from __future__ import annotations

import contextlib
import io
import statistics
import sys
from functools import partial
from pathlib import Path
from typing import Any

from bot_bottle.backend.docker.bottle import DockerBottle
from bot_bottle.backend.docker.bottle_plan import DockerBottlePlan

from .context import Bench, timed
from .floor import LaunchInputs, capture_files, floor_launch, floor_remove
from .rows import Row, ratio_goal
from .workspace import Project

__all__ = ["launch_rows"]

#: The engine calls of the in-bottle export that brings the work home.
EXEC_ENDPOINTS = ("/containers/{id}/exec", "/exec/")
LAUNCH_GOAL = 1.25
TEARDOWN_GOAL = 1.2


def launch_rows(bench: Bench, project: Project, where: str = "") -> list[Row]:
    """Launch and teardown of `project`'s agent; `where` names it in the rows."""
    launch = Row(
        f"launch: launch() to a bottle ready for exec_claude{where}",
        floor_name="2 networks, 2 containers, 1 copy, sidecar probed (SDK)",
        goal=f"<= {LAUNCH_GOAL}x",
        check=ratio_goal(LAUNCH_GOAL),
    )
    teardown = Row(
        f"teardown: leaving launch(){where}",
        floor_name="remove 2 containers, then 2 networks (SDK)",
        goal=f"<= {TEARDOWN_GOAL}x",
        check=ratio_goal(TEARDOWN_GOAL),
    )
    after_claude = Row(
        f"teardown after claude ran (its work brought home){where}",
        floor_name="remove 2 containers, then 2 networks (SDK)",
        goal=f"<= {TEARDOWN_GOAL}x",
        check=ratio_goal(TEARDOWN_GOAL),
    )
    inputs = _reference_inputs(bench, project)
    homecoming: list[float] = []
    for run in range(bench.runs):
        bench.say(f"launch and teardown{where}, run {run + 1} of {bench.runs}")
        bench.alternate(
            run,
            partial(_ours, bench, project, launch, teardown, None),
            partial(_floor, bench, inputs, launch, teardown, run),
        )
        bench.alternate(
            run,
            partial(_ours, bench, project, Row("unused"), after_claude, homecoming),
            partial(_floor, bench, inputs, Row("unused"), after_claude, run),
        )
    after_claude.notes.append(
        "of which bringing the work home (an exec in the bottle, before any "
        f"removal): {statistics.median(homecoming) * 1000:.0f} ms"
    )
    return [launch, teardown, after_claude]


def _ours(
    bench: Bench,
    project: Project,
    launch: Row,
    teardown: Row,
    homecoming: list[float] | None,
) -> None:
    """One launch and teardown; with `homecoming`, claude runs in between."""
    plan = bench.prepare(project)
    context = bench.backend.launch(plan)
    with timed() as up:
        bottle = context.__enter__()
    try:
        if homecoming is not None:
            # The test stand-in for claude, run as a session would; untimed.
            with contextlib.redirect_stdout(io.StringIO()):
                bottle.exec_claude(["exit", "0"], tty=False)
        with timed() as down:
            context.__exit__(None, None, None)
    except BaseException:
        context.__exit__(*sys.exc_info())
        raise
    _add(launch, up.seconds, up.calls)
    _add(teardown, down.seconds, down.calls)
    assert down.calls is not None
    if homecoming is not None:
        homecoming.append(down.calls.span(EXEC_ENDPOINTS))


def _floor(
    bench: Bench, inputs: LaunchInputs, launch: Row, teardown: Row, run: int
) -> None:
    name = f"bench-floor-{bench.workspace.run_id}-{run}"
    with timed() as up:
        made = floor_launch(bench.api, inputs, name, bench.workspace.labels)
    with timed() as down:
        floor_remove(bench.api, made.containers, made.networks)
    for row, took in ((launch, up), (teardown, down)):
        assert took.calls is not None
        row.floor.append(took.seconds)
        row.floor_calls.append(took.call_count)
        row.floor_engine_seconds = took.calls.seconds_by_endpoint()


def _add(row: Row, seconds: float, calls: Any) -> None:
    row.ours.append(seconds)
    row.ours_calls.append(len(calls))
    row.engine_seconds = calls.seconds_by_endpoint()


def _reference_inputs(bench: Bench, project: Project) -> LaunchInputs:
    """What the floor launches: a plan's images and limits, and the very files
    a launch of that plan copied in."""
    plan = bench.prepare(project)
    with bench.backend.launch(plan) as bottle:
        assert isinstance(bottle, DockerBottle)
        home = bottle.user.home
        paths = [str(home / ".claude"), str(home / ".ssh"), f"{plan.workdir}/.git"]
        files = capture_files(bench.api, bottle.container.id, paths)
        user = bottle.user.name
        # Teardown removes the plan's stage dir; the floor keeps a copy.
        config = plan.stage_dir.parent / f"floor-{plan.session}.yaml"
        config.write_bytes((plan.stage_dir / "pipelock.yaml").read_bytes())
    return _inputs(plan, user, files, config)


def _inputs(
    plan: DockerBottlePlan, user: str, files: bytes, config: Path
) -> LaunchInputs:
    return LaunchInputs(
        image=plan.image,
        sidecar_image=plan.sidecar_image,
        runtime=plan.runtime,
        config_path=config,
        workdir=plan.workdir,
        user=user,
        memory=plan.limits.memory,
        nano_cpus=int(plan.limits.cpus * 1_000_000_000),
        pids=plan.limits.pids,
        files=files,
    )
