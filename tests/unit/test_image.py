"""The pure parts of the image builder: which files a tree holds, its hash, tags.

Every test works on a real git repository in a temporary folder.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from bot_bottle.backend.docker.image import (
    TreeEntry,
    agent_ids,
    image_slug,
    list_tree,
    tree_digest,
    workdir_tag,
)
from bot_bottle.errors import BackendError


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    )
    return result.stdout


def write(path: Path, text: str, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A committed repository: tracked files, an ignored one, a symlink."""
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q")
    git(root, "config", "user.email", "test@example.com")
    git(root, "config", "user.name", "test")
    write(root / ".gitignore", "*.log\nbuild/\n")
    write(root / "README.md", "hello\n")
    write(root / "src" / "app" / "main.py", "print('hi')\n")
    write(root / "run.sh", "#!/bin/sh\n", 0o755)
    (root / "docs").symlink_to("src")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "init")
    write(root / "debug.log", "ignored\n")
    write(root / "build" / "out.bin", "ignored\n")
    return root


def paths(entries: list[TreeEntry]) -> set[str]:
    return {entry.path for entry in entries}


def by_path(entries: list[TreeEntry]) -> dict[str, TreeEntry]:
    return {entry.path: entry for entry in entries}


def test_tree_holds_tracked_and_untracked_files_but_not_ignored_ones(
    repo: Path,
) -> None:
    write(repo / "notes" / "todo.txt", "untracked\n")

    entries = list_tree(repo)

    assert paths(entries) == {
        ".gitignore",
        "README.md",
        "docs",
        "notes",
        "notes/todo.txt",
        "run.sh",
        "src",
        "src/app",
        "src/app/main.py",
    }


def test_tree_lists_folders_as_folders_and_links_as_links(repo: Path) -> None:
    entries = by_path(list_tree(repo))

    assert entries["src/app"].is_dir and entries["src/app"].content == ""
    assert stat.S_ISLNK(entries["docs"].mode)
    assert stat.S_IMODE(entries["run.sh"].mode) == 0o755


def test_tree_leaves_out_a_tracked_file_deleted_from_the_work_tree(
    repo: Path,
) -> None:
    (repo / "README.md").unlink()

    assert "README.md" not in paths(list_tree(repo))


def test_unmodified_tracked_files_take_their_id_from_the_index(repo: Path) -> None:
    entries = by_path(list_tree(repo))

    for line in git(repo, "ls-files", "-s").splitlines():
        info, path = line.split("\t")
        assert entries[path].content == info.split()[1]


def test_changed_and_untracked_contents_get_the_id_git_would_give(
    repo: Path,
) -> None:
    write(repo / "README.md", "changed\n")
    write(repo / "new.txt", "new\n")

    entries = by_path(list_tree(repo))

    for path in ("README.md", "new.txt"):
        assert entries[path].content == git(repo, "hash-object", path).strip()


