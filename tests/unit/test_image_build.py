"""The image builder's decisions, against an in-memory engine.

What the real engine does with a build is tested in tests/e2e/test_images.py;
here a small stand-in for the Docker client records what it was asked to
build and replays the events a build streams.
"""

from __future__ import annotations

import io
import logging
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from docker.errors import APIError, ImageNotFound

from bot_bottle.backend.docker.image import (
    BUILD_LOGGER,
    IMAGE_DIR,
    ImageBuilder,
    ImageBuildError,
    build_image,
)
from bot_bottle.errors import BadInputError, EngineUnavailableError

PEM = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
SUCCESS = [
    {"stream": "Step 1/2 : FROM debian"},
    {"stream": "\n ---> f25585955858\n"},
    {"stream": "Step 2/2 : RUN true\n ---> Running in 1\n"},
    {"stream": " ---> 0123456789ab\n"},
    {"stream": "Successfully built 0123456789ab\n"},
]


@dataclass
class Build:
    """One build the engine was asked for, with its context unpacked."""

    kwargs: dict[str, Any]
    files: dict[str, bytes]
    #: The permission bits of each file in the context.
    modes: dict[str, int]


@dataclass
class FakeImage:
    id: str
    tags: list[str]
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def short_id(self) -> str:
        return self.id[:19]


