"""Git over SSH from inside a bottle, through the egress proxy.

Three SSH servers (test scaffolding: OpenSSH with a bare repository) stand on
the egress side at fixed addresses, as git hosts would:

- *trusted*: allowlisted by its address, its real host key pinned in the
  manifest's `known_hosts`;
- *impostor*: allowlisted, but the manifest pins a key it does not hold;
- *refused*: not on the allowlist.

The keys are real ed25519 keys made with ssh-keygen for the test. One bottle
serves the module; the stand-in claude runs git in it (`claude sh CMD`).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import docker
import pytest

from bot_bottle.backend import BottleSpec
from bot_bottle.backend.docker import DockerBottle, DockerBottleBackend
from bot_bottle.backend.docker.archive import Archive
from bot_bottle.manifest import load_manifest

from .conftest import TEST_LABEL, ResourceTracker
from .docker_support import (
    Project,
    module_project,
    network_with_free_subnet,
    new_stage_dir,
    unique_agent,
    use_test_images,
)
from .images import ensure_sshd_image

pytestmark = pytest.mark.engine

REPO = "/home/git/repo.git"
COMMIT = (
    "git -c user.name=agent -c user.email=agent@example.com "
    "commit -q --allow-empty -m 'Pushed from the bottle'"
)


@dataclass(frozen=True)
class GitHost:
    """A test SSH server: its address, container and public host key."""

    address: str
    container: str
    host_key: str


@dataclass(frozen=True)
class Launched:
    bottle: DockerBottle
    sidecar: str
    trusted: GitHost
    impostor: GitHost
    refused: GitHost


def keygen(path: Path) -> str:
    """Make an ed25519 key pair at `path`; the public key, without comment."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", str(path)],
        check=True,
    )
    return " ".join(Path(f"{path}.pub").read_text().split()[:2])


def start_git_host(
    client: docker.DockerClient,
    tracker: ResourceTracker,
    network: str,
    address: str,
    keys: Path,
    client_key: str,
) -> GitHost:
    """An SSH server at `address` with a host key of its own."""
    host_key = keygen(keys / f"host_{address}")
    api = client.api
    created = api.create_container(
        ensure_sshd_image(client),
        labels={TEST_LABEL: "git-host"},
        host_config=api.create_host_config(network_mode=network),
        networking_config=api.create_networking_config(
            {network: api.create_endpoint_config(ipv4_address=address)}
        ),
    )
    container = tracker.container(created["Id"])
    archive = Archive(0, 0)
    archive.add_bytes(
        PurePosixPath("/etc/ssh/ssh_host_ed25519_key"),
        (keys / f"host_{address}").read_bytes(),
        0o600,
    )
    archive.add_bytes(
        PurePosixPath("/etc/ssh/authorized_keys/git"), f"{client_key}\n".encode()
    )
    api.put_archive(container, "/", archive.finish())
    api.start(container)
    return GitHost(address, container, host_key)


def wait_listening(client: docker.DockerClient, host: GitHost) -> None:
    container = client.containers.get(host.container)
    deadline = time.monotonic() + 15
    while b"Server listening" not in container.logs():
        assert time.monotonic() < deadline, container.logs().decode()
        time.sleep(0.1)


def write_spec(
    project: Project, keys: Path, trusted: GitHost, impostor: GitHost
) -> BottleSpec:
    """A manifest with keys for the two allowlisted hosts, pinned."""
    stranger = keygen(keys / "stranger")
    key = str(keys / "client")
    agent = unique_agent("ssh")
    manifest = {
        "bottles": {
            "box": {
                "ssh": [
                    {
                        "host": trusted.address,
                        "key": key,
                        "known_hosts": [f"{trusted.address} {trusted.host_key}"],
                    },
                    {
                        "host": impostor.address,
                        "key": key,
                        "known_hosts": [f"{impostor.address} {stranger}"],
                    },
                ],
                "egress": {"allowlist": [trusted.address, impostor.address]},
            }
        },
        "agents": {agent: {"bottle": "box"}},
    }
    path = project.manifests / "git-ssh.json"
    path.write_text(json.dumps(manifest))
    return BottleSpec(
        agent=agent,
        manifest=load_manifest(path),
        manifest_path=path,
        workdir=project.workdir,
    )


@pytest.fixture(scope="module")
def project(
    tmp_path_factory: pytest.TempPathFactory, docker_client: docker.DockerClient
) -> Iterator[Project]:
    yield from module_project(docker_client, tmp_path_factory.mktemp("git-ssh"))


