"""The images, against a real engine: workdir images and the test images.

Workdir images are built on the agent test image, which keeps the base image
contract, so these tests need no npm install; the shipped Dockerfile itself is
built in test_real_image.py.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import subprocess
import tarfile
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml
from docker.errors import ImageNotFound

from bot_bottle.backend.docker.image import (
    BUILD_LOGGER,
    ImageBuilder,
    ImageBuildError,
    agent_ids,
)
from bot_bottle.pipelock import PipelockProxy

from .conftest import TEST_LABEL, ResourceTracker

pytestmark = pytest.mark.engine

LABELS = {TEST_LABEL: "images"}


# -- helpers ------------------------------------------------------------------


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A repository with tracked, untracked, ignored and executable files."""
    root = tmp_path / f"project-{uuid.uuid4().hex[:6]}"
    root.mkdir()
    git(root, "init", "-q")
    write(root / ".gitignore", "*.log\n")
    write(root / "README.md", "hello\n")
    write(root / "src" / "main.py", "print('hi')\n")
    write(root / "run.sh", "#!/bin/sh\n", 0o755)
    (root / "docs").symlink_to("src")
    git(root, "add", "-A")
    git(root, "-c", "user.email=t@e.com", "-c", "user.name=t", "commit", "-qm", "one")
    write(root / "notes.txt", "untracked\n")
    write(root / "debug.log", "ignored\n")
    return root


@pytest.fixture
def builder(docker_client: docker.DockerClient) -> ImageBuilder:
    return ImageBuilder(docker_client)


@pytest.fixture
def made_images(docker_client: docker.DockerClient) -> Iterator[list[str]]:
    """Tags a test builds; removed afterwards, whatever happened."""
    tags: list[str] = []
    yield tags
    for tag in reversed(tags):
        with contextlib.suppress(ImageNotFound):
            docker_client.images.remove(tag, force=True)


def run(
    client: docker.DockerClient,
    tracker: ResourceTracker,
    image: str,
    command: Sequence[str],
    **options: Any,
) -> tuple[int, str]:
    """Run `command` in a new container; its exit status and output."""
    container = client.containers.create(image, list(command), labels=LABELS, **options)
    tracker.container(container.id)
    container.start()
    status = container.wait(timeout=60)["StatusCode"]
    return status, container.logs().decode()


def put_file(container: Any, folder: str, name: str, data: bytes, mode: int) -> None:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(data), mode
        info.uid, info.gid = agent_ids()
        tar.addfile(info, io.BytesIO(data))
    container.put_archive(folder, archive.getvalue())


class BuildLines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def build_lines() -> Iterator[BuildLines]:
    logger = logging.getLogger(BUILD_LOGGER)
    handler, level = BuildLines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


# -- workdir images -----------------------------------------------------------


def test_a_workdir_image_holds_exactly_the_tree_at_the_host_path(
    docker_client: docker.DockerClient,
    tracker: ResourceTracker,
    builder: ImageBuilder,
    made_images: list[str],
    agent_image: str,
    project: Path,
) -> None:
    tag = builder.workdir_image(agent_image, project)
    made_images.append(tag)

    listing = "pwd; id -un; find . -mindepth 1 -printf '%P %U %G %y %m\\n'"
    status, output = run(docker_client, tracker, tag, ["sh", "-c", listing])

    assert status == 0, output
    cwd, user, *lines = output.splitlines()
    assert (cwd, user) == (str(project), "agent")
    found = {line.split()[0]: line.split()[1:] for line in lines}
    assert set(found) == {
        ".gitignore",
        "README.md",
        "docs",
        "notes.txt",
        "run.sh",
        "src",
        "src/main.py",
    }
    uid, gid = agent_ids()
    assert {(owner, group) for owner, group, *_ in found.values()} == {
        (str(uid), str(gid))
    }
    assert found["docs"][2] == "l" and found["src"][2] == "d"
    assert found["run.sh"][3] == "755" and found["README.md"][3] == "644"


