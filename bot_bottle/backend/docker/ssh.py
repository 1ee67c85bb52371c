"""The SSH set-up of a bottle: keys, known hosts, and a way out through the proxy.

The agent container is on the internal network only, so ssh cannot connect
to anything directly. Its config sends every connection through a small
ProxyCommand that opens an HTTP CONNECT tunnel through the sidecar, where the
allowlist decides. The helper is a bash script using bash's own `/dev/tcp`,
because the image contract guarantees bash and coreutils but neither python
nor nc.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .util import slugify

__all__ = [
    "CONNECT_HELPER_NAME",
    "SshIdentity",
    "connect_helper",
    "known_hosts",
    "ssh_config",
]

CONNECT_HELPER_NAME = "bot-bottle-connect"

_HELPER = r"""#!/bin/bash
# Installed by bot-bottle as ssh's ProxyCommand: opens a tunnel to HOST PORT
# through the bottle's egress proxy (HTTP CONNECT) and relays stdin and stdout
# over it. The proxy's allowlist decides which hosts answer.
set -eu
host=$1 port=$2
exec 3<>"/dev/tcp/__PROXY_HOST__/__PROXY_PORT__"
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


def connect_helper(proxy_host: str, proxy_port: int) -> str:
    """The ProxyCommand script, pointed at the sidecar by address."""
    return _HELPER.replace("__PROXY_HOST__", proxy_host).replace(
        "__PROXY_PORT__", str(proxy_port)
    )


def ssh_config(identities: Sequence[SshIdentity], ssh_dir: PurePosixPath) -> str:
    """~/.ssh/config: one block per identity, then the proxy for every host."""
    helper = ssh_dir / CONNECT_HELPER_NAME
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