@dataclass
class FakeEngine:
    """Just enough of docker.DockerClient for the image builder."""

    events: list[dict[str, Any]] = field(default_factory=lambda: list(SUCCESS))
    images_present: dict[str, FakeImage] = field(default_factory=dict)
    builds: list[Build] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    closed: bool = False
    fail_with: Exception | None = None
    busy_removals: int = 0

    @property
    def api(self) -> FakeEngine:
        return self

    @property
    def images(self) -> FakeEngine:
        return self

    def get(self, name: str) -> FakeImage:
        if name not in self.images_present:
            raise ImageNotFound(name)
        return self.images_present[name]

    def list(self, filters: dict[str, Any]) -> list[FakeImage]:
        wanted = dict(item.split("=", 1) for item in filters["label"])
        found = {
            image.id: image
            for image in self.images_present.values()
            if wanted.items() <= image.labels.items()
        }
        return list(found.values())

    def remove(self, name: str, **options: Any) -> None:
        if self.busy_removals:
            self.busy_removals -= 1
            raise APIError("conflict", response=Conflict())
        self.removed.append(name)

    def build(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        if self.fail_with is not None:
            raise self.fail_with
        self.builds.append(Build(kwargs, *unpack(kwargs["fileobj"])))
        if kwargs.get("tag"):
            tag = kwargs["tag"]
            self.images_present[tag] = FakeImage(
                f"sha256:{len(self.builds)}", [tag], kwargs.get("labels") or {}
            )
        return self._stream()

    def _stream(self) -> Iterator[dict[str, Any]]:
        try:
            yield from self.events
        finally:
            self.closed = True


class Conflict:
    """The part of a requests response APIError reads: a 409."""

    status_code = 409
    reason = "Conflict"


def unpack(fileobj: io.IOBase) -> tuple[dict[str, bytes], dict[str, int]]:
    files, modes = {}, {}
    with tarfile.open(fileobj=fileobj, mode="r") as tar:
        for member in tar.getmembers():
            handle = tar.extractfile(member)
            files[member.name] = handle.read() if handle else b""
            modes[member.name] = member.mode
    return files, modes


@pytest.fixture(autouse=True)
def clean_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BOT_BOTTLE_BASE_IMAGE", "BOT_BOTTLE_CA_CERTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BOT_BOTTLE_CLAUDE_VERSION", "9.9.9")


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


def builder(engine: FakeEngine) -> ImageBuilder:
    return ImageBuilder(engine)


def cert(tmp_path: Path, name: str = "corp.crt", data: bytes = PEM) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# -- the base image -----------------------------------------------------------


def test_the_base_image_is_built_from_the_shipped_dockerfile(
    engine: FakeEngine,
) -> None:
    tag = builder(engine).base_image()

    (build,) = engine.builds
    assert tag.startswith("bot-bottle-base:") and build.kwargs["tag"] == tag
    assert build.files["Dockerfile"] == (IMAGE_DIR / "Dockerfile").read_bytes()
    assert build.kwargs["buildargs"]["CLAUDE_VERSION"] == "9.9.9"
    assert build.kwargs["labels"]["dev.bot-bottle.managed"] == "true"
    assert build.kwargs["labels"]["dev.bot-bottle.image"] == "base"
    assert build.kwargs["custom_context"] and build.kwargs["decode"]
    assert build.kwargs["rm"] and build.kwargs["forcerm"]


def test_the_agent_gets_the_host_ids_and_never_root(
    engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("os.getuid", lambda: 0)
    monkeypatch.setattr("os.getgid", lambda: 0)

    builder(engine).base_image()

    args = engine.builds[0].kwargs["buildargs"]
    assert (args["AGENT_UID"], args["AGENT_GID"]) == ("1000", "1000")


def test_an_existing_base_image_is_reused(engine: FakeEngine) -> None:
    first = builder(engine).base_image()

    second = builder(engine).base_image()

    assert second == first and len(engine.builds) == 1


def test_every_input_of_the_base_image_changes_its_tag(
    engine: FakeEngine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    plain = builder(engine).base_image()
    with_cert = builder(engine).base_image(ca_certs=[cert(tmp_path)])
    monkeypatch.setenv("BOT_BOTTLE_CLAUDE_VERSION", "9.9.10")
    other_version = builder(engine).base_image()

    assert len({plain, with_cert, other_version}) == 3


def test_ca_certificates_from_the_setting_and_the_caller_enter_the_context(
    engine: FakeEngine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from_env = cert(tmp_path, "env.pem", PEM + b"env")
    monkeypatch.setenv("BOT_BOTTLE_CA_CERTS", str(from_env))

    builder(engine).base_image(ca_certs=[cert(tmp_path, "arg.crt", PEM + b"arg")])

    files = engine.builds[0].files
    assert files["ca-certs/extra-00.crt"] == PEM + b"env"
    assert files["ca-certs/extra-01.crt"] == PEM + b"arg"


def test_the_shipped_dockerfile_trusts_the_certificates_before_npm_runs() -> None:
    text = (IMAGE_DIR / "Dockerfile").read_text()

    assert text.index("update-ca-certificates") < text.index("npm install")
    assert "NODE_EXTRA_CA_CERTS" in text[: text.index("npm install")]


def test_a_missing_certificate_is_bad_input(engine: FakeEngine, tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match=r"nowhere\.crt"):
        builder(engine).base_image(ca_certs=[tmp_path / "nowhere.crt"])
    assert not engine.builds


def test_a_certificate_that_is_not_pem_is_bad_input(
    engine: FakeEngine, tmp_path: Path
) -> None:
    with pytest.raises(BadInputError, match="not a PEM certificate"):
        builder(engine).base_image(ca_certs=[cert(tmp_path, data=b"\x30\x82")])


def test_a_replacement_base_image_is_used_as_it_is(
    engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine.images_present["corp/claude:1"] = FakeImage("sha256:corp", ["x"])
    monkeypatch.setenv("BOT_BOTTLE_BASE_IMAGE", "corp/claude:1")

    assert builder(engine).base_image() == "corp/claude:1"
    assert not engine.builds


def test_a_missing_replacement_base_image_is_bad_input(
    engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOT_BOTTLE_BASE_IMAGE", "corp/claude:1")

    with pytest.raises(BadInputError, match="BOT_BOTTLE_BASE_IMAGE='corp/claude:1'"):
        builder(engine).base_image()


# -- the workdir image --------------------------------------------------------


def test_a_workdir_image_copies_the_tree_to_its_host_path(
    engine: FakeEngine, tmp_path: Path
) -> None:
    engine.images_present["base"] = FakeImage("sha256:base", ["base"])
    project = tmp_path / "My Project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "a.py").write_text("a = 1\n")

    tag = builder(engine).workdir_image("base", project)

    (build,) = engine.builds
    dockerfile = build.files["Dockerfile"].decode()
    assert tag.startswith("bot-bottle-work-my-project:")
    assert dockerfile.startswith("FROM sha256:base\n")
    assert f'COPY --chown=agent:agent ["tree/", "{project}/"]' in dockerfile
    assert f"WORKDIR {project}\n" in dockerfile
    assert dockerfile.endswith("USER agent\n")
    assert build.files["tree/src/a.py"] == b"a = 1\n"
    assert build.kwargs["labels"]["dev.bot-bottle.image"] == "workdir"


def test_setup_sh_is_run_in_the_build_only_when_the_project_has_one(
    engine: FakeEngine, tmp_path: Path
) -> None:
    engine.images_present["base"] = FakeImage("sha256:base", ["base"])
    builder(engine).workdir_image("base", tmp_path)
    (tmp_path / ".bot-bottle").mkdir()
    (tmp_path / ".bot-bottle" / "setup.sh").write_text("apt-get install -y jq\n")

    builder(engine).workdir_image("base", tmp_path)

    without, with_setup = (build.files for build in engine.builds)
    assert "setup.sh" not in without and "bot-bottle-setup" not in str(without)
    assert with_setup["setup.sh"] == b"apt-get install -y jq\n"
    assert "RUN " in with_setup["Dockerfile"].decode()


def test_a_new_base_image_makes_a_new_workdir_tag(
    engine: FakeEngine, tmp_path: Path
) -> None:
    engine.images_present["base"] = FakeImage("sha256:one", ["base"])
    first = builder(engine).workdir_image("base", tmp_path)
    engine.images_present["base"] = FakeImage("sha256:two", ["base"])

    assert builder(engine).workdir_image("base", tmp_path) != first


def test_a_workdir_path_a_dockerfile_would_rewrite_is_refused(
    engine: FakeEngine, tmp_path: Path
) -> None:
    engine.images_present["base"] = FakeImage("sha256:base", ["base"])
    odd = tmp_path / "$HOME"
    odd.mkdir()

    with pytest.raises(BadInputError, match="another folder"):
        builder(engine).workdir_image("base", odd)


# -- streaming a build --------------------------------------------------------


def run_build(engine: FakeEngine) -> str:
    context = io.BytesIO()
    tarfile.open(fileobj=context, mode="w").close()
    context.seek(0)
    return build_image(engine, "img:1", context)


class BuildLines(logging.Handler):
    """Collects the build logger's lines; raises KeyboardInterrupt at one of
    them when asked, as Ctrl-C would."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        self.interrupt_at: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        if record.getMessage() == self.interrupt_at:
            raise KeyboardInterrupt


@pytest.fixture
def build_lines() -> Iterator[BuildLines]:
    # Attached to the logger itself: whatever else configured logging, the
    # lines arrive here.
    logger = logging.getLogger(BUILD_LOGGER)
    handler, level = BuildLines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_every_line_of_output_reaches_the_build_logger(
    engine: FakeEngine, build_lines: BuildLines
) -> None:
    engine.events = [
        {"stream": "Step 1/1 : RUN apt-get"},
        {"stream": "\n\x1b[91mwarning: red\n\x1b[0m"},
        {"stream": "progress 10%\rprogress 100%\r\n"},
        {"stream": "no newline at the end"},
    ]

    run_build(engine)

    assert build_lines.lines == [
        "building image img:1",
        "Step 1/1 : RUN apt-get",
        "warning: red",
        "progress 100%",
        "no newline at the end",
        "built image img:1",
    ]


def test_an_error_event_raises_with_the_tag_and_the_last_lines(
    engine: FakeEngine,
) -> None:
    engine.events = [{"stream": f"line {n}\n"} for n in range(30)]
    engine.events.append({"error": "The command returned a non-zero code: 4"})

    with pytest.raises(ImageBuildError) as caught:
        run_build(engine)

    assert caught.value.tag == "img:1"
    assert caught.value.tail == tuple(f"line {n}" for n in range(10, 30))
    assert "non-zero code: 4" in str(caught.value) and "line 29" in str(caught.value)
    assert engine.closed


def test_a_failed_build_removes_the_images_its_steps_made(engine: FakeEngine) -> None:
    engine.images_present["aaaaaaaaaaaa"] = FakeImage("sha256:aaaa", [])
    engine.events = [
        {"stream": "Step 1/3 : FROM debian\n ---> f25585955858\n"},
        {"stream": "Step 2/3 : COPY x /x\n ---> aaaaaaaaaaaa\n"},
        {"stream": "Step 3/3 : RUN false\n ---> Running in 0\n"},
        {"error": "failed"},
    ]

    with pytest.raises(ImageBuildError):
        run_build(engine)

    assert engine.removed == ["aaaaaaaaaaaa"]


def test_an_image_still_in_use_after_ctrl_c_is_removed_once_free(
    engine: FakeEngine,
) -> None:
    engine.images_present["aaaaaaaaaaaa"] = FakeImage("sha256:aaaa", [])
    engine.busy_removals = 2
    engine.events = [
        {"stream": "Step 1/2 : COPY x /x\n ---> aaaaaaaaaaaa\n"},
        {"error": "failed"},
    ]

    with pytest.raises(ImageBuildError):
        run_build(engine)

    assert engine.removed == ["aaaaaaaaaaaa"]


def test_a_failed_build_leaves_cached_and_base_images_alone(engine: FakeEngine) -> None:
    engine.events = [
        {"stream": "Step 1/2 : FROM debian\n ---> f25585955858\n"},
        {"stream": "Step 2/2 : COPY x /x\n ---> Using cache\n ---> bbbbbbbbbbbb\n"},
        {"error": "failed"},
    ]

    with pytest.raises(ImageBuildError):
        run_build(engine)

    assert engine.removed == []


def test_ctrl_c_closes_the_stream_so_the_engine_stops(
    engine: FakeEngine, build_lines: BuildLines
) -> None:
    engine.events = [{"stream": "Step 1/1 : RUN sleep 100\n"}, {"stream": "more\n"}]
    build_lines.interrupt_at = "Step 1/1 : RUN sleep 100"

    with pytest.raises(KeyboardInterrupt):
        run_build(engine)

    assert engine.closed
    assert "more" not in build_lines.lines


def test_an_engine_that_does_not_answer_is_our_error(engine: FakeEngine) -> None:
    engine.fail_with = requests.exceptions.ConnectionError("socket gone")

    with pytest.raises(EngineUnavailableError, match="building image img:1"):
        run_build(engine)


def test_building_a_changed_tree_removes_the_folders_earlier_image(
    tmp_path: Path,
) -> None:
    engine = FakeEngine(images_present={"base": FakeImage("sha256:base", ["base"])})
    builder = ImageBuilder(engine)
    (tmp_path / "a.txt").write_text("one\n")
    first = builder.workdir_image("base", tmp_path)
    (tmp_path / "a.txt").write_text("two\n")

    second = builder.workdir_image("base", tmp_path)

    assert second != first
    assert engine.removed == [engine.images_present[first].id]


def test_reusing_an_image_removes_nothing(tmp_path: Path) -> None:
    engine = FakeEngine(images_present={"base": FakeImage("sha256:base", ["base"])})
    builder = ImageBuilder(engine)
    (tmp_path / "a.txt").write_text("one\n")
    builder.workdir_image("base", tmp_path)

    builder.workdir_image("base", tmp_path)

    assert engine.removed == []


# -- the tree in a workdir image ----------------------------------------------


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A committed repository of a file and an executable script."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "README.md").write_text("hello\n")
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "run.sh").chmod(0o755)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "-c", "user.email=t@e.com", "-c", "user.name=t", "commit", "-qm", "i")
    return root


@pytest.fixture
def based() -> FakeEngine:
    return FakeEngine(images_present={"base": FakeImage("sha256:base", ["base"])})


def test_the_context_gives_files_the_modes_their_tag_was_derived_from(
    based: FakeEngine, tmp_path: Path
) -> None:
    """The tag holds the mode git would record (0644 or 0755), so the image
    must get that mode, not the other bits the file has on disk."""
    (tmp_path / "shared.txt").write_text("group-writable\n")
    (tmp_path / "shared.txt").chmod(0o664)
    (tmp_path / "tool.sh").write_text("#!/bin/sh\n")
    (tmp_path / "tool.sh").chmod(0o744)

    ImageBuilder(based).workdir_image("base", tmp_path)

    modes = based.builds[0].modes
    assert (modes["tree/shared.txt"], modes["tree/tool.sh"]) == (0o644, 0o755)


def test_a_tracked_file_made_executable_makes_a_new_image_with_it(
    based: FakeEngine, repo: Path
) -> None:
    first = ImageBuilder(based).workdir_image("base", repo)
    (repo / "README.md").chmod(0o755)

    second = ImageBuilder(based).workdir_image("base", repo)

    assert second != first
    assert based.builds[-1].modes["tree/README.md"] == 0o755


def test_a_deleted_tracked_file_makes_a_new_image_without_it(
    based: FakeEngine, repo: Path
) -> None:
    first = ImageBuilder(based).workdir_image("base", repo)
    (repo / "run.sh").unlink()

    second = ImageBuilder(based).workdir_image("base", repo)

    assert second != first
    assert "tree/run.sh" not in based.builds[-1].files
    assert "tree/README.md" in based.builds[-1].files


def test_an_unchanged_repository_reuses_its_image(
    based: FakeEngine, repo: Path
) -> None:
    (repo / "notes.txt").write_text("untracked\n")
    first = ImageBuilder(based).workdir_image("base", repo)

    second = ImageBuilder(based).workdir_image("base", repo)

    assert second == first and len(based.builds) == 1
    assert based.builds[0].modes["tree/run.sh"] == 0o755
