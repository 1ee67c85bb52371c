"""Claude Code's own settings in a bottle, for an agent that runs unattended.

On a first run in a fresh home folder Claude Code asks questions nobody is
there to answer in an unattended bottle: the onboarding (theme, sign-in),
whether to trust the project folder, and whether to accept the warning about
bypassing permissions. It reads the answers from two files in the home
folder, which the backend writes before claude first starts:

- `~/.claude/settings.json`, the user settings: `permissions.defaultMode`
  and `skipDangerousModePermissionPrompt` (the accepted bypass warning);
- `~/.claude.json`, claude's state: `hasCompletedOnboarding`, and, per
  project folder, `hasTrustDialogAccepted`. Releases before the bypass
  warning moved to settings.json read `bypassPermissionsModeAccepted` here,
  and migrate it when they find it.

Neither file holds a credential; claude keeps writing its state to them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import PurePosixPath

__all__ = ["FILE_MODE", "SKIP_PERMISSIONS", "runs_unattended", "unattended_files"]

#: The claude option an unattended agent runs with.
SKIP_PERMISSIONS = "--dangerously-skip-permissions"

#: The files' mode: claude's state is the agent's alone.
FILE_MODE = 0o600


def runs_unattended(claude_argv: Sequence[str]) -> bool:
    """Whether claude will run without asking permission.

    So it will for an agent marked `unattended`, and when the option is
    given on the command line.
    """
    return SKIP_PERMISSIONS in claude_argv


def unattended_files(workdir: str) -> dict[PurePosixPath, bytes]:
    """The files, by path relative to the home folder, and their contents.

    `workdir` is the project folder as claude sees it inside the bottle.
    """
    settings = {
        "permissions": {"defaultMode": "bypassPermissions"},
        "skipDangerousModePermissionPrompt": True,
    }
    state = {
        "hasCompletedOnboarding": True,
        "bypassPermissionsModeAccepted": True,
        "projects": {
            workdir: {
                "hasTrustDialogAccepted": True,
                "hasCompletedProjectOnboarding": True,
            }
        },
    }
    return {
        PurePosixPath(".claude/settings.json"): _json(settings),
        PurePosixPath(".claude.json"): _json(state),
    }


def _json(value: object) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode()
