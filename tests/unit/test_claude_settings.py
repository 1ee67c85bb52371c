"""Claude Code's settings for an unattended agent: which files, saying what."""

from __future__ import annotations

import json
from pathlib import PurePosixPath

from bot_bottle.claude_settings import (
    FILE_MODE,
    SKIP_PERMISSIONS,
    runs_unattended,
    unattended_files,
)

WORKDIR = "/home/me/project"


def test_claude_runs_unattended_exactly_when_it_skips_permissions() -> None:
    assert runs_unattended([SKIP_PERMISSIONS, "--model", "opus"])
    assert runs_unattended(["--model", "opus", SKIP_PERMISSIONS])
    assert not runs_unattended(["--model", "opus"])
    assert not runs_unattended([])


def test_the_settings_start_in_bypass_mode_with_the_warning_accepted() -> None:
    files = unattended_files(WORKDIR)
    settings = json.loads(files[PurePosixPath(".claude/settings.json")])

    assert settings == {
        "permissions": {"defaultMode": "bypassPermissions"},
        "skipDangerousModePermissionPrompt": True,
    }


def test_the_state_has_onboarding_done_and_the_project_folder_trusted() -> None:
    files = unattended_files(WORKDIR)
    state = json.loads(files[PurePosixPath(".claude.json")])

    assert state["hasCompletedOnboarding"] is True
    assert state["bypassPermissionsModeAccepted"] is True
    assert state["projects"] == {
        WORKDIR: {"hasTrustDialogAccepted": True, "hasCompletedProjectOnboarding": True}
    }


def test_only_the_two_files_claude_reads_are_written_privately() -> None:
    files = unattended_files(WORKDIR)

    assert set(files) == {
        PurePosixPath(".claude/settings.json"),
        PurePosixPath(".claude.json"),
    }
    assert all(not path.is_absolute() for path in files)
    assert FILE_MODE == 0o600
