"""Review and run: prepare off the loop, approve or refuse, hand over, report."""

from __future__ import annotations

import io
import logging
import threading
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Log, Static

from tests.fakes import FakeBottleBackend
from tui.run import MOUSE_MODES_OFF
from tui.screens import DashboardScreen, ReviewScreen
from tui.widgets import PlanView

from .conftest import AppFactory, DemoBackend, notes, running, wait_for


def call_names(backend: FakeBottleBackend) -> list[str]:
    return [name for name, _ in backend.calls]


async def open_review(pilot: Pilot[Any], agent_index: int = 0) -> ReviewScreen:
    """Choose an agent on the dashboard and wait for its plan or failure."""
    for _ in range(agent_index):
        await pilot.press("j")
    await pilot.press("enter")
    screen = pilot.app.screen
    assert isinstance(screen, ReviewScreen)
    await wait_for(pilot, lambda: screen.plan is not None or screen.failure is not None)
    return screen


async def back_on_dashboard(pilot: Pilot[Any], backend: FakeBottleBackend) -> None:
    """Wait until the run is over and its outcome shown."""
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, DashboardScreen))
    status = pilot.app.screen.query_one("#status", Static)
    await wait_for(pilot, lambda: "Last run" in str(status.render()))


async def test_review_shows_the_plan_sections_and_warnings(
    make_app: AppFactory,
) -> None:
    backend = DemoBackend(warnings=("the engine cannot stop DNS from leaking",))
    async with running(make_app(backend)) as pilot:
        screen = await open_review(pilot)
        view = screen.query_one(PlanView)
        assert [section.title for section in view.sections] == [
            "agent",
            "runtime",
            "egress allowlist",
            "env (names only)",
        ]
        assert view.warnings == ("the engine cannot stop DNS from leaking",)
        texts = [str(widget.render()) for widget in view.query(Static)]
        assert "api.anthropic.com\ngithub.com\n*.pypi.org" in texts
        assert "EDITOR\nLANG" in texts
        assert "vi" not in "".join(texts)
        assert call_names(backend) == ["prepare"]


async def test_review_passes_the_spec_the_app_was_given(
    make_app: AppFactory, backend: DemoBackend, workdir: Path
) -> None:
    app = make_app(backend)
    async with running(app) as pilot:
        screen = await open_review(pilot, agent_index=1)
        assert screen.spec.agent == "reviewer"
        assert screen.spec.workdir == workdir
        assert screen.spec.manifest_path == app.context.manifest_path
        assert screen.plan is not None
        assert screen.plan.stage_dir == backend.stage_dirs[0]


async def test_build_output_streams_into_the_log_panel(make_app: AppFactory) -> None:
    backend = DemoBackend(build_lines=("Step 1/3 : FROM debian", "Step 2/3 : RUN x"))
    async with running(make_app(backend)) as pilot:
        screen = await open_review(pilot)
        log = screen.query_one("#build-log", Log)
        await wait_for(pilot, lambda: log.line_count >= 2)
        assert list(log.lines) == ["Step 1/3 : FROM debian", "Step 2/3 : RUN x"]
        assert log.display
    build = logging.getLogger("bot_bottle.build")
    assert not any(h for h in build.handlers if "Forwarding" in type(h).__name__)


async def test_preparing_stays_responsive_and_esc_leaves_nothing_behind(
    make_app: AppFactory, stage_root: Path
) -> None:
    gate = threading.Event()
    backend = DemoBackend(prepare_gate=gate)
    async with running(make_app(backend)) as pilot:
        await pilot.press("enter")
        screen = pilot.app.screen
        assert isinstance(screen, ReviewScreen)
        await wait_for(pilot, lambda: backend.calls == [("prepare", "coder")])
        await pilot.press("y")  # no plan yet: approving does nothing
        assert pilot.app.screen is screen
        await pilot.press("escape")
        assert isinstance(pilot.app.screen, DashboardScreen)
        assert list(stage_root.iterdir()) == [backend.stage_dirs[0]]

        gate.set()
        await pilot.app.workers.wait_for_complete()
        await wait_for(pilot, lambda: not any(stage_root.iterdir()))
        assert call_names(backend) == ["prepare"]


