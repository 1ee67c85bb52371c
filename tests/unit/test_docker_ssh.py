"""The SSH config and its CONNECT helpers, run on this host against a stub proxy.

Each helper (node, python3, bash) is run as ssh would run it, through a small
CONNECT proxy that tunnels one allowed host to a line server and refuses
every other with 403.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import socketserver
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import NoReturn

import pytest

from bot_bottle.backend.docker.ssh import (
    HELPER_DIR,
    SshIdentity,
    connect_helpers,
    known_hosts,
    ssh_config,
)

ALLOWED = "git.example.com"


def identity(host: str = ALLOWED, *, pinned: tuple[str, ...] = ()) -> SshIdentity:
    return SshIdentity(
        host=host, user="git", port=22, key=Path("/k"), known_hosts=pinned, index=0
    )


def test_the_config_sends_every_host_through_the_proxy_helper() -> None:
    text = ssh_config([identity()], PurePosixPath("/home/agent/.ssh"))
    assert "Host git.example.com\n" in text
    assert "  IdentityFile /home/agent/.ssh/id_bot_bottle_0_git.example.com\n" in text
    assert "  StrictHostKeyChecking accept-new\n" in text
    assert text.rstrip().endswith(
        "Host *\n  ProxyCommand /home/agent/.ssh/bot-bottle/connect %h %p\n"
        "  UserKnownHostsFile /home/agent/.ssh/known_hosts"
    )


def test_pinned_host_keys_are_required_and_written() -> None:
    pinned = identity(pinned=("git.example.com ssh-ed25519 AAAAC3Nz",))
    text = ssh_config([pinned], PurePosixPath("/home/agent/.ssh"))
    assert "  StrictHostKeyChecking yes\n" in text
    assert known_hosts([pinned]) == "git.example.com ssh-ed25519 AAAAC3Nz\n"


def test_the_dispatcher_carries_the_proxy_address() -> None:
    helpers = connect_helpers("172.20.0.2", 8888)
    assert set(helpers) == {"connect", "connect.js", "connect.py", "connect.bash"}
    dispatch, mode = helpers["connect"]
    assert mode == 0o755
    assert '"$here/connect.js" 172.20.0.2 8888 "$1" "$2"' in dispatch


class _LineServer(socketserver.BaseRequestHandler):
    """Answers one line with `pong: LINE`, then closes."""

    def handle(self) -> None:
        line = self.request.makefile("rb").readline()
        self.request.sendall(b"pong: " + line)


class _ConnectProxy(socketserver.BaseRequestHandler):
    """A CONNECT proxy that tunnels ALLOWED to the line server only."""

    upstream: tuple[str, int]

    def handle(self) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.request.recv(1024)
            if not chunk:
                return
            head += chunk
        target = head.split(b" ")[1].decode()
        if not target.startswith(ALLOWED + ":"):
            self.request.sendall(b"HTTP/1.1 403 Forbidden\r\n\r\n")
            return
        upstream = socket.create_connection(self.upstream)
        self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        pump = threading.Thread(target=_relay, args=(upstream, self.request))
        pump.start()
        _relay(self.request, upstream)
        pump.join()


def _relay(source: socket.socket, target: socket.socket) -> None:
    while data := source.recv(4096):
        target.sendall(data)
    with contextlib.suppress(OSError):
        target.shutdown(socket.SHUT_WR)


@pytest.fixture(scope="module")
def proxy_port() -> Iterator[int]:
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    lines = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _LineServer)
    _ConnectProxy.upstream = ("127.0.0.1", lines.server_address[1])
    proxy = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _ConnectProxy)
    for server in (lines, proxy):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield proxy.server_address[1]
    for server in (lines, proxy):
        server.shutdown()
        server.server_close()


@pytest.fixture
def helper_dir(tmp_path: Path, proxy_port: int) -> Path:
    folder = tmp_path / HELPER_DIR
    folder.mkdir()
    for name, (text, mode) in connect_helpers("127.0.0.1", proxy_port).items():
        (folder / name).write_text(text)
        (folder / name).chmod(mode)
    return folder


INTERPRETERS = {"connect.js": "node", "connect.py": "python3", "connect.bash": "bash"}


def _missing(interpreter: str) -> NoReturn:
    reason = f"{interpreter} is not installed on this host"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI machines have node, python3 and bash: {reason}")
    pytest.skip(reason)


@pytest.mark.parametrize("helper", sorted(INTERPRETERS))
def test_each_helper_tunnels_to_an_allowed_host(
    helper: str, helper_dir: Path, proxy_port: int
) -> None:
    interpreter = shutil.which(INTERPRETERS[helper])
    if interpreter is None:
        _missing(INTERPRETERS[helper])
    result = subprocess.run(
        [
            interpreter,
            str(helper_dir / helper),
            "127.0.0.1",
            str(proxy_port),
            ALLOWED,
            "22",
        ],
        input=b"hello\n",
        capture_output=True,
        timeout=20,
    )
    assert (result.returncode, result.stdout) == (0, b"pong: hello\n"), result.stderr


@pytest.mark.parametrize("helper", sorted(INTERPRETERS))
def test_each_helper_reports_a_refusal(
    helper: str, helper_dir: Path, proxy_port: int
) -> None:
    interpreter = shutil.which(INTERPRETERS[helper])
    if interpreter is None:
        _missing(INTERPRETERS[helper])
    result = subprocess.run(
        [
            interpreter,
            str(helper_dir / helper),
            "127.0.0.1",
            str(proxy_port),
            "evil.example.net",
            "22",
        ],
        input=b"hello\n",
        capture_output=True,
        timeout=20,
    )
    assert result.returncode != 0
    assert b"refused evil.example.net:22 (403)" in result.stderr
    assert result.stdout == b""


def test_the_dispatcher_runs_the_first_helper_it_finds(
    helper_dir: Path, proxy_port: int
) -> None:
    result = subprocess.run(
        [str(helper_dir / "connect"), ALLOWED, "22"],
        input=b"via dispatcher\n",
        capture_output=True,
        timeout=20,
    )
    assert (result.returncode, result.stdout) == (0, b"pong: via dispatcher\n")
