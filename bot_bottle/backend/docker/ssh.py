"""The SSH set-up of a bottle: keys, known hosts, and a way out through the proxy.

The agent container is on the internal network only, so ssh cannot connect
to anything directly. Its config sends every connection through a small
ProxyCommand that opens an HTTP CONNECT tunnel through the sidecar, where the
allowlist decides.

The tunnel needs a program that can wait on a socket and a pipe at once. The
image contract guarantees neither nc nor python; the real image has node,
since claude runs on it. So the ProxyCommand is a dispatcher that runs the
first of three equivalent helpers whose interpreter is present: node, then
python3, then bash with its `/dev/tcp`. The bash one works only under runc:
gVisor with host networking answers a blocking read(2) on a socket with
EAGAIN, which breaks bash's `read` and `cat`, where node and python poll.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .util import slugify

__all__ = [
    "HELPER_DIR",
    "SshIdentity",
    "connect_helpers",
    "known_hosts",
    "ssh_config",
]

#: The helpers' folder inside ~/.ssh.
HELPER_DIR = "bot-bottle"

_DISPATCH = """#!/bin/sh
# Installed by bot-bottle as ssh's ProxyCommand: opens a tunnel to HOST PORT
# through the bottle's egress proxy (HTTP CONNECT) and relays stdin and stdout
# over it, with the first interpreter this image has.
here=$(dirname "$0")
if command -v node >/dev/null 2>&1; then
  exec node "$here/connect.js" __PROXY_HOST__ __PROXY_PORT__ "$1" "$2"
fi
if command -v python3 >/dev/null 2>&1; then
  exec python3 "$here/connect.py" __PROXY_HOST__ __PROXY_PORT__ "$1" "$2"
fi
exec bash "$here/connect.bash" __PROXY_HOST__ __PROXY_PORT__ "$1" "$2"
"""

_NODE = r"""// bot-bottle's CONNECT tunnel for ssh: PROXY_HOST PROXY_PORT HOST PORT.
"use strict";
const net = require("net");
const [proxyHost, proxyPort, host, port] = process.argv.slice(2);
const target = `${host}:${port}`;
const fail = (why) => {
  process.stderr.write(`bot-bottle: ${why}\n`);
  process.exit(1);
};
const socket = net.connect(Number(proxyPort), proxyHost, () => {
  socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
});
let head = Buffer.alloc(0);
const onHead = (data) => {
  head = Buffer.concat([head, data]);
  const end = head.indexOf("\r\n\r\n");
  if (end < 0) return;
  socket.removeListener("data", onHead);
  const status = head.toString("latin1", 0, end).split(" ")[1] || "";
  if (!status.startsWith("2")) fail(`the egress proxy refused ${target} (${status})`);
  const rest = head.subarray(end + 4);
  if (rest.length) process.stdout.write(rest);
  socket.pipe(process.stdout);
  process.stdin.pipe(socket);
};
socket.on("data", onHead);
socket.on("error", (error) => fail(`the egress proxy: ${error.message}`));
"""

_PYTHON = r"""# bot-bottle's CONNECT tunnel for ssh: PROXY_HOST PROXY_PORT HOST PORT.
import os
import select
import socket
import sys

proxy_host, proxy_port, host, port = sys.argv[1:5]
target = "%s:%s" % (host, port)


def fail(why):
    sys.stderr.write("bot-bottle: %s\n" % why)
    sys.exit(1)


# With a timeout, Python polls before each read and write; a plain blocking
# socket under gVisor's host networking can answer EAGAIN instead of waiting.
try:
    tunnel = socket.create_connection((proxy_host, int(proxy_port)), timeout=60)
except OSError as exc:
    fail("the egress proxy: %s" % exc)
tunnel.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target, target)).encode())
head = b""
while b"\r\n\r\n" not in head:
    chunk = tunnel.recv(4096)
    if not chunk:
        fail("the egress proxy closed the connection")
    head += chunk