async def test_refuse_launches_nothing_and_removes_the_stage_dir(
    make_app: AppFactory, backend: DemoBackend, stage_root: Path
) -> None:
    app = make_app(backend)
    async with running(app) as pilot:
        await open_review(pilot)
        assert backend.stage_dirs[0].is_dir()
        await pilot.press("n")
        assert isinstance(pilot.app.screen, DashboardScreen)
        assert call_names(backend) == ["prepare"]
        assert not any(stage_root.iterdir())
        assert ("Refused coder", "Nothing was launched.", "information") in notes(app)


async def test_esc_refuses_a_ready_plan_too(
    make_app: AppFactory, backend: DemoBackend, stage_root: Path
) -> None:
    async with running(make_app(backend)) as pilot:
        await open_review(pilot)
        await pilot.press("escape")
        assert isinstance(pilot.app.screen, DashboardScreen)
        assert call_names(backend) == ["prepare"]
        assert not any(stage_root.iterdir())


async def test_quitting_during_review_removes_the_stage_dir(
    make_app: AppFactory, backend: DemoBackend, stage_root: Path
) -> None:
    async with running(make_app(backend)) as pilot:
        await open_review(pilot)
        await pilot.press("q")
    assert not any(stage_root.iterdir())
    assert call_names(backend) == ["prepare"]


async def test_approve_runs_claude_in_the_bottle_and_tears_it_down(
    make_app: AppFactory,
    stage_root: Path,
    terminal: io.StringIO,
) -> None:
    backend = DemoBackend(claude_status=0)
    app = make_app(backend, suspend=True)
    async with running(app) as pilot:
        await open_review(pilot)
        await pilot.press("y")
        await back_on_dashboard(pilot, backend)

        assert call_names(backend) == ["prepare", "launch", "exec_claude", "teardown"]
        assert not any(stage_root.iterdir())
        assert terminal.getvalue().endswith(MOUSE_MODES_OFF)
        assert "launching bottle 'web' for 'coder'" in terminal.getvalue()
        title, message, severity = notes(app)[-1]
        assert (title, severity) == ("coder finished", "information")
        assert message.startswith("claude exited with status 0")
        status = str(app.screen.query_one("#status", Static).render())
        assert status == "Last run of coder: claude exited with status 0."


async def test_enter_approves_and_claude_args_reach_exec(
    make_app: AppFactory, backend: DemoBackend
) -> None:
    app = make_app(backend, suspend=True, claude_args=("--model", "opus"))
    async with running(app) as pilot:
        await open_review(pilot)
        await pilot.press("enter")
        await back_on_dashboard(pilot, backend)
    assert ("exec_claude", ("--model", "opus")) in backend.calls


async def test_nonzero_claude_status_is_reported_as_a_warning(
    make_app: AppFactory,
) -> None:
    backend = DemoBackend(claude_status=3)
    app = make_app(backend, suspend=True)
    async with running(app) as pilot:
        await open_review(pilot)
        await pilot.press("y")
        await back_on_dashboard(pilot, backend)
        _, message, severity = notes(app)[-1]
        assert severity == "warning"
        assert message.startswith("claude exited with status 3")


async def test_launch_failure_is_a_notification_and_the_app_comes_back(
    make_app: AppFactory, stage_root: Path
) -> None:
    backend = DemoBackend(fail_at="launch")
    app = make_app(backend, suspend=True)
    async with running(app) as pilot:
        await open_review(pilot)
        await pilot.press("y")
        await back_on_dashboard(pilot, backend)
        assert (
            "Could not run coder",
            "network could not be created (injected)",
            "error",
        ) in notes(app)
        assert not any(stage_root.iterdir())
        assert app.is_running


async def test_exec_failure_still_tears_the_bottle_down(make_app: AppFactory) -> None:
    backend = DemoBackend(fail_at="exec")
    app = make_app(backend, suspend=True)
    async with running(app) as pilot:
        await open_review(pilot)
        await pilot.press("y")
        await back_on_dashboard(pilot, backend)
        assert call_names(backend)[-2:] == ["exec_claude", "teardown"]
        assert notes(app)[-1][2] == "error"