def test_a_link_is_identified_by_its_target(tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to("somewhere/else")

    entry = by_path(list_tree(tmp_path))["link"]

    # git stores a symlink as a blob holding its target.
    assert entry.content == git_hash_of(tmp_path, b"somewhere/else")


def git_hash_of(folder: Path, data: bytes) -> str:
    result = subprocess.run(
        ["git", "hash-object", "--stdin"],
        input=data,
        capture_output=True,
        check=True,
        cwd=folder,
    )
    return result.stdout.decode().strip()


def test_outside_git_every_file_but_dot_git_is_listed(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "a\n")
    write(tmp_path / "debug.log", "kept: no ignore rules apply\n")
    write(tmp_path / "sub" / ".git" / "HEAD", "a folder named .git\n")
    write(tmp_path / "sub" / "b.txt", "b\n")

    assert paths(list_tree(tmp_path)) == {"a.txt", "debug.log", "sub", "sub/b.txt"}


def test_a_work_tree_git_cannot_read_is_an_error_not_a_copy_of_everything(
    tmp_path: Path,
) -> None:
    """Falling back to every file would copy what .gitignore keeps out."""
    write(tmp_path / ".git" / "config", "not a repository\n")
    write(tmp_path / ".env", "SECRET=1\n")

    with pytest.raises(BackendError, match="git ls-files failed"):
        list_tree(tmp_path)


def test_a_nested_repository_brings_its_files_but_not_its_git_folder(
    repo: Path,
) -> None:
    nested = repo / "vendor" / "lib"
    nested.mkdir(parents=True)
    git(nested, "init", "-q")
    write(nested / "lib.py", "x = 1\n")
    write(nested / ".gitignore", "*.tmp\n")
    write(nested / "scratch.tmp", "ignored inside\n")

    listed = paths(list_tree(repo))

    assert {"vendor/lib/lib.py", "vendor/lib/.gitignore"} <= listed
    assert not {p for p in listed if p.endswith(".tmp") or "/.git/" in p}


def test_a_submodule_brings_its_files_and_its_gitfile(
    repo: Path, tmp_path: Path
) -> None:
    library = tmp_path / "library"
    library.mkdir()
    git(library, "init", "-q")
    write(library / "lib.py", "x = 1\n")
    git(library, "add", "-A")
    git(library, "-c", "user.email=t@e.com", "-c", "user.name=t", "commit", "-qm", "l")
    git(repo, "-c", "protocol.file.allow=always", "submodule", "-q", "add",
        str(library), "lib")  # fmt: skip

    entries = by_path(list_tree(repo))

    assert "lib/lib.py" in entries
    assert stat.S_ISREG(entries["lib/.git"].mode)


def test_a_subfolder_of_a_repository_lists_only_its_own_files(repo: Path) -> None:
    assert paths(list_tree(repo / "src")) == {"app", "app/main.py"}


def test_files_get_the_modes_git_records_whether_tracked_or_not(repo: Path) -> None:
    """A tracked file's mode comes from the index, an untracked one's from
    disk; a file must get the same mode either way."""
    write(repo / "group.txt", "untracked\n", 0o664)
    write(repo / "tool.sh", "#!/bin/sh\n", 0o744)
    (repo / "link").symlink_to("src")

    entries = by_path(list_tree(repo))

    assert entries["README.md"].mode == entries["group.txt"].mode == 0o100644
    assert entries["run.sh"].mode == entries["tool.sh"].mode == 0o100755
    assert entries["docs"].mode == entries["link"].mode == 0o120000


def test_a_tracked_file_made_executable_is_listed_executable(repo: Path) -> None:
    (repo / "README.md").chmod(0o755)

    entry = by_path(list_tree(repo))["README.md"]

    assert entry.mode == 0o100755
    assert entry.content == git(repo, "hash-object", "README.md").strip()


def test_a_chmod_counts_even_where_git_is_told_to_ignore_modes(repo: Path) -> None:
    git(repo, "config", "core.fileMode", "false")
    (repo / "README.md").chmod(0o755)

    assert by_path(list_tree(repo))["README.md"].mode == 0o100755


def test_a_tracked_file_turned_into_a_symlink_is_listed_as_one(repo: Path) -> None:
    (repo / "README.md").unlink()
    (repo / "README.md").symlink_to("run.sh")

    entry = by_path(list_tree(repo))["README.md"]

    assert entry.mode == 0o120000
    assert entry.content == git_hash_of(repo, b"run.sh")


def test_a_tracked_symlink_turned_into_a_file_is_listed_as_one(repo: Path) -> None:
    (repo / "docs").unlink()
    write(repo / "docs", "now a file\n")

    entry = by_path(list_tree(repo))["docs"]

    assert entry.mode == 0o100644
    assert entry.content == git(repo, "hash-object", "docs").strip()


def test_a_tracked_file_whose_folder_became_a_file_is_left_out(repo: Path) -> None:
    shutil.rmtree(repo / "src")
    write(repo / "src", "a file where a folder was\n")

    entries = by_path(list_tree(repo))

    assert "src/app/main.py" not in entries and not entries["src"].is_dir


def test_a_renamed_file_is_listed_under_its_new_name_only(repo: Path) -> None:
    (repo / "README.md").rename(repo / "READ.md")

    entries = by_path(list_tree(repo))

    assert "README.md" not in entries
    assert entries["READ.md"].content == git(repo, "hash-object", "READ.md").strip()


def test_files_git_does_not_check_are_read_from_disk(repo: Path) -> None:
    """Git does not look at skip-worktree or assume-unchanged files, so their
    index entries say nothing of the work tree."""
    git(repo, "update-index", "--skip-worktree", "run.sh")
    (repo / "run.sh").unlink()
    git(repo, "update-index", "--assume-unchanged", "README.md")
    write(repo / "README.md", "edited behind git's back\n")

    entries = by_path(list_tree(repo))

    assert "run.sh" not in entries
    assert entries["README.md"].content == git(repo, "hash-object", "README.md").strip()


def test_a_file_in_conflict_is_read_from_disk(repo: Path) -> None:
    git(repo, "checkout", "-qb", "other")
    write(repo / "README.md", "theirs\n")
    git(repo, "commit", "-qam", "theirs")
    git(repo, "checkout", "-q", "-")
    write(repo / "README.md", "ours\n")
    git(repo, "commit", "-qam", "ours")
    subprocess.run(
        ["git", "-C", str(repo), "merge", "-q", "other"], capture_output=True
    )

    entry = by_path(list_tree(repo))["README.md"]

    assert b"<<<<<<<" in (repo / "README.md").read_bytes()
    assert entry.content == git(repo, "hash-object", "README.md").strip()


def test_a_changed_file_in_a_subfolder_of_a_repository_is_read(repo: Path) -> None:
    write(repo / "src" / "app" / "main.py", "print('changed')\n")

    entry = by_path(list_tree(repo / "src"))["app/main.py"]

    assert entry.content == git(repo, "hash-object", "src/app/main.py").strip()


def test_a_sha256_repository_gets_sha256_ids(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "--object-format=sha256")
    write(tmp_path / "tracked.txt", "tracked\n")
    git(tmp_path, "add", "tracked.txt")
    write(tmp_path / "untracked.txt", "untracked\n")

    entries = by_path(list_tree(tmp_path))

    for path in ("tracked.txt", "untracked.txt"):
        assert entries[path].content == git(tmp_path, "hash-object", path).strip()


# -- the digest ---------------------------------------------------------------


def test_the_digest_is_stable_when_nothing_changes(repo: Path) -> None:
    before = tree_digest(list_tree(repo))
    os.utime(repo / "README.md", (0, 0))

    assert tree_digest(list_tree(repo)) == before


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda root: write(root / "README.md", "edited\n"), id="edit"),
        pytest.param(lambda root: (root / "README.md").chmod(0o755), id="chmod"),
        pytest.param(lambda root: write(root / "new.txt", "new\n"), id="untracked"),
        pytest.param(lambda root: (root / "run.sh").unlink(), id="delete"),
        pytest.param(
            lambda root: (root / "README.md").rename(root / "READ.md"), id="rename"
        ),
    ],
)
def test_the_digest_changes_with_content_mode_and_paths(
    repo: Path, change: Callable[[Path], object]
) -> None:
    before = tree_digest(list_tree(repo))

    change(repo)

    assert tree_digest(list_tree(repo)) != before


