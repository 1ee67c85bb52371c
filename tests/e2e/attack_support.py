"""Helpers for the attack suite: the attacker image, targets, a capture.

Everything here is test scaffolding on this machine: networks, containers and
listeners that the tests create and remove, and a packet capture taken on the
host, outside every bottle.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import random
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import pytest
from docker.errors import APIError

from bot_bottle.backend.docker import DockerBottle

from .conftest import TEST_LABEL, ResourceTracker
from .docker_support import HTTP_PORT
from .images import _ensure

__all__ = [
    "Capture",
    "HostListener",
    "attack",
    "ensure_attacker_image",
    "host_addresses",
    "new_token",
    "start_server",
    "target_network",
]


def ensure_attacker_image(client: docker.DockerClient, agent_image: str) -> str:
    """The agent test image plus the attacker's tools, built when changed."""
    return _ensure(client, "attacker", {"AGENT_IMAGE": agent_image})


def attack(
    bottle: DockerBottle, capsys: pytest.CaptureFixture[str], *argv: str
) -> dict[str, Any]:
    """Run `attack ARGV` as claude would, inside the bottle; its JSON report."""
    capsys.readouterr()
    command = " ".join(shlex.quote(word) for word in ("attack", *argv))
    status = bottle.exec_claude(["sh", command], tty=False)
    out = capsys.readouterr().out
    assert status == 0, out
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def claude_json(
    bottle: DockerBottle, capsys: pytest.CaptureFixture[str], *argv: str
) -> dict[str, Any]:
    """Run the fake claude with `argv`; the JSON line it ends with."""
    capsys.readouterr()
    status = bottle.exec_claude(list(argv), tty=False)
    out = capsys.readouterr().out
    assert status == 0, out
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def new_token(kind: str) -> str:
    """A DNS label no packet carries unless this test sent it."""
    return f"bbleak{kind}{uuid.uuid4().hex[:12]}"


# -- targets ------------------------------------------------------------------


def target_network(
    client: docker.DockerClient,
    tracker: ResourceTracker,
    *,
    ipv6: bool = False,
    internal: bool = False,
) -> Any:
    """A network of the tests' own with a free IPv4 subnet (and a ULA /64)."""
    name = f"bot-bottle-test-net-{uuid.uuid4().hex[:6]}"
    for _ in range(20):
        pools = [
            docker.types.IPAMPool(
                subnet=f"10.{random.randint(100, 250)}.{random.randint(0, 255)}.0/24"
            )
        ]
        if ipv6:
            ula = f"fd{random.randint(0, 0xFF):02x}:{random.randint(0, 0xFFFF):x}"
            pools.append(docker.types.IPAMPool(subnet=f"{ula}:1::/64"))
        try:
            network = client.networks.create(
                name,
                ipam=docker.types.IPAMConfig(pool_configs=pools),
                enable_ipv6=ipv6,
                internal=internal,
                labels={TEST_LABEL: "attack-target"},
                check_duplicate=True,
            )
        except APIError:
            continue  # the subnet overlaps one in use
        tracker.network(network.id)
        network.reload()
        return network
    raise RuntimeError("no free subnet for a test network")


def subnets(network: Any) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [
        ipaddress.ip_network(each["Subnet"]) for each in network.attrs["IPAM"]["Config"]
    ]


def start_server(
    client: docker.DockerClient,
    tracker: ResourceTracker,
    image: str,
    network: Any,
    *,
    body: str,
    ipv4: str | None = None,
    ipv6: str | None = None,
    aliases: list[str] | None = None,
) -> str:
    """An HTTP server answering `body` on port HTTP_PORT, on every address."""
    script = (
        "import http.server, os, socket\n"
        "os.makedirs('/tmp/www', exist_ok=True)\n"
        f"open('/tmp/www/index.html', 'w').write({body!r} + '\\n')\n"
        "os.chdir('/tmp/www')\n"
        "class Server(http.server.ThreadingHTTPServer):\n"
        "    address_family = socket.AF_INET6\n"
        "    def server_bind(self):\n"
        "        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)\n"
        "        super().server_bind()\n"
        f"Server(('::', {HTTP_PORT}), http.server.SimpleHTTPRequestHandler)"
        ".serve_forever()\n"
    )
    api = client.api
    endpoint = api.create_endpoint_config(
        ipv4_address=ipv4, ipv6_address=ipv6, aliases=aliases
    )
    created = api.create_container(
        image,
        ["python3", "-c", script],
        labels={TEST_LABEL: "attack-target"},
        host_config=api.create_host_config(network_mode=network.name),
        networking_config=api.create_networking_config({network.name: endpoint}),
    )
    tracker.container(created["Id"])
    api.start(created["Id"])
    return str(created["Id"])