def test_an_unchanged_tree_reuses_its_image_without_a_build(
    docker_client: docker.DockerClient,
    builder: ImageBuilder,
    made_images: list[str],
    agent_image: str,
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = builder.workdir_image(agent_image, project)
    made_images.append(first)
    first_id = docker_client.images.get(first).id

    def no_build(**kwargs: Any) -> None:
        raise AssertionError("an unchanged tree was built again")

    monkeypatch.setattr(docker_client.api, "build", no_build)
    started = time.monotonic()
    second = builder.workdir_image(agent_image, project)

    assert second == first
    assert docker_client.images.get(second).id == first_id
    assert time.monotonic() - started < 2


def test_a_changed_file_makes_a_new_image_with_the_change(
    docker_client: docker.DockerClient,
    tracker: ResourceTracker,
    builder: ImageBuilder,
    made_images: list[str],
    agent_image: str,
    project: Path,
) -> None:
    first = builder.workdir_image(agent_image, project)
    made_images.append(first)
    write(project / "README.md", "changed\n")

    second = builder.workdir_image(agent_image, project)
    made_images.append(second)

    assert second != first
    assert second.split(":")[0] == first.split(":")[0]
    assert run(docker_client, tracker, second, ["cat", "README.md"]) == (0, "changed\n")


def test_a_new_workdir_image_replaces_the_folders_earlier_one(
    docker_client: docker.DockerClient,
    builder: ImageBuilder,
    made_images: list[str],
    agent_image: str,
    project: Path,
) -> None:
    first = builder.workdir_image(agent_image, project)
    made_images.append(first)
    write(project / "README.md", "changed again\n")

    second = builder.workdir_image(agent_image, project)
    made_images.append(second)

    with pytest.raises(ImageNotFound):
        docker_client.images.get(first)
    assert docker_client.images.get(second).tags == [second]


def test_an_image_a_bottle_still_uses_is_kept(
    docker_client: docker.DockerClient,
    builder: ImageBuilder,
    made_images: list[str],
    agent_image: str,
    project: Path,
) -> None:
    first = builder.workdir_image(agent_image, project)
    made_images.append(first)
    running = docker_client.containers.run(
        first, ["sleep", "60"], detach=True, labels={TEST_LABEL: "in-use"}
    )
    try:
        write(project / "README.md", "changed while in use\n")
        made_images.append(builder.workdir_image(agent_image, project))

        assert docker_client.images.get(first).tags == [first]
    finally:
        # Before the images go: an image in use would only lose its tag.
        running.remove(force=True)


def test_setup_sh_runs_as_root_in_the_tree_and_its_output_streams(
    docker_client: docker.DockerClient,
    tracker: ResourceTracker,
    builder: ImageBuilder,
    made_images: list[str],
    agent_image: str,
    project: Path,
    build_lines: BuildLines,
) -> None:
    script = "echo setting up; id -u > /setup-uid; cp README.md /setup-saw\n"
    write(project / ".bot-bottle" / "setup.sh", script)

    tag = builder.workdir_image(agent_image, project)
    made_images.append(tag)

    command = ["sh", "-c", "cat /setup-uid /setup-saw; id -un"]
    assert run(docker_client, tracker, tag, command) == (0, "0\nhello\nagent\n")
    assert "setting up" in build_lines.lines


def test_a_failing_setup_sh_raises_and_leaves_no_image_behind(
    docker_client: docker.DockerClient,
    builder: ImageBuilder,
    agent_image: str,
    project: Path,
) -> None:
    write(project / ".bot-bottle" / "setup.sh", "echo about to fail\nexit 4\n")

    with pytest.raises(ImageBuildError) as caught:
        builder.workdir_image(agent_image, project)

    assert "non-zero code: 4" in caught.value.cause
    assert "about to fail" in caught.value.tail
    with pytest.raises(ImageNotFound):
        docker_client.images.get(caught.value.tag)
    assert images_copying_to(docker_client, project) == []


def images_copying_to(client: docker.DockerClient, path: Path) -> list[str]:
    """Images, tagged or not, made by a build step that copied to `path`.

    Every later step of that build builds on this step's image, so any
    leftover of the build keeps one of these.
    """
    found = []
    for image in client.images.list(all=True):
        step = client.api.inspect_image(image.id)["ContainerConfig"]["Cmd"] or []
        if f" in {path}/" in " ".join(step):
            found.append(image.id)
    return found


def test_a_replacement_base_image_is_used_without_a_build(
    docker_client: docker.DockerClient,
    builder: ImageBuilder,
    agent_image: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BOT_BOTTLE_BASE_IMAGE", agent_image)

    def no_build(**kwargs: Any) -> None:
        raise AssertionError("a replacement base image was built")

    monkeypatch.setattr(docker_client.api, "build", no_build)

    assert builder.base_image() == agent_image


# -- the pipelock stand-in ----------------------------------------------------


class ConfigOf(PipelockProxy):
    """The product's pipelock config, without a proxy to run."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


def proxy_config(allowlist: Sequence[str], **extra: Any) -> bytes:
    config = ConfigOf(allowlist).config()
    config.update(extra)
    return yaml.safe_dump(config).encode()


def start_proxy(
    client: docker.DockerClient,
    tracker: ResourceTracker,
    image: str,
    config: bytes,
    network: str | None = None,
) -> Any:
    proxy = client.containers.create(
        image,
        ["run", "--config", "/tmp/pipelock.yaml", "--listen", "0.0.0.0:8888"],
        labels=LABELS,
        network=network,
    )
    tracker.container(proxy.id)
    put_file(proxy, "/tmp", "pipelock.yaml", config, 0o644)
    proxy.start()
    return proxy


def test_the_proxy_stand_in_refuses_an_unknown_key(
    docker_client: docker.DockerClient, tracker: ResourceTracker, proxy_image: str
) -> None:
    config = proxy_config(["api.anthropic.com"], tls_interception={"enabled": True})

    proxy = start_proxy(docker_client, tracker, proxy_image, config)

    assert proxy.wait(timeout=30)["StatusCode"] != 0
    assert "unknown config key: tls_interception" in proxy.logs().decode()


def test_the_proxy_stand_in_says_it_is_test_scaffolding(
    docker_client: docker.DockerClient, tracker: ResourceTracker, proxy_image: str
) -> None:
    status, output = run(docker_client, tracker, proxy_image, ["--help"])

    assert status == 0 and "TEST SCAFFOLDING" in output


@pytest.fixture
def test_network(docker_client: docker.DockerClient, tracker: ResourceTracker) -> str:
    name = f"bot-bottle-test-images-{uuid.uuid4().hex[:8]}"
    network = docker_client.networks.create(name, labels=LABELS, check_duplicate=True)
    tracker.network(network.id)
    return name


def address_of(client: docker.DockerClient, container: Any, network: str) -> str:
    attrs = client.api.inspect_container(container.id)
    return str(attrs["NetworkSettings"]["Networks"][network]["IPAddress"])


def wait_healthy(proxy: Any) -> None:
    deadline = time.monotonic() + 20
    while proxy.exec_run(["/pipelock", "healthcheck"]).exit_code != 0:
        assert time.monotonic() < deadline, proxy.logs().decode()
        time.sleep(0.1)


def test_the_proxy_stand_in_enforces_the_allowlist_and_the_ssrf_check(
    docker_client: docker.DockerClient,
    tracker: ResourceTracker,
    proxy_image: str,
    agent_image: str,
    test_network: str,
) -> None:
    server = docker_client.containers.create(
        agent_image,
        ["python3", "-m", "http.server", "8000", "--directory", "/etc"],
        labels=LABELS,
        network=test_network,
    )
    tracker.container(server.id)
    server.start()
    target = address_of(docker_client, server, test_network)
    # The target is a private address: only its /32 in ssrf.ip_allowlist
    # lets it through. `localhost` is allowlisted by name yet private.
    config = proxy_config([target, "*.allowed.test", "localhost"])
    proxy = start_proxy(docker_client, tracker, proxy_image, config, test_network)
    proxy_url = f"http://{address_of(docker_client, proxy, test_network)}:8888"
    client = docker_client.containers.create(
        agent_image,
        ["sleep", "infinity"],
        labels=LABELS,
        network=test_network,
        environment={"HTTP_PROXY": proxy_url, "HTTPS_PROXY": proxy_url},
    )
    tracker.container(client.id)
    client.start()
    wait_healthy(proxy)

    def fetch(url: str) -> dict[str, Any]:
        result = client.exec_run(["claude", "fetch", url])
        return dict(json.loads(result.output))

    allowed = fetch(f"http://{target}:8000/hostname")
    assert allowed["status"] == 200
    assert fetch("http://not-listed.example/")["status"] == 403
    assert "not in api_allowlist" in fetch("http://Not-Listed.example/")["body_head"]
    wildcard = fetch("http://API.Allowed.TEST/")["body_head"]
    assert "does not resolve" in wildcard  # allowlisted; then no such name
    assert "does not resolve" in fetch("http://allowed.test/")["body_head"]
    assert "(ssrf)" in fetch("http://localhost:8000/")["body_head"]

    tunnel = client.exec_run(["claude", "sh", TUNNEL_SCRIPT, proxy_url, target])
    assert tunnel.output.decode().startswith("HTTP/1.0 200"), tunnel.output

    log = proxy.logs().decode()
    assert f"allowed GET {target}:8000" in log
    assert f"allowed CONNECT {target}:8000" in log
    assert "blocked GET not-listed.example:80: not in api_allowlist" in log


#: A CONNECT through the proxy, then a plain request inside the tunnel.
TUNNEL_SCRIPT = """python3 -c '
import socket, sys
host, port = sys.argv[1].split("//")[1].split(":")
s = socket.create_connection((host, int(port)))
s.sendall(b"CONNECT %s:8000 HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n" % sys.argv[2].encode())
reply = s.recv(4096)
assert reply.startswith(b"HTTP/1.1 200"), reply
s.sendall(b"GET /hostname HTTP/1.0\\r\\n\\r\\n")
print(s.recv(4096).decode().splitlines()[0])
'"""


# -- the agent test image -----------------------------------------------------


@pytest.fixture
def agent(
    docker_client: docker.DockerClient, tracker: ResourceTracker, agent_image: str
) -> Any:
    container = docker_client.containers.create(
        agent_image,
        ["sleep", "infinity"],
        labels=LABELS,
        environment={"FORWARDED_TOKEN": "s3cret", "HTTP_PROXY": "http://10.9.9.9:8888"},
        init=True,
    )
    tracker.container(container.id)
    container.start()
    return container


def test_the_fake_claude_says_what_it_is(agent: Any) -> None:
    result = agent.exec_run(["claude", "--version"])

    assert (result.exit_code, result.output) == (
        0,
        b"fake-claude (bot-bottle test stand-in)\n",
    )


def test_the_fake_claude_reports_who_and_where_it_is(agent: Any) -> None:
    settings = "mkdir ~/.claude && echo {} > ~/.claude/s && chmod 600 ~/.claude/s"
    agent.exec_run(["sh", "-c", settings])

    result = agent.exec_run(["claude", "--dangerously-skip-permissions", "report"])

    report = json.loads(result.output)
    assert report["argv"][1:] == ["--dangerously-skip-permissions", "report"]
    assert (report["uid"], report["gid"]) == agent_ids()
    assert (report["user"], report["cwd"]) == ("agent", "/home/agent")
    assert "FORWARDED_TOKEN" in report["env_names"]
    assert "s3cret" not in result.output.decode()
    assert report["proxy"]["HTTP_PROXY"] == "http://10.9.9.9:8888"
    files = {entry["path"]: entry for entry in report["claude_files"]}
    assert files["/home/agent/.claude/s"]["uid"] == agent_ids()[0]
    assert files["/home/agent/.claude/s"]["mode"] == "0o600"
    assert report["ssh_files"] == []
    assert (report["git_dir"], report["git_head"]) == (False, None)


def test_the_fake_claude_reports_the_repository_it_runs_in(agent: Any) -> None:
    make_repo = (
        "git init -q /tmp/repo && cd /tmp/repo && "
        "git -c user.name=t -c user.email=t@e.com commit -q --allow-empty -m first"
    )
    assert agent.exec_run(["claude", "sh", make_repo]).exit_code == 0

    report = json.loads(agent.exec_run(["claude"], workdir="/tmp/repo").output)

    assert report["git_dir"] is True and report["git_head"].endswith(" first")


def test_the_fake_claude_answers_each_command(agent: Any) -> None:
    assert agent.exec_run(["claude", "getenv", "FORWARDED_TOKEN"]).output == b"s3cret\n"
    assert agent.exec_run(["claude", "exit", "7"]).exit_code == 7
    direct = json.loads(agent.exec_run(["claude", "connect", "127.0.0.1", "9"]).output)
    assert direct["ok"] is False and direct["error"]


def test_the_fake_claude_echoes_a_line_from_its_terminal(
    docker_client: docker.DockerClient, tracker: ResourceTracker, agent_image: str
) -> None:
    container = docker_client.containers.create(
        agent_image, ["claude", "tty"], labels=LABELS, stdin_open=True
    )
    tracker.container(container.id)
    stdin = container.attach_socket(params={"stdin": 1, "stream": 1})
    container.start()
    # The SDK's attach socket is read-only but for its underlying socket.
    stdin._sock.sendall(b"hello there\n")
    stdin.close()

    status = container.wait(timeout=30)["StatusCode"]

    first, second = container.logs().decode().splitlines()
    assert status == 3
    assert json.loads(first)["isatty"] is False
    assert second == "got: hello there"
