"""The test images: the pipelock stand-in, a bottle image with a fake claude,
and an SSH server holding a git repository.

All are test scaffolding, built from the sources in `images/` beside this
file. Each is tagged by a hash of its sources and build arguments and kept
between runs, so a run whose sources are unchanged builds nothing; a changed
source builds a new tag and removes the old one.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import tarfile
from collections.abc import Mapping
from pathlib import Path

import docker
from docker.errors import APIError, ImageNotFound

from bot_bottle.backend.docker.image import agent_ids, build_image

from .conftest import TEST_LABEL

__all__ = [
    "IMAGES_DIR",
    "ensure_agent_image",
    "ensure_proxy_image",
    "ensure_sshd_image",
]

IMAGES_DIR = Path(__file__).with_name("images")
REPOSITORY = "bot-bottle-test"
IMAGE_LABELS = {TEST_LABEL: "image"}


def ensure_proxy_image(client: docker.DockerClient) -> str:
    """The tag of the pipelock stand-in, built when its sources changed."""
    return _ensure(client, "proxy", {})


def ensure_agent_image(client: docker.DockerClient) -> str:
    """The tag of the agent test image, for the host user's uid and gid."""
    uid, gid = agent_ids()
    return _ensure(client, "agent", {"AGENT_UID": str(uid), "AGENT_GID": str(gid)})


def ensure_sshd_image(client: docker.DockerClient) -> str:
    """The tag of the test SSH server, a git host for the egress side."""
    return _ensure(client, "sshd", {})


def _ensure(
    client: docker.DockerClient, name: str, buildargs: Mapping[str, str]
) -> str:
    sources = sorted(path for path in (IMAGES_DIR / name).iterdir() if path.is_file())
    repository = f"{REPOSITORY}-{name}"
    tag = f"{repository}:{_digest(sources, buildargs)}"
    if _exists(client, tag):
        return tag
    build_image(
        client, tag, _context(sources), buildargs=buildargs, labels=IMAGE_LABELS
    )
    _remove_older(client, repository, tag)
    return tag


def _digest(sources: list[Path], buildargs: Mapping[str, str]) -> str:
    digest = hashlib.sha256()
    for path in sources:
        data = path.read_bytes()
        digest.update(f"{path.name}\0{len(data)}\0".encode() + data)
    for key, value in sorted(buildargs.items()):
        digest.update(f"{key}={value}\0".encode())
    return digest.hexdigest()[:12]


def _context(sources: list[Path]) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sources:
            info = tar.gettarinfo(str(path), arcname=path.name)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            with path.open("rb") as handle:
                tar.addfile(info, handle)
    buffer.seek(0)
    return buffer


def _exists(client: docker.DockerClient, tag: str) -> bool:
    try:
        client.images.get(tag)
    except ImageNotFound:
        return False
    return True


def _remove_older(client: docker.DockerClient, repository: str, keep: str) -> None:
    """Remove earlier builds of the test images; one still in use stays.

    Untagged ones are included: an image that had children when its tag was
    removed is left untagged, and can go once they have.
    """
    label = {"label": f"{TEST_LABEL}={IMAGE_LABELS[TEST_LABEL]}"}
    stale = client.images.list(repository, filters=label)
    stale += client.images.list(filters={**label, "dangling": True})
    for image in stale:
        if keep not in image.tags:
            with contextlib.suppress(APIError):
                client.images.remove(image.id)
