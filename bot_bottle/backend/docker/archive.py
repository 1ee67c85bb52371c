"""Tar archives of host files, owned by the agent, for `put_archive`.

The engine extracts an archive with the modes, owners and symlinks its headers
name, and creates any folder the archive does not list as root-owned 0755; so
every folder the agent must write to is listed explicitly.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
import tempfile
from pathlib import Path, PurePosixPath
from typing import IO

__all__ = ["Archive"]

#: Archives up to this size stay in memory; larger ones (a big `.git`) spill
#: to a temporary file.
_IN_MEMORY_BYTES = 32 * 1024 * 1024


class Archive:
    """A tar archive being built, rooted at `/` of the container."""

    def __init__(self, uid: int, gid: int) -> None:
        self.uid = uid
        self.gid = gid
        # Both stay open while entries are added; finish() closes the tar and
        # hands the buffer to the engine call, which reads it to the end.
        spooled = tempfile.SpooledTemporaryFile(_IN_MEMORY_BYTES)  # noqa: SIM115
        self._buffer: IO[bytes] = spooled
        self._tar = tarfile.open(fileobj=self._buffer, mode="w")  # noqa: SIM115
        self._listed: set[str] = set()

    def add_dir(self, path: PurePosixPath, mode: int = 0o755) -> None:
        """List a folder, owned by the agent."""
        name = _name(path)
        if name in self._listed:
            return
        info = self._info(name, mode)
        info.type = tarfile.DIRTYPE
        self._tar.addfile(info)
        self._listed.add(name)

    def add_bytes(self, path: PurePosixPath, data: bytes, mode: int = 0o644) -> None:
        """Add a file with `data` as its content."""
        info = self._info(_name(path), mode)
        info.size = len(data)
        self._tar.addfile(info, io.BytesIO(data))

    def add_path(self, host: Path, path: PurePosixPath) -> None:
        """Add a host file, symlink or folder tree at `path`, keeping modes."""
        info = self._tar.gettarinfo(str(host), arcname=_name(path))
        if info is None:  # a socket or the like: nothing a copy can carry
            return
        self._own(info)
        if info.isreg():
            with host.open("rb") as handle:
                self._tar.addfile(info, handle)
            return
        self._tar.addfile(info)
        if info.isdir():
            for child in sorted(os.listdir(host)):
                self.add_path(host / child, path / child)

    def finish(self) -> IO[bytes]:
        """The finished archive, positioned at its start."""
        self._tar.close()
        self._buffer.seek(0)
        return self._buffer

    def _info(self, name: str, mode: int) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.mode = stat.S_IMODE(mode)
        self._own(info)
        return info

    def _own(self, info: tarfile.TarInfo) -> None:
        info.uid, info.gid = self.uid, self.gid
        info.uname = info.gname = ""


def _name(path: PurePosixPath) -> str:
    if not path.is_absolute():
        raise ValueError(f"{path} is not an absolute path in the container")
    return str(path).lstrip("/")