def wait_listening(
    client: docker.DockerClient, container: str, port: int = HTTP_PORT
) -> None:
    """Return once the server in `container` accepts on `port` (from inside)."""
    probe = (
        "import socket, sys, time\n"
        "for _ in range(100):\n"
        "    try:\n"
        f"        socket.create_connection(('127.0.0.1', {port}), 1).close()\n"
        "        sys.exit(0)\n"
        "    except OSError:\n"
        "        time.sleep(0.1)\n"
        "sys.exit(1)\n"
    )
    result = client.containers.get(container).exec_run(["python3", "-c", probe])
    assert result.exit_code == 0, f"the test server in {container} never listened"


def container_address(
    client: docker.DockerClient, container: str, network: str
) -> tuple[str, str]:
    """The IPv4 and IPv6 addresses of `container` on `network`."""
    attrs = client.api.inspect_container(container)
    found = attrs["NetworkSettings"]["Networks"][network]
    return found["IPAddress"], found.get("GlobalIPv6Address") or ""


def network_gateway(client: docker.DockerClient, network: str) -> str:
    """The IPv4 gateway of `network`: its first address unless one was chosen."""
    config = client.api.inspect_network(network)["IPAM"]["Config"][0]
    if config.get("Gateway"):
        return str(config["Gateway"])
    return str(next(ipaddress.ip_network(config["Subnet"]).hosts()))


# -- the host -----------------------------------------------------------------


def host_addresses() -> list[str]:
    """Every address the host holds, but loopback: IPv4, then IPv6 (scoped)."""
    found: list[str] = []
    for family in ("-4", "-6"):
        result = subprocess.run(
            ["ip", "-j", family, "addr"], capture_output=True, text=True, check=True
        )
        for interface in json.loads(result.stdout or "[]"):
            for entry in interface.get("addr_info", []):
                address = ipaddress.ip_address(entry["local"])
                if address.is_loopback:
                    continue
                scope = f"%{interface['ifname']}" if address.is_link_local else ""
                found.append(f"{address}{scope}")
    return found


class HostListener:
    """TCP listeners on every host address (0.0.0.0 and ::) on one port.

    Each accepted connection is recorded with its peer, so a test can say
    who reached the host, not only that something did.
    """

    def __init__(self) -> None:
        self.v4 = socket.create_server(("0.0.0.0", 0))
        self.port = self.v4.getsockname()[1]
        self.v6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        self.v6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        self.v6.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.v6.bind(("::", self.port))
        self.v6.listen(64)
        self.peers: list[str] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._serve, args=(sock,), daemon=True)
            for sock in (self.v4, self.v6)
        ]
        for thread in self._threads:
            thread.start()

    def _serve(self, server: socket.socket) -> None:
        server.settimeout(0.2)
        while not self._stop.is_set():
            try:
                connection, peer = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.peers.append(str(peer[0]))
            connection.close()

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(2)
        self.v4.close()
        self.v6.close()


# -- the capture --------------------------------------------------------------


def _require_capture() -> str:
    tcpdump = shutil.which("tcpdump")
    reason = ""
    if tcpdump is None:
        reason = "tcpdump is not installed (Debian: apt install tcpdump)"
    elif os.geteuid() != 0:
        reason = "capturing packets needs root"
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs a packet capture: {reason}")
        pytest.skip(reason)
    assert tcpdump is not None
    return tcpdump


@dataclass
class Capture:
    """Every packet on the host's interfaces, but those within one network.

    Traffic between two addresses of `inside` (the bottle's internal network)
    stays in the bottle; anything else the host sees is outside it.
    """

    inside: str
    path: Path = field(default_factory=lambda: Path(tempfile.mkdtemp()) / "cap")
    process: subprocess.Popen[bytes] | None = None

    @contextmanager
    def running(self) -> Iterator[Capture]:
        tcpdump = _require_capture()
        command = [
            tcpdump,
            "-i",
            "any",
            "-n",
            "-U",
            "--immediate-mode",
            "-w",
            str(self.path),
        ]
        command += ["not", "(", "src", "net", self.inside]
        command += ["and", "dst", "net", self.inside, ")"]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            self._wait_listening()
            yield self
        finally:
            self.stop()
            shutil.rmtree(self.path.parent, ignore_errors=True)

    def _wait_listening(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        line = self.process.stderr.readline().decode(errors="replace")
        while line and "listening on" not in line:
            line = self.process.stderr.readline().decode(errors="replace")
        assert "listening on" in line, "tcpdump did not start"

    def mark(self, token: str) -> None:
        """Send `token` where the capture must see it: proof it is running."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(token.encode(), ("127.0.0.1", 9))

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        # tcpdump writes what it holds on SIGINT.
        time.sleep(0.5)
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def seen(self, token: str) -> bool:
        """Whether any captured packet carried `token`; stops the capture."""
        self.stop()
        with contextlib.suppress(FileNotFoundError):
            return token.encode() in self.path.read_bytes()
        return False
