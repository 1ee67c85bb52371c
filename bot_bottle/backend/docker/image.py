"""The images a bottle runs: the shipped base image and one per project.

The base image is built from the Dockerfile that ships in `image/` beside this
module, or replaced by BOT_BOTTLE_BASE_IMAGE. The per-project (workdir) image
adds the project's working tree, at the same absolute path as on the host, and
runs the project's `.bot-bottle/setup.sh` when it has one.

Every image is tagged by a hash of all its inputs, so an image whose inputs
have not changed is found by its tag and reused instead of rebuilt. Build
output streams, line by line, to the `bot_bottle.build` logger.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import stat
import subprocess
import tarfile
import tempfile
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import docker
import requests
from docker.errors import APIError, DockerException, ImageNotFound
from requests import RequestException

from ... import settings
from ...errors import BackendError, BadInputError
from .engine import translated

__all__ = [
    "BUILD_LOGGER",
    "IMAGE_LABEL",
    "MANAGED_LABEL",
    "ImageBuildError",
    "ImageBuilder",
    "TreeEntry",
    "agent_ids",
    "build_image",
    "image_slug",
    "list_tree",
    "tree_digest",
    "workdir_tag",
]

log = logging.getLogger(__name__)

#: Build output goes here, one INFO record per line; the CLI prints it and the
#: dashboard shows it.
BUILD_LOGGER = "bot_bottle.build"
build_log = logging.getLogger(BUILD_LOGGER)

MANAGED_LABEL = "dev.bot-bottle.managed"
IMAGE_LABEL = "dev.bot-bottle.image"
WORKDIR_LABEL = "dev.bot-bottle.workdir"
CLAUDE_VERSION_LABEL = "dev.bot-bottle.claude-version"

#: The shipped Dockerfile and any files it copies, installed as package data.
IMAGE_DIR = Path(__file__).with_name("image")
BASE_REPOSITORY = "bot-bottle-base"
WORKDIR_REPOSITORY = "bot-bottle-work"
SETUP_SCRIPT = ".bot-bottle/setup.sh"

#: The uid and gid the agent gets when the host user is root: claude refuses
#: to skip permission prompts as root, and should not run as root anyway.
FALLBACK_ID = 1000

#: Bump when the way a tag is derived changes, so old tags are not reused.
TAG_SCHEME = "bot-bottle image v1"
TAIL_LINES = 20
#: How long the images of an interrupted build may take to be free to remove.
DISCARD_SECONDS = 3.0
HASH_CHARS = 12
#: A build context larger than this is spooled to a temporary file.
SPOOL_BYTES = 64 << 20
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: The classic builder's progress lines: a step begins, and its image is done.
STEP_LINE = re.compile(r"Step \d+/\d+ : (\S+)")
LAYER_LINE = re.compile(r" ---> ([0-9a-f]{12,64})$")
CACHE_LINE = " ---> Using cache"


class ImageBuildError(BackendError):
    """An image build failed; carries the image and the end of its output."""

    def __init__(self, tag: str, cause: str, tail: Sequence[str] = ()) -> None:
        self.tag = tag
        self.cause = cause
        self.tail = tuple(tail)
        message = f"building image {tag} failed: {cause}"
        if self.tail:
            message += "\n" + "\n".join(f"  {line}" for line in self.tail)
        super().__init__(message)


def agent_ids() -> tuple[int, int]:
    """The uid and gid the agent runs as: the host user's, never root's."""
    uid, gid = os.getuid(), os.getgid()
    return uid or FALLBACK_ID, gid or FALLBACK_ID


class ImageBuilder:
    """Finds or builds the images a bottle needs, on one Docker engine."""

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client
        # Ids of images found so far: the base is looked up to decide on a
        # build and again as the workdir image's parent; one call serves both.
        self._found: dict[str, str] = {}

    def base_image(self, *, ca_certs: Sequence[Path] = ()) -> str:
        """The base image's tag: BOT_BOTTLE_BASE_IMAGE, or the shipped one.

        The shipped image is built when no image with its tag exists yet.
        `ca_certs` are added to the system store, beside BOT_BOTTLE_CA_CERTS.

        Raises:
            BadInputError: the replacement image or a certificate is missing.
            ImageBuildError: the build failed.
        """
        replacement = settings.base_image()
        if replacement is not None:
            self._require_replacement(replacement)
            return replacement

        paths = [*settings.ca_cert_paths(), *ca_certs]
        tag, _ = self._find_or_build(_BaseRecipe([_read_cert(path) for path in paths]))
        return tag

    def workdir_image(self, base: str, workdir: Path) -> str:
        """The tag of an image holding `workdir`'s tree on top of `base`.

        Raises:
            BadInputError: the folder cannot be used.
            ImageBuildError: the build failed (setup.sh included).
        """
        recipe = _WorkdirRecipe(self._image_id(base), workdir)
        tag, built = self._find_or_build(recipe)
        if built:
            self._remove_superseded(str(recipe.workdir), keep=tag)
        return tag

    def _find_or_build(self, recipe: _Recipe) -> tuple[str, bool]:
        """The recipe's tag, and whether it had to be built now."""
        tag = recipe.tag()
        if self._exists(tag):
            log.debug("reusing image %s", tag)
            return tag, False
        with _spooled_tar(recipe.write_context) as context:
            build_image(
                self.client,
                tag,
                context,
                buildargs=recipe.buildargs,
                labels=recipe.labels(),
            )
        return tag, True

    def _remove_superseded(self, workdir: str, *, keep: str) -> None:
        """Remove the folder's earlier images, so each change does not leave one.

        An image a bottle still runs from is in use and stays; the engine
        refuses to remove it, which is not an error here.
        """
        where = {"label": [f"{MANAGED_LABEL}=true", f"{WORKDIR_LABEL}={workdir}"]}
        with translated(f"listing earlier images of {workdir}"):
            images = self.client.images.list(filters=where)
        for image in images:
            if keep in image.tags:
                continue
            try:
                self.client.images.remove(image.id, noprune=False)
                log.debug("removed superseded image %s", image.short_id)
            except (APIError, RequestException) as exc:
                log.debug("kept image %s: %s", image.short_id, exc)

    def _require_replacement(self, name: str) -> None:
        if self._exists(name):
            return
        raise BadInputError(
            f"BOT_BOTTLE_BASE_IMAGE={name!r} is not an image on this Docker "
            "engine; build or load it first, or unset BOT_BOTTLE_BASE_IMAGE "
            "to use the shipped image"
        )

    def _exists(self, name: str) -> bool:
        return self._find_id(name) is not None

    def _image_id(self, name: str) -> str:
        image_id = self._find_id(name)
        if image_id is None:
            raise BackendError(f"image {name} is not on this engine")
        return image_id

    def _find_id(self, name: str) -> str | None:
        if name in self._found:
            return self._found[name]
        with translated(f"looking up image {name}"):
            try:
                image_id: str = self.client.images.get(name).id
            except ImageNotFound:
                return None
        self._found[name] = image_id
        return image_id