def test_an_ignored_file_does_not_change_the_digest(repo: Path) -> None:
    before = tree_digest(list_tree(repo))

    write(repo / "another.log", "ignored\n")

    assert tree_digest(list_tree(repo)) == before


def test_a_change_undone_gives_the_digest_back(repo: Path) -> None:
    """An edited file is hashed from disk, a clean one from the index; the
    two must agree, or reverting an edit would rebuild the image."""
    before = tree_digest(list_tree(repo))
    write(repo / "README.md", "edited\n")
    assert tree_digest(list_tree(repo)) != before

    write(repo / "README.md", "hello\n")

    assert tree_digest(list_tree(repo)) == before


def test_a_copy_whose_index_matches_no_file_gives_the_same_digest(
    repo: Path, tmp_path: Path
) -> None:
    """In a copy every file's inode and times differ from what the index
    holds, so git has to compare contents; the tree is still the same."""
    copy = tmp_path / "copy"
    shutil.copytree(repo, copy, symlinks=True)

    assert tree_digest(list_tree(copy)) == tree_digest(list_tree(repo))


def test_a_chmod_undone_gives_the_digest_back(repo: Path) -> None:
    before = tree_digest(list_tree(repo))
    (repo / "run.sh").chmod(0o644)
    assert tree_digest(list_tree(repo)) != before

    (repo / "run.sh").chmod(0o755)

    assert tree_digest(list_tree(repo)) == before


def test_staging_a_change_does_not_change_the_digest(repo: Path) -> None:
    write(repo / "README.md", "edited\n")
    unstaged = tree_digest(list_tree(repo))

    git(repo, "add", "README.md")

    assert tree_digest(list_tree(repo)) == unstaged


# -- names --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("folder", "slug"),
    [
        ("my-project", "my-project"),
        ("My Project (copy)", "my-project-copy"),
        ("__init__", "init"),
        ("Ünïcode", "n-code"),
        ("...", "project"),
        ("x" * 60, "x" * 40),
    ],
)
def test_folder_names_become_valid_repository_names(folder: str, slug: str) -> None:
    assert image_slug(folder) == slug


def test_a_workdir_tag_names_the_folder_and_a_short_hash() -> None:
    tag = workdir_tag(Path("/home/me/My Repo"), "0123456789abcdef" * 4)

    assert tag == "bot-bottle-work-my-repo:0123456789ab"


@pytest.mark.parametrize(
    ("host", "agent"),
    [((501, 20), (501, 20)), ((0, 0), (1000, 1000)), ((1001, 0), (1001, 1000))],
)
def test_the_agent_never_gets_root_ids(
    monkeypatch: pytest.MonkeyPatch, host: tuple[int, int], agent: tuple[int, int]
) -> None:
    monkeypatch.setattr(os, "getuid", lambda: host[0])
    monkeypatch.setattr(os, "getgid", lambda: host[1])

    assert agent_ids() == agent
