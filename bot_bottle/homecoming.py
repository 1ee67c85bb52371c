"""Bringing the agent's work home: commits made in a bottle become a branch.

Inside the bottle, uncommitted changes are committed and everything new since
the commit the bottle started from is written as a git bundle. On the host the
bundle is fetched into the repository as a branch. A bundle carries objects and
refs only: the bottle's hooks and config never reach the host, and fetching it
runs nothing from the bottle.
"""

from __future__ import annotations

import logging
import shlex
import subprocess
from pathlib import Path

from .errors import BackendError

__all__ = [
    "BUNDLE_REF",
    "bring_home",
    "export_script",
    "repository_head",
    "work_branch_name",
]

log = logging.getLogger("bot_bottle")

#: The ref the bundle carries: the bottle's HEAD when the export ran.
BUNDLE_REF = "HEAD"

#: What the in-bottle script exits with when there is nothing new to bring.
NOTHING_NEW = 3

#: Git settings for the export that no repository config can override.
_NO_HOOKS = "-c core.hooksPath=/dev/null -c core.fsmonitor=false"


def work_branch_name(agent: str, session: str) -> str:
    """The host branch a session's work lands on."""
    return f"bot-bottle/{agent}-{session}"


def repository_head(repo: Path) -> str | None:
    """The commit `repo` is at, or None when it is not a repository with one."""
    result = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", "-q", "HEAD^{commit}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() if result.returncode == 0 else None


def export_script(workdir: str, base: str, session: str) -> str:
    """A shell script for the bottle that writes the session's bundle to stdout.

    It commits what is uncommitted (hooks skipped: they are the bottle's and
    could block the commit) and exits NOTHING_NEW when HEAD is still `base`.
    """
    message = f"Uncommitted work from bot-bottle session {session}"
    identity = "-c user.name=bot-bottle -c user.email=bot-bottle@localhost"
    return "\n".join(
        [
            "set -e",
            f"cd {shlex.quote(workdir)}",
            # The agent may have planted hooks or an fsmonitor that would make
            # the export fail; none of the bottle's own is run for it.
            f'git() {{ command git {_NO_HOOKS} "$@"; }}',
            "git add -A >&2",
            # Each process costs dearly under gVisor, so no separate check
            # for staged changes: commit exits 1 when there is nothing to
            # commit, and only that failure is expected.
            f"git {identity} commit -q --no-verify -m {shlex.quote(message)} >&2"
            " || [ $? -eq 1 ]",
            f'if [ "$(git rev-parse HEAD)" = {shlex.quote(base)} ]; then',
            f"  exit {NOTHING_NEW}",
            "fi",
            f"git bundle create - HEAD --not {shlex.quote(base)}",
        ]
    )


def bring_home(bundle: Path, repo: Path, branch: str) -> str:
    """Fetch the bundle's work into `repo` as `branch`; returns the branch.

    Raises:
        BackendError: git refused the bundle or the branch already exists.
    """
    if _branch_exists(repo, branch):
        raise BackendError(
            f"the work could not be brought home: branch {branch} already "
            f"exists; the bundle is kept at {bundle}"
        )
    command = [
        "git",
        "-C",
        str(repo),
        "fetch",
        "--quiet",
        "--no-tags",
        "--no-write-fetch-head",
        str(bundle),
        f"{BUNDLE_REF}:refs/heads/{branch}",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackendError(
            f"the work could not be brought home as branch {branch}: "
            f"{result.stderr.strip() or 'git fetch failed'}"
        )
    log.info("the agent's work is on branch %s", branch)
    return branch


def _branch_exists(repo: Path, branch: str) -> bool:
    result = subprocess.run(
        ["git", "-C", str(repo), "show-ref", "--verify", "-q", f"refs/heads/{branch}"],
        check=False,
    )
    return result.returncode == 0
