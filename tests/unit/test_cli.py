"""The command line over the in-memory backend: messages, prompts, statuses."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot_bottle.backend import BottleSpec, CleanupItem
from bot_bottle.cli import cleanup, listing, main, start
from bot_bottle.manifest import load_manifest
from tests.fakes import FakeBottleBackend

from .conftest import WriteManifest, minimal_manifest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch) -> FakeBottleBackend:
    fake = FakeBottleBackend()
    for module in (start, listing, cleanup):
        monkeypatch.setattr(module, "get_bottle_backend", lambda: fake)
    return fake


@pytest.fixture
def manifest(write_manifest: WriteManifest, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = minimal_manifest()
    data["bottles"]["web"]["env"] = {"forward": ["TOKEN"]}
    data["agents"]["coder"]["claude_args"] = ["--model", "opus"]
    monkeypatch.setenv("TOKEN", "sk-canary-77")
    path = write_manifest(data)
    monkeypatch.setenv("BOT_BOTTLE_MANIFEST", str(path))
    return path


def answer(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def run_cli(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot_bottle", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        timeout=60,
    )


def test_start_answered_no_creates_nothing_and_exits_1(
    backend: FakeBottleBackend,
    manifest: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    answer(monkeypatch, "n\n")

    status = main(["start", "coder", "--no-tui"])

    assert status == 1
    assert [call[0] for call in backend.calls] == ["prepare"]
    out, err = capsys.readouterr()
    assert "api.anthropic.com" in out and "TOKEN" in out
    assert "sk-canary-77" not in out + err
    assert "Not launched; nothing was created." in err


def test_start_with_end_of_input_is_a_no(
    backend: FakeBottleBackend, manifest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer(monkeypatch, "")

    assert main(["start", "--no-tui"]) == 1
    assert ("launch", "coder") not in backend.calls


def test_start_answered_yes_runs_claude_and_exits_with_its_status(
    backend: FakeBottleBackend, manifest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend.claude_status = 7
    answer(monkeypatch, "y\n")

    status = main(["start", "coder", "--no-tui", "--", "-p", "hello"])

    assert status == 7
    assert ("exec_claude", ("--model", "opus", "-p", "hello")) in backend.calls
    assert backend.calls[-1] == ("teardown", "coder")


def test_start_yes_skips_the_question(
    backend: FakeBottleBackend, manifest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer(monkeypatch, "")

    assert main(["start", "--no-tui", "--yes"]) == 0
    assert ("launch", "coder") in backend.calls


def test_a_failure_in_claude_still_tears_the_bottle_down(
    backend: FakeBottleBackend, manifest: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backend.fail_at = "exec"

    assert main(["start", "--no-tui", "--yes"]) == 1
    assert backend.calls[-1] == ("teardown", "coder")
    assert capsys.readouterr().err.splitlines()[-1] == (
        "bot-bottle: claude could not be started (injected)"
    )


@pytest.mark.parametrize("fail_at", [None, "prepare", "launch", "exec"])
def test_the_stage_dir_is_removed_on_every_way_out(
    backend: FakeBottleBackend, manifest: Path, fail_at: str | None
) -> None:
    backend.fail_at = fail_at

    main(["start", "--no-tui", "--yes"])

    [stage_dir] = backend.stage_dirs
    assert stage_dir.name.startswith("bot-bottle-stage-")
    assert not stage_dir.exists()


def test_an_unknown_agent_is_bad_input_naming_the_known_ones(
    backend: FakeBottleBackend, manifest: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["start", "nobody", "--no-tui"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"bot-bottle: {manifest} has no agent 'nobody'; known agents: coder"
    )
    assert backend.calls == []


def test_several_agents_need_one_named(
    backend: FakeBottleBackend,
    write_manifest: WriteManifest,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = minimal_manifest()
    data["agents"]["other"] = {"bottle": "web"}
    path = write_manifest(data)

    assert main(["--manifest", str(path), "start", "--no-tui"]) == 2
    assert "has 2 agents; name one" in capsys.readouterr().err


def test_a_missing_ca_cert_is_bad_input(
    backend: FakeBottleBackend, manifest: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["start", "--no-tui", "--ca-cert", "/nonexistent.pem"]) == 2
    assert "--ca-cert /nonexistent.pem: no such file" in capsys.readouterr().err


def test_list_prints_a_table_and_json(
    backend: FakeBottleBackend,
    manifest: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["list"]) == 0
    assert capsys.readouterr().out.strip() == "No bottles are running."

    with backend.launch(backend.prepare(_spec(manifest), stage_dir=manifest.parent)):
        assert main(["list"]) == 0
        table = capsys.readouterr().out.splitlines()
        assert table[0].split() == [
            "SESSION",
            "AGENT",
            "BOTTLE",
            "RUNTIME",
            "AGE",
            "CONTAINERS",
        ]
        assert table[1].split()[:4] == ["f00d", "coder", "web", "fake"]

        assert main(["list", "--json"]) == 0
        [record] = json.loads(capsys.readouterr().out)
        assert record["agent"] == "coder" and record["containers"] == ["fake-coder"]


def test_cleanup_shows_the_plan_and_removes_only_when_approved(
    backend: FakeBottleBackend,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    backend.orphans = [
        CleanupItem("container", "bot-bottle-coder-ab12", "ab12", "coder")
    ]
    answer(monkeypatch, "n\n")

    assert main(["cleanup"]) == 1
    assert "bot-bottle-coder-ab12" in capsys.readouterr().out
    assert backend.orphans

    answer(monkeypatch, "y\n")
    assert main(["cleanup"]) == 0
    assert backend.orphans == []
    assert "Removed 1 resource(s)." in capsys.readouterr().out


def test_cleanup_with_nothing_to_do_asks_nothing(
    backend: FakeBottleBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cleanup"]) == 0
    assert capsys.readouterr().out.strip() == "Nothing to clean up."


def test_claude_arguments_go_only_with_start(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["list", "--", "-p"])

    assert caught.value.code == 2
    assert "arguments after '--' are for claude" in capsys.readouterr().err


def test_a_bad_manifest_exits_2_with_one_message_and_no_traceback(
    write_manifest: WriteManifest,
) -> None:
    data = minimal_manifest()
    data["bottles"]["web"]["runtime"] = "runsc"
    path = write_manifest(data)

    result = run_cli("--manifest", str(path), "start", "--no-tui")

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"bot-bottle: {path}: bottle 'web' has a 'runtime' field, which is no longer "
        "supported. gVisor (runsc) is now auto-detected by the backend; remove the "
        "'runtime' field from the bottle definition."
    ]


def test_an_unknown_backend_exits_2_naming_the_known_ones() -> None:
    result = run_cli("list", env={"BOT_BOTTLE_BACKEND": "nomad"})

    assert result.returncode == 2
    assert result.stderr.strip() == (
        "bot-bottle: BOT_BOTTLE_BACKEND='nomad' is not a known backend; "
        "use one of: docker"
    )


def _spec(manifest: Path) -> BottleSpec:
    return BottleSpec(
        agent="coder",
        manifest=load_manifest(manifest),
        manifest_path=manifest,
        workdir=manifest.parent,
    )
