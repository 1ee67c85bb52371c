"""The work comes home: real repositories, the in-bottle script, the fetch.

A second clone stands in for the bottle: the script runs there as it would in
the container, and its bundle is fetched into the first.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot_bottle.errors import BackendError
from bot_bottle.homecoming import (
    NOTHING_NEW,
    bring_home,
    export_script,
    repository_head,
    work_branch_name,
)


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


@pytest.fixture
def host_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "host"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "README").write_text("hello\n")
    git(repo, "add", "README")
    git(repo, "commit", "-q", "-m", "start")
    return repo


@pytest.fixture
def bottle_repo(tmp_path: Path, host_repo: Path) -> Path:
    # The bottle holds a copy of the host's .git beside its working tree.
    subprocess.run(
        ["git", "clone", "-q", str(host_repo), str(tmp_path / "bottle")], check=True
    )
    return tmp_path / "bottle"


def export(bottle: Path, base: str, out: Path) -> int:
    script = export_script(str(bottle), base, "s1")
    with out.open("wb") as bundle:
        return subprocess.run(
            ["sh", "-c", script], stdout=bundle, check=False
        ).returncode


def test_a_commit_and_an_uncommitted_edit_come_home_as_one_branch(
    host_repo: Path, bottle_repo: Path, tmp_path: Path
) -> None:
    base = repository_head(host_repo)
    assert base is not None
    (bottle_repo / "fix.py").write_text("print('fixed')\n")
    git(bottle_repo, "add", "fix.py")
    git(bottle_repo, "commit", "-q", "-m", "Fix it")
    (bottle_repo / "README").write_text("hello, edited\n")
    bundle = tmp_path / "work.bundle"

    assert export(bottle_repo, base, bundle) == 0
    branch = bring_home(bundle, host_repo, work_branch_name("coder", "s1"))

    assert branch == "bot-bottle/coder-s1"
    log = git(host_repo, "log", "--format=%s", f"{base}..{branch}").splitlines()
    assert log == ["Uncommitted work from bot-bottle session s1", "Fix it"]
    assert git(host_repo, "show", f"{branch}:README") == "hello, edited"
    assert git(host_repo, "rev-parse", "--abbrev-ref", "HEAD") == "main"


def test_nothing_changed_means_no_bundle_and_no_branch(
    host_repo: Path, bottle_repo: Path, tmp_path: Path
) -> None:
    base = repository_head(host_repo)
    assert base is not None

    assert export(bottle_repo, base, tmp_path / "work.bundle") == NOTHING_NEW
    assert git(host_repo, "branch", "--list", "bot-bottle/*") == ""


def test_hooks_and_config_in_the_bottle_never_reach_the_host(
    host_repo: Path, bottle_repo: Path, tmp_path: Path
) -> None:
    base = repository_head(host_repo)
    assert base is not None
    marker = tmp_path / "hook-ran"
    hook = f"#!/bin/sh\ntouch {marker}\n"
    for name in ("post-checkout", "post-merge", "reference-transaction", "pre-commit"):
        (bottle_repo / ".git" / "hooks" / name).write_text(hook)
        (bottle_repo / ".git" / "hooks" / name).chmod(0o755)
    git(bottle_repo, "config", "core.fsmonitor", f"touch {marker}; false")
    git(bottle_repo, "config", "core.hooksPath", str(bottle_repo / ".git" / "hooks"))
    (bottle_repo / "new.txt").write_text("work\n")
    bundle = tmp_path / "work.bundle"
    assert export(bottle_repo, base, bundle) == 0
    marker.unlink(missing_ok=True)  # the bottle's own hooks may run inside it

    bring_home(bundle, host_repo, "bot-bottle/coder-s1")
    git(host_repo, "status")
    git(host_repo, "checkout", "-q", "bot-bottle/coder-s1")

    assert not marker.exists()
    config = (host_repo / ".git" / "config").read_text()
    assert "fsmonitor" not in config and "hooksPath" not in config
    assert (
        sorted(
            p.name
            for p in (host_repo / ".git" / "hooks").iterdir()
            if not p.name.endswith(".sample")
        )
        == []
    )


def test_an_existing_branch_is_not_overwritten(
    host_repo: Path, bottle_repo: Path, tmp_path: Path
) -> None:
    base = repository_head(host_repo)
    assert base is not None
    git(host_repo, "branch", "bot-bottle/coder-s1")
    (bottle_repo / "new.txt").write_text("work\n")
    bundle = tmp_path / "work.bundle"
    assert export(bottle_repo, base, bundle) == 0

    with pytest.raises(BackendError, match="could not be brought home"):
        bring_home(bundle, host_repo, "bot-bottle/coder-s1")


def test_repository_head_is_none_outside_a_repository(tmp_path: Path) -> None:
    assert repository_head(tmp_path) is None
