"""The dashboard's parts that work without a screen."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from bot_bottle.backend import Bottle, BottlePlan, BottleSpec
from bot_bottle.manifest import Manifest
from tests.fakes import FakeBottleBackend
from tui.agents import describe_agent
from tui.format import count, first_lines, format_age, show_path
from tui.logs import PackageLogs
from tui.run import run_bottle
from tui.staging import SharedStageDir


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (-3, "0s"),
        (0, "0s"),
        (59.9, "59s"),
        (60, "1m 00s"),
        (3599, "59m 59s"),
        (3600, "1h 00m"),
        (86399, "23h 59m"),
        (90061, "1d 01h"),
    ],
)
def test_format_age(seconds: float, shown: str) -> None:
    assert format_age(seconds) == shown


def test_count_and_first_lines() -> None:
    assert (count(1, "host"), count(0, "host"), count(3, "host")) == (
        "1 host",
        "0 hosts",
        "3 hosts",
    )
    assert first_lines("a\nb", 2) == "a\nb"
    assert first_lines("a\nb\nc", 2) == "a\nb\n…"


def test_show_path_writes_home_as_tilde() -> None:
    assert show_path(Path.home() / "proj" / "bot-bottle.json") == (
        "~/proj/bot-bottle.json"
    )
    assert show_path(Path("bot-bottle.json")) == "bot-bottle.json"
    assert show_path(Path("/etc/bot-bottle.json")) == "/etc/bot-bottle.json"


@pytest.fixture
def stage_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def test_stage_dir_is_private_and_removed_when_released(stage_root: Path) -> None:
    stage = SharedStageDir()
    assert stage.path.parent == stage_root
    assert stage.path.stat().st_mode & 0o777 == 0o700
    stage.release()
    assert not stage.path.exists()


def test_stage_dir_released_during_work_is_removed_when_work_ends(
    stage_root: Path,
) -> None:
    stage = SharedStageDir()
    stage.claim()
    started, release_done = threading.Event(), threading.Event()

    def work(path: Path) -> str:
        started.set()
        release_done.wait(5)
        (path / "pipelock.yaml").write_text("mode: strict\n")
        return "plan"

    results: list[str] = []
    thread = threading.Thread(target=lambda: results.append(stage.use(work)))
    thread.start()
    started.wait(5)
    stage.release()
    assert stage.path.exists()  # still in use
    release_done.set()
    thread.join(5)
    assert results == ["plan"]
    assert not stage.path.exists()


def test_stage_dir_is_removed_when_the_work_fails(stage_root: Path) -> None:
    stage = SharedStageDir()
    stage.claim()

    def work(path: Path) -> None:
        raise RuntimeError("build failed")

    with pytest.raises(RuntimeError):
        stage.use(work)
    assert not stage.path.exists()


def test_stage_dir_handed_over_survives_release(stage_root: Path) -> None:
    stage = SharedStageDir()
    stage.claim()
    stage.use(lambda path: None)
    assert stage.hand_over() == stage.path
    stage.release()
    assert stage.path.is_dir()


@pytest.fixture
def package_logger() -> Iterator[logging.Logger]:
    """The package logger set up as the CLI sets it: a stderr-like handler."""
    logger = logging.getLogger("bot_bottle")
    saved = (logger.handlers[:], logger.propagate, logger.level)
    stream = io.StringIO()
    logger.handlers[:] = [logging.StreamHandler(stream)]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    yield logger
    logger.handlers[:], logger.propagate, _ = saved
    logger.setLevel(saved[2])


def stream_of(logger: logging.Logger) -> str:
    handler = logger.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    return str(handler.stream.getvalue())


class Recorder:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    def post_message(self, message: Any) -> bool:
        self.messages.append(message)
        return True


def test_package_logs_stay_off_the_terminal_while_the_app_draws(
    package_logger: logging.Logger,
) -> None:
    cli_handler = package_logger.handlers[0]
    logs, app = PackageLogs(), Recorder()
    logs.divert(app)  # type: ignore[arg-type]
    logging.getLogger("bot_bottle.backend").info("runtime: runsc (gVisor)")
    logs.restore()

    assert [m.line for m in app.messages] == ["runtime: runsc (gVisor)"]
    assert package_logger.handlers == [cli_handler]
    assert stream_of(package_logger) == ""


def test_package_logs_reach_the_terminal_and_notes_while_handed_over(
    package_logger: logging.Logger,
) -> None:
    logs, app = PackageLogs(), Recorder()
    logs.divert(app)  # type: ignore[arg-type]
    with logs.on_terminal() as notes:
        logging.getLogger("bot_bottle").info("work is on branch b/x")
        logging.getLogger("bot_bottle.build").info("Step 1/2")
    logging.getLogger("bot_bottle").info("after")
    logs.restore()

    assert notes == ["work is on branch b/x"]
    assert stream_of(package_logger) == "work is on branch b/x\nStep 1/2\n"
    assert [m.line for m in app.messages] == ["after"]


class Interrupting(FakeBottleBackend):
    @contextmanager
    def launch(self, plan: BottlePlan) -> Iterator[Bottle]:
        with super().launch(plan) as bottle:
            raise KeyboardInterrupt
            yield bottle


def test_run_bottle_turns_ctrl_c_into_an_outcome_after_teardown(
    tmp_path: Path,
) -> None:
    backend = Interrupting()
    plan = plan_for(backend, tmp_path)
    outcome = run_bottle(backend, plan, io.StringIO())
    assert (outcome.failed, outcome.cause) == (True, "interrupted")
    assert backend.calls[-1] == ("teardown", "coder")


def test_run_bottle_survives_a_closed_terminal(tmp_path: Path) -> None:
    backend = FakeBottleBackend(claude_status=7)
    terminal = io.StringIO()
    terminal.close()
    outcome = run_bottle(backend, plan_for(backend, tmp_path), terminal)
    assert outcome.status == 7


def plan_for(backend: FakeBottleBackend, tmp_path: Path) -> BottlePlan:
    manifest = Manifest.model_validate(
        {"bottles": {"web": {}}, "agents": {"coder": {"bottle": "web"}}}
    )
    spec = BottleSpec("coder", manifest, tmp_path / "m.json", tmp_path)
    return backend.prepare(spec, stage_dir=tmp_path)


def test_the_tui_loads_nothing_of_docker() -> None:
    code = (
        "import sys, tui, tui.app, tui.screens; "
        "bad = [m for m in sys.modules if m == 'docker' or m.startswith('docker.')"
        " or m.startswith('bot_bottle.backend.docker')]; "
        "print(bad)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_tui_names_no_docker_module_in_its_source() -> None:
    root = Path(__file__).resolve().parents[2] / "tui"
    for source in root.rglob("*.py"):
        text = source.read_text()
        assert "import docker" not in text, source
        assert "backend.docker" not in text, source


def test_describe_agent_names_env_but_never_values() -> None:
    manifest = Manifest.model_validate(
        {
            "bottles": {
                "web": {
                    "egress": {"allowlist": ["github.com", "*.pypi.org"]},
                    "env": {"forward": ["GH_TOKEN"], "set": {"EDITOR": "vi"}},
                    "limits": {"memory": "2g", "cpus": 1.5, "pids": 256},
                }
            },
            "agents": {
                "coder": {
                    "bottle": "web",
                    "claude_args": ["--model", "opus"],
                    "unattended": True,
                }
            },
        }
    )
    facts = dict(describe_agent(manifest, "coder"))
    assert facts["egress"] == "github.com\n*.pypi.org"
    assert facts["env"] == "EDITOR, GH_TOKEN"
    assert facts["claude"] == "--model opus"
    assert facts["mode"] == "unattended (no prompts)"
    assert facts["limits"] == "2g memory, 1.5 CPUs, 256 processes"
    assert "vi" not in "".join(facts.values())