async def test_unexpected_error_while_suspended_is_caught(
    make_app: AppFactory, stage_root: Path
) -> None:
    class Broken(DemoBackend):
        def launch(self, plan: Any) -> Any:
            raise RuntimeError("a bug")

    backend = Broken()
    app = make_app(backend, suspend=True)
    async with running(app) as pilot:
        await open_review(pilot)
        await pilot.press("y")
        await back_on_dashboard(pilot, backend)
        assert (
            "Unexpected error running coder",
            "RuntimeError: a bug",
            "error",
        ) in notes(app)
        assert not any(stage_root.iterdir())


async def test_without_suspend_support_the_run_is_reported_not_launched(
    make_app: AppFactory, backend: DemoBackend, stage_root: Path
) -> None:
    app = make_app(backend)
    async with running(app) as pilot:
        await open_review(pilot)
        await pilot.press("y")
        await back_on_dashboard(pilot, backend)
        title, message, severity = notes(app)[-1]
        assert (title, severity) == ("Could not run coder", "error")
        assert "cannot be handed over" in message
        assert call_names(backend) == ["prepare"]
        assert not any(stage_root.iterdir())


async def test_what_the_package_logs_during_the_run_becomes_a_note(
    make_app: AppFactory,
) -> None:
    class Homecoming(DemoBackend):
        def launch(self, plan: Any) -> Any:
            logging.getLogger("bot_bottle").warning("work is on branch b/coder-1")
            return super().launch(plan)

    backend = Homecoming()
    app = make_app(backend, suspend=True)
    async with running(app) as pilot:
        await open_review(pilot)
        await pilot.press("y")
        await back_on_dashboard(pilot, backend)
        assert notes(app)[-1][1].endswith("\nwork is on branch b/coder-1")


async def test_prepare_failure_is_a_notification_not_a_crash(
    make_app: AppFactory, stage_root: Path
) -> None:
    backend = DemoBackend(fail_at="prepare")
    app = make_app(backend)
    async with running(app) as pilot:
        screen = await open_review(pilot)
        assert (
            "Could not prepare coder",
            "image build failed (injected)",
            "error",
        ) in notes(app)
        assert "Nothing was created" in str(
            screen.query_one("#plan-waiting", Static).render()
        )
        assert not any(stage_root.iterdir())
        await pilot.press("y")
        assert pilot.app.screen is screen
        await pilot.press("escape")
        assert isinstance(pilot.app.screen, DashboardScreen)
        assert call_names(backend) == ["prepare"]


async def test_bad_input_while_preparing_names_the_variable(
    make_app: AppFactory, manifest_path: Path, monkeypatch: Any
) -> None:
    text = manifest_path.read_text().replace(
        '"env": {"set"', '"env": {"forward": ["TUI_TEST_TOKEN"], "set"'
    )
    manifest_path.write_text(text)
    monkeypatch.delenv("TUI_TEST_TOKEN", raising=False)
    app = make_app(DemoBackend())
    async with running(app) as pilot:
        await open_review(pilot)
        assert "TUI_TEST_TOKEN" in notes(app)[-1][1]


async def test_initial_agent_opens_its_review(
    make_app: AppFactory, backend: DemoBackend
) -> None:
    app = make_app(backend, initial_agent="scratch")
    async with running(app) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen))
        assert isinstance(app.screen, ReviewScreen)
        assert app.screen.agent == "scratch"


async def test_unknown_initial_agent_is_a_notification(
    make_app: AppFactory, backend: DemoBackend
) -> None:
    app = make_app(backend, initial_agent="ghost")
    async with running(app) as pilot:
        await wait_for(pilot, lambda: bool(notes(app)))
        assert notes(app)[-1][:1] == ("Unknown agent",)
        assert "coder, reviewer, scratch" in notes(app)[-1][1]
        assert isinstance(pilot.app.screen, DashboardScreen)
        assert backend.calls == []


async def test_no_second_review_opens_while_a_launch_is_pending(
    make_app: AppFactory, backend: DemoBackend
) -> None:
    async with running(make_app(backend)) as pilot:
        screen = pilot.app.screen
        assert isinstance(screen, DashboardScreen)
        screen.launching = "coder"
        await pilot.press("enter")
        assert pilot.app.screen is screen
        assert backend.calls == []