class _Recipe(ABC):
    """Everything one image is built from, and how its tag derives from it."""

    buildargs: dict[str, str]

    @abstractmethod
    def tag(self) -> str:
        """A tag that changes whenever any input of the build changes."""

    @abstractmethod
    def labels(self) -> dict[str, str]: ...

    @abstractmethod
    def write_context(self, tar: tarfile.TarFile) -> None:
        """Add the Dockerfile and every file it copies to the build context."""


def _labels(kind: str) -> dict[str, str]:
    return {MANAGED_LABEL: "true", IMAGE_LABEL: kind}


# -- building ---------------------------------------------------------------


def build_image(
    client: docker.DockerClient,
    tag: str,
    context: IO[bytes],
    *,
    buildargs: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> str:
    """Build the tar `context` (Dockerfile at its root) as `tag`.

    Every line of output goes to the `bot_bottle.build` logger. The engine
    tags the image only when every step succeeded, so a failed or interrupted
    build leaves no image under `tag`.

    Raises:
        ImageBuildError: a step failed.
        EngineUnavailableError, BackendError: the engine failed.
    """
    build_log.info("building image %s", tag)
    output = _BuildOutput()
    with translated(f"building image {tag}"):
        events = client.api.build(
            fileobj=context,
            custom_context=True,
            tag=tag,
            buildargs=dict(buildargs or {}),
            labels=dict(labels or {}),
            decode=True,
            rm=True,
            forcerm=True,
        )
        try:
            _follow(events, tag, output)
        except BaseException:
            # Closing the stream is what stops the engine's build, on Ctrl-C
            # too; then the steps it finished are of no further use.
            events.close()
            _discard(client, output.created)
            raise
        events.close()
    build_log.info("built image %s", tag)
    return tag


def _follow(events: Iterator[dict[str, Any]], tag: str, output: _BuildOutput) -> None:
    for event in events:
        if "error" in event:
            output.flush()
            raise ImageBuildError(tag, str(event["error"]).strip(), output.tail)
        if "stream" in event:
            output.feed(str(event["stream"]))
        elif "status" in event:
            output.feed(f"{event['status']} {event.get('progress', '')}\n")
    output.flush()


def _discard(client: docker.DockerClient, created: Sequence[str]) -> None:
    """Remove what a failed build created, so no untagged image is left.

    Removing the last image a build created removes, with it, each untagged
    parent no other image or container uses.
    """
    if not created:
        return
    deadline = time.monotonic() + DISCARD_SECONDS
    while True:
        try:
            if not client.images.get(created[-1]).tags:
                client.images.remove(created[-1])
            return
        except APIError as exc:
            # 409: after Ctrl-C, the step's container may still be going away.
            if exc.status_code != 409 or time.monotonic() > deadline:
                log.debug("could not remove image %s: %s", created[-1], exc)
                return
            time.sleep(0.2)
        except (DockerException, requests.exceptions.RequestException) as exc:
            log.debug("could not remove image %s: %s", created[-1], exc)
            return


class _BuildOutput:
    """Cuts streamed build output into lines, logs each and keeps the last few.

    It also notes the images the build's steps created (not those of FROM or
    taken from the cache), so that a failed build can remove them.
    """

    def __init__(self) -> None:
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        self.created: list[str] = []
        self._pending = ""
        self._step_creates = False

    def feed(self, text: str) -> None:
        *lines, self._pending = (self._pending + text).split("\n")
        for line in lines:
            self._emit(line)

    def flush(self) -> None:
        if self._pending:
            self._emit(self._pending)
        self._pending = ""

    def _emit(self, line: str) -> None:
        # apt and npm redraw progress with carriage returns; keep the last draw.
        text = line.rstrip("\r").rsplit("\r", 1)[-1]
        text = ANSI_ESCAPE.sub("", text).rstrip()
        if text:
            self.tail.append(text)
            build_log.info("%s", text)
            self._track(text)

    def _track(self, text: str) -> None:
        if step := STEP_LINE.match(text):
            self._step_creates = step.group(1).upper() != "FROM"
        elif text == CACHE_LINE:
            self._step_creates = False
        elif (layer := LAYER_LINE.match(text)) and self._step_creates:
            self.created.append(layer.group(1))


@contextmanager
def _spooled_tar(write: Callable[[tarfile.TarFile], None]) -> Iterator[IO[bytes]]:
    """A build context tar, in memory until it grows large, then on disk."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as buffer:
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            write(tar)
        buffer.seek(0)
        yield buffer


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    tar.addfile(info, io.BytesIO(data))


def _add_dir(tar: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    tar.addfile(info)


# -- the base image ---------------------------------------------------------


@dataclass(frozen=True)
class _Cert:
    path: Path
    data: bytes


def _read_cert(path: Path) -> _Cert:
    try:
        data = path.expanduser().read_bytes()
    except OSError as exc:
        raise BadInputError(
            f"CA certificate {path} (from BOT_BOTTLE_CA_CERTS or --ca-cert) "
            f"cannot be read: {exc.strerror}"
        ) from exc
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise BadInputError(
            f"CA certificate {path} is not a PEM certificate; convert it with "
            "`openssl x509 -inform der -in FILE -out FILE.crt`"
        )
    return _Cert(path, data)


class _BaseRecipe(_Recipe):
    """Everything the shipped base image is built from."""

    def __init__(self, certs: Sequence[_Cert]) -> None:
        uid, gid = agent_ids()
        self.certs = list(certs)
        self.buildargs = {
            "CLAUDE_VERSION": settings.claude_version(),
            "AGENT_UID": str(uid),
            "AGENT_GID": str(gid),
        }
        self.files = sorted(path for path in IMAGE_DIR.iterdir() if path.is_file())

    def tag(self) -> str:
        digest = hashlib.sha256(f"{TAG_SCHEME} base\0".encode())
        for path in self.files:
            _update(digest, path.name.encode(), path.read_bytes())
        for name, value in sorted(self.buildargs.items()):
            _update(digest, name.encode(), value.encode())
        for cert in self.certs:
            _update(digest, b"cert", cert.data)
        return f"{BASE_REPOSITORY}:{digest.hexdigest()[:HASH_CHARS]}"

    def labels(self) -> dict[str, str]:
        version = self.buildargs["CLAUDE_VERSION"]
        return {**_labels("base"), CLAUDE_VERSION_LABEL: version}

    def write_context(self, tar: tarfile.TarFile) -> None:
        for path in self.files:
            _add_bytes(tar, path.name, path.read_bytes())
        _add_dir(tar, "ca-certs")
        # update-ca-certificates takes only files named *.crt.
        for index, cert in enumerate(self.certs):
            _add_bytes(tar, f"ca-certs/extra-{index:02d}.crt", cert.data)


def _update(digest: Any, *fields: bytes) -> None:
    """Feed fields into a hash so that no two field lists run together."""
    for field in fields:
        digest.update(len(field).to_bytes(8, "big"))
        digest.update(field)


# -- the working tree -------------------------------------------------------

#: The modes git records for a file, an executable file and a symlink. A file
#: of the tree gets one of them whether its mode comes from the index or from
#: disk, and the image holds it with that mode, so that the two agree.
FILE_MODE = 0o100644
EXECUTABLE_MODE = 0o100755
LINK_MODE = 0o120000
INDEX_MODES = {f"{mode:o}": mode for mode in (FILE_MODE, EXECUTABLE_MODE, LINK_MODE)}
GITLINK_MODE = "160000"
#: What `git ls-files -v` tags a merged index entry with when git checks its
#: work tree copy; skip-worktree (S), assume-unchanged (lowercase) and
#: unmerged (M) entries are read from disk instead.
CHECKED_TAG = "H"
UNTRACKED_TAG = "? "
#: A changed executable bit, or a symlink turned into a file, is a change to
#: git whatever the repository's core.fileMode and core.symlinks say.
GIT_OPTIONS = ("-c", "core.fileMode=true", "-c", "core.symlinks=true")
LIST_INDEX = ("ls-files", "-z", "-v", "--stage", "--others", "--exclude-standard")
LIST_CHANGED = ("ls-files", "-z", "--modified")


@dataclass(frozen=True, slots=True)
class TreeEntry:
    """One file, symlink or folder of a working tree, as an image holds it."""

    #: Relative to the tree's root, `/`-separated.
    path: str
    #: Type and permission bits: for a file or symlink the mode git records
    #: (0o100644, 0o100755 or 0o120000), for a folder its `st_mode`.
    mode: int
    #: A git blob id of the content (a symlink's target); empty for folders.
    content: str

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)


def list_tree(workdir: Path) -> list[TreeEntry]:
    """The tree a workdir image holds: files, symlinks and their folders.

    In a git work tree that is what git tracks plus the untracked files it
    does not ignore; elsewhere every file. Never a `.git` folder. A tracked
    file git finds unchanged in the work tree takes its mode and blob id from
    the index, so only changed and untracked files are read.
    """
    root = workdir.resolve()
    top = str(root)
    found = _git_tree(top, "") if _is_git_tree(root) else _walk_tree(top)
    files = {entry.path: entry for entry in found if entry is not None}
    tree = _folders(top, files) | files
    return [tree[path] for path in sorted(tree)]


def tree_digest(entries: Iterable[TreeEntry]) -> str:
    """A hash of a tree's paths, modes and contents."""
    digest = hashlib.sha256(f"{TAG_SCHEME} tree\0".encode())
    # The bytes `_update` would feed for each entry's path, mode and content,
    # joined for one update: a tree has thousands of entries.
    modes: dict[int, bytes] = {}
    fields: list[bytes] = []
    for entry in entries:
        if entry.mode not in modes:
            mode = b"%o" % entry.mode
            modes[entry.mode] = len(mode).to_bytes(8, "big") + mode
        path, content = entry.path.encode(), entry.content.encode()
        fields += (len(path).to_bytes(8, "big"), path, modes[entry.mode])
        fields += (len(content).to_bytes(8, "big"), content)
    digest.update(b"".join(fields))
    return digest.hexdigest()


def image_slug(name: str) -> str:
    """A folder name made fit for an image repository name."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40].strip("-")
    return slug or "project"


def workdir_tag(workdir: Path, digest: str) -> str:
    """The tag of a workdir image: the folder's name and the hash of inputs."""
    return f"{WORKDIR_REPOSITORY}-{image_slug(workdir.name)}:{digest[:HASH_CHARS]}"


def _is_git_tree(root: Path) -> bool:
    # Judged by the folders, not by asking git: when git fails inside a work
    # tree the listing must fail, not fall back to copying ignored files.
    return any((folder / ".git").exists() for folder in [root, *root.parents])


def _git_tree(top: str, sub: str) -> Iterator[TreeEntry | None]:
    """The files git lists in `sub` (empty, or a folder ending in `/`) of `top`.

    A tracked file git vouches for takes its mode and blob id from the index;
    every other file is read from disk (None when it is gone).
    """
    folder = os.path.join(top, sub)
    with (
        _start_git(folder, LIST_INDEX) as listing,
        _start_git(folder, LIST_CHANGED) as check,
    ):
        # The index is taken in while the other run still checks the work tree.
        index = _GitIndex(top, sub, _split(_output(listing, LIST_INDEX, folder)))
        index.distrust(_split(_output(check, LIST_CHANGED, folder)))
    yield from index.vouched.values()
    for name in index.unvouched:
        yield _read_entry(top, sub + name, index.algorithm)
    for name in index.submodules:
        yield from _nested_tree(top, sub + name, index.algorithm, keep_gitfile=True)
    for name in index.untracked:
        # A folder shown with a trailing slash is another repository.
        if name.endswith("/"):
            nested = sub + name[:-1]
            yield from _nested_tree(top, nested, index.algorithm, keep_gitfile=False)
        else:
            yield _read_entry(top, sub + name, index.algorithm)


class _GitIndex:
    """What `git ls-files -v --stage --others` lists in one folder, split by
    whether git vouches for the index's mode and blob id of a file."""

    def __init__(self, top: str, sub: str, records: list[str]) -> None:
        #: Tracked files whose index mode and blob id are taken, by name.
        self.vouched: dict[str, TreeEntry] = {}
        #: Tracked files to read from disk.
        self.unvouched: list[str] = []
        self.submodules: list[str] = []
        self.untracked: list[str] = []
        self.algorithm = "sha1"
        for record in records:
            if record.startswith(UNTRACKED_TAG):
                self.untracked.append(record[2:])
                continue
            tag, mode, blob, rest = record.split(" ", 3)
            name = rest.partition("\t")[2]  # after the stage number
            if mode == GITLINK_MODE:
                self.submodules.append(name)
            elif tag == CHECKED_TAG and mode in INDEX_MODES:
                self.vouched[name] = TreeEntry(sub + name, INDEX_MODES[mode], blob)
            else:
                self.unvouched.append(name)
            # Git uses one hash in a repository: its blob ids tell which.
            self.algorithm = "sha256" if len(blob) == 64 else "sha1"

    def distrust(self, changed: Iterable[str]) -> None:
        """Have the files git found changed or deleted read from disk."""
        for name in changed:
            if self.vouched.pop(name, None) is not None:
                self.unvouched.append(name)


def _start_git(folder: str, args: Sequence[str]) -> subprocess.Popen[bytes]:
    command = ["git", *GIT_OPTIONS, "-C", folder, *args]
    try:
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except FileNotFoundError as exc:
        raise BackendError(f"git is needed to list the files of {folder}") from exc


def _output(
    process: subprocess.Popen[bytes], args: Sequence[str], folder: str
) -> bytes:
    output, errors = process.communicate()
    if process.returncode:
        detail = errors.decode(errors="replace").strip()
        raise BackendError(f"git {args[0]} failed in {folder}: {detail}")
    return output


def _nested_tree(
    top: str, path: str, algorithm: str, *, keep_gitfile: bool
) -> Iterator[TreeEntry | None]:
    """A submodule's or nested repository's tree, under `path`."""
    gitfile = os.path.join(top, path, ".git")
    # An uninitialised submodule is an empty folder; git would answer for the
    # parent repository there.
    if not os.path.exists(gitfile):
        return
    yield from _git_tree(top, f"{path}/")
    # A submodule's `.git` is a file naming its repository inside the parent's
    # `.git`, which the bottle receives at launch.
    if keep_gitfile and os.path.isfile(gitfile):
        yield _read_entry(top, f"{path}/.git", algorithm)


def _walk_tree(top: str) -> Iterator[TreeEntry | None]:
    for folder, dirnames, filenames in os.walk(top):
        dirnames[:] = [name for name in dirnames if name != ".git"]
        base = os.path.relpath(folder, top)
        prefix = "" if base == os.curdir else f"{base}/"
        # os.walk lists a symlink to a folder among the folders, not following it.
        links = [name for name in dirnames if os.path.islink(f"{folder}/{name}")]
        for name in [*filenames, *links]:
            yield _read_entry(top, prefix + name, "sha1")


def _split(output: bytes) -> list[str]:
    return [part for part in os.fsdecode(output).split("\0") if part]


def _read_entry(top: str, path: str, algorithm: str) -> TreeEntry | None:
    """A file or symlink as read from disk; None when it is gone or neither."""
    full = os.path.join(top, path)
    try:
        info = os.lstat(full)
    except (FileNotFoundError, NotADirectoryError):
        return None  # deleted in the work tree but still in the index
    mode = _git_mode(info.st_mode)
    if mode is None:
        return None
    return TreeEntry(path, mode, _blob_id(full, info, algorithm))


def _git_mode(st_mode: int) -> int | None:
    """The mode git records for a file of this `st_mode`; None if not a file.

    Git keeps only whether the owner may run a file; so does the image.
    """
    if stat.S_ISLNK(st_mode):
        return LINK_MODE
    if not stat.S_ISREG(st_mode):
        return None
    return EXECUTABLE_MODE if st_mode & stat.S_IXUSR else FILE_MODE


def _blob_id(path: str, info: os.stat_result, algorithm: str) -> str:
    """The id git would give the content: the same bytes, the same id."""
    digest = hashlib.new(algorithm)
    if stat.S_ISLNK(info.st_mode):
        target = os.fsencode(os.readlink(path))
        digest.update(b"blob %d\0" % len(target) + target)
        return digest.hexdigest()
    digest.update(b"blob %d\0" % info.st_size)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _folders(top: str, paths: Iterable[str]) -> dict[str, TreeEntry]:
    """The folders that hold `paths`, each with its own `st_mode`."""
    names: set[str] = set()
    for path in paths:
        parent = path.rpartition("/")[0]
        while parent and parent not in names:
            names.add(parent)
            parent = parent.rpartition("/")[0]
    return {
        name: TreeEntry(name, os.lstat(os.path.join(top, name)).st_mode, "")
        for name in names
    }


# -- the workdir image ------------------------------------------------------


class _WorkdirRecipe(_Recipe):
    """Everything a workdir image is built from."""

    def __init__(self, base_id: str, workdir: Path) -> None:
        self.workdir = _checked_workdir(workdir)
        self.base_id = base_id
        self.entries = list_tree(self.workdir)
        self.setup = _read_setup(self.workdir)
        self.buildargs = {}

    def dockerfile(self) -> str:
        target = json.dumps(f"{self.workdir}/")
        lines = [
            f"FROM {self.base_id}",
            "USER root",
            f'COPY --chown=agent:agent ["tree/", {target}]',
            f"WORKDIR {self.workdir}",
        ]
        if self.setup is not None:
            lines += [
                "COPY setup.sh /tmp/bot-bottle-setup.sh",
                # Through the shell, a script without a #! line still runs.
                "RUN chmod 0755 /tmp/bot-bottle-setup.sh"
                " && /tmp/bot-bottle-setup.sh && rm -f /tmp/bot-bottle-setup.sh",
            ]
        lines.append("USER agent")
        return "\n".join(lines) + "\n"

    def tag(self) -> str:
        digest = hashlib.sha256(f"{TAG_SCHEME} workdir\0".encode())
        _update(digest, self.dockerfile().encode(), self.setup or b"")
        _update(digest, tree_digest(self.entries).encode())
        return workdir_tag(self.workdir, digest.hexdigest())

    def labels(self) -> dict[str, str]:
        return {**_labels("workdir"), WORKDIR_LABEL: str(self.workdir)}

    def write_context(self, tar: tarfile.TarFile) -> None:
        _add_bytes(tar, "Dockerfile", self.dockerfile().encode())
        if self.setup is not None:
            _add_bytes(tar, "setup.sh", self.setup, 0o755)
        _add_dir(tar, "tree")
        for entry in self.entries:
            _add_tree_entry(tar, self.workdir, entry)


def _checked_workdir(workdir: Path) -> Path:
    root = workdir.resolve()
    if not root.is_dir():
        raise BadInputError(f"the working directory {workdir} is not a folder")
    # A Dockerfile would expand `$NAME` in the path, and cannot hold a newline.
    if any(char in str(root) for char in "$\n\r\\"):
        raise BadInputError(
            f"the working directory {root} has a `$`, `\\` or line break in its "
            "path, which an image build cannot copy to; use another folder"
        )
    if root == Path(root.anchor):
        raise BadInputError("the working directory cannot be the filesystem root")
    return root


def _read_setup(workdir: Path) -> bytes | None:
    script = workdir / SETUP_SCRIPT
    if not script.is_file():
        return None
    return script.read_bytes()


def _add_tree_entry(tar: tarfile.TarFile, root: Path, entry: TreeEntry) -> None:
    full = root / entry.path
    info = tar.gettarinfo(str(full), arcname=f"tree/{entry.path}")
    # COPY --chown gives the agent ownership whatever the headers say; the
    # host's user and group names have no business in the context.
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if info.isreg():
        # The tag was derived from git's mode for the file (0644 or 0755), and
        # the image gets that mode, whatever other bits the file has on disk.
        info.mode = stat.S_IMODE(entry.mode)
        with full.open("rb") as handle:
            tar.addfile(info, handle)
    else:
        tar.addfile(info)