@pytest.fixture(scope="module")
def launched(
    docker_client: docker.DockerClient,
    agent_image: str,
    proxy_image: str,
    project: Project,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Launched]:
    keys = tmp_path_factory.mktemp("keys")
    client_key = keygen(keys / "client")
    tracker = ResourceTracker(docker_client)
    with pytest.MonkeyPatch.context() as monkeypatch:
        use_test_images(monkeypatch, agent_image, proxy_image)
        try:
            network = network_with_free_subnet(docker_client, tracker)
            subnet = network.attrs["IPAM"]["Config"][0]["Subnet"].rsplit(".", 1)[0]
            trusted, impostor, refused = (
                start_git_host(
                    docker_client,
                    tracker,
                    network.name,
                    f"{subnet}.{last}",
                    keys,
                    client_key,
                )
                for last in (10, 11, 12)
            )
            backend = DockerBottleBackend()
            plan = backend.prepare(
                write_spec(project, keys, trusted, impostor), stage_dir=new_stage_dir()
            )
            with backend.launch(plan) as bottle:
                assert isinstance(bottle, DockerBottle)
                docker_client.api.connect_container_to_network(
                    plan.names.sidecar, network.name
                )
                for host in (trusted, impostor, refused):
                    wait_listening(docker_client, host)
                yield Launched(bottle, plan.names.sidecar, trusted, impostor, refused)
        finally:
            tracker.remove_all()


def run(
    bottle: DockerBottle, capsys: pytest.CaptureFixture[str], script: str
) -> tuple[int, str]:
    """Run `script` in the bottle, as claude would; its status and output."""
    capsys.readouterr()
    status = bottle.exec_claude(["sh", script], tty=False)
    return status, capsys.readouterr().out


def push(host: GitHost, branch: str) -> str:
    return f"timeout 60 git push git@{host.address}:repo.git HEAD:refs/heads/{branch}"


def refs(client: docker.DockerClient, host: GitHost) -> dict[str, str]:
    """The branches of the host's repository, by name: their commits."""
    listing = ["for-each-ref", "--format=%(refname) %(objectname)"]
    result = client.containers.get(host.container).exec_run(
        ["git", f"--git-dir={REPO}", *listing], user="git"
    )
    assert result.exit_code == 0, result.output
    pairs = (line.split() for line in result.output.decode().splitlines())
    return {name: commit for name, commit in pairs}


def proxy_log(client: docker.DockerClient, launched: Launched) -> str:
    logs: bytes = client.containers.get(launched.sidecar).logs()
    return logs.decode()


def test_git_push_over_ssh_reaches_an_allowlisted_host_through_the_proxy(
    launched: Launched,
    docker_client: docker.DockerClient,
    capsys: pytest.CaptureFixture[str],
) -> None:
    host = launched.trusted

    status, out = run(
        launched.bottle,
        capsys,
        f"{COMMIT} && {push(host, 'from-bottle')} 2>&1 && git rev-parse HEAD",
    )

    assert status == 0, out
    pushed = out.strip().splitlines()[-1]
    assert refs(docker_client, host) == {"refs/heads/from-bottle": pushed}
    assert f"allowed CONNECT {host.address}:22" in proxy_log(docker_client, launched)


def test_git_push_to_a_host_off_the_allowlist_is_refused_by_the_proxy(
    launched: Launched,
    docker_client: docker.DockerClient,
    capsys: pytest.CaptureFixture[str],
) -> None:
    host = launched.refused

    status, out = run(launched.bottle, capsys, f"{push(host, 'escaped')} 2>&1")

    assert status != 0
    assert f"the egress proxy refused {host.address}:22" in out, out
    assert refs(docker_client, host) == {}
    assert f"blocked CONNECT {host.address}:22" in proxy_log(docker_client, launched)


def test_a_host_whose_key_is_not_the_pinned_one_gets_nothing(
    launched: Launched,
    docker_client: docker.DockerClient,
    capsys: pytest.CaptureFixture[str],
) -> None:
    host = launched.impostor

    status, out = run(launched.bottle, capsys, f"{push(host, 'leaked')} 2>&1")

    assert status != 0
    assert "Host key verification failed" in out, out
    assert refs(docker_client, host) == {}
    # The proxy let the connection through: ssh itself refused the host.
    assert f"allowed CONNECT {host.address}:22" in proxy_log(docker_client, launched)