head, _, rest = head.partition(b"\r\n\r\n")
status = (head.split(b" ") + [b""])[1].decode("latin-1")
if not status.startswith("2"):
    fail("the egress proxy refused %s (%s)" % (target, status))
if rest:
    os.write(1, rest)
sources = [0, tunnel]
while sources:
    for source in select.select(sources, [], [])[0]:
        if source == 0:
            data = os.read(0, 65536)
            if data:
                tunnel.sendall(data)
            else:
                tunnel.shutdown(socket.SHUT_WR)
                sources.remove(0)
        else:
            data = tunnel.recv(65536)
            if not data:
                sys.exit(0)
            os.write(1, data)
"""

_BASH = r"""#!/bin/bash
# bot-bottle's CONNECT tunnel for ssh: PROXY_HOST PROXY_PORT HOST PORT.
set -eu
proxy_host=$1 proxy_port=$2 host=$3 port=$4
exec 3<>"/dev/tcp/$proxy_host/$proxy_port"
printf 'CONNECT %s:%s HTTP/1.1\r\nHost: %s:%s\r\n\r\n' \
  "$host" "$port" "$host" "$port" >&3
IFS=' ' read -r _ status _ <&3
status=${status%$'\r'}
case $status in
  2??) ;;
  *) echo "bot-bottle: the egress proxy refused $host:$port ($status)" >&2
     exit 1 ;;
esac
while IFS= read -r line <&3; do
  [ -z "${line%$'\r'}" ] && break
done
cat <&3 &
reader=$!
cat >&3
wait "$reader"
"""


@dataclass(frozen=True)
class SshIdentity:
    """One key for one host, with where it goes inside the bottle."""

    host: str
    user: str
    port: int
    key: Path
    known_hosts: tuple[str, ...]
    index: int

    @property
    def key_name(self) -> str:
        """The key's file name inside ~/.ssh."""
        return f"id_bot_bottle_{self.index}_{slugify(self.host)}"


def connect_helpers(proxy_host: str, proxy_port: int) -> dict[str, tuple[str, int]]:
    """The ProxyCommand and its helpers by file name: text and mode.

    The dispatcher, `connect`, carries the sidecar's address; the helpers
    take it as arguments.
    """
    dispatch = _DISPATCH.replace("__PROXY_HOST__", proxy_host).replace(
        "__PROXY_PORT__", str(proxy_port)
    )
    return {
        "connect": (dispatch, 0o755),
        "connect.js": (_NODE, 0o644),
        "connect.py": (_PYTHON, 0o644),
        "connect.bash": (_BASH, 0o755),
    }


def ssh_config(identities: Sequence[SshIdentity], ssh_dir: PurePosixPath) -> str:
    """~/.ssh/config: one block per identity, then the proxy for every host."""
    helper = ssh_dir / HELPER_DIR / "connect"
    blocks = [_block(identity, ssh_dir) for identity in identities]
    blocks.append(
        "Host *\n"
        f"  ProxyCommand {helper} %h %p\n"
        f"  UserKnownHostsFile {ssh_dir / 'known_hosts'}\n"
    )
    return "\n".join(blocks)


def _block(identity: SshIdentity, ssh_dir: PurePosixPath) -> str:
    # Hosts without pinned keys accept the first key offered and remember it
    # for the session; pinned ones must match.
    checking = "yes" if identity.known_hosts else "accept-new"
    return (
        f"Host {identity.host}\n"
        f"  User {identity.user}\n"
        f"  Port {identity.port}\n"
        f"  IdentityFile {ssh_dir / identity.key_name}\n"
        "  IdentitiesOnly yes\n"
        f"  StrictHostKeyChecking {checking}\n"
    )


def known_hosts(identities: Sequence[SshIdentity]) -> str:
    """~/.ssh/known_hosts from the manifest's pinned lines."""
    lines = [line for identity in identities for line in identity.known_hosts]
    return "".join(f"{line}\n" for line in lines)
