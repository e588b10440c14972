"""Tar archives for Docker's archive API, which is how files move in and out of containers.

File contents travel in the request body, never on a command line, so any size works.
"""

from __future__ import annotations

import io
import posixpath
import tarfile
import time
from collections.abc import Mapping

import attrs

#: Permission bits of files written into a sandbox.
FILE_MODE = 0o644


@attrs.frozen
class ArchiveEntry:
    """The single entry of an archive returned for one path.

    ``kind`` is ``"file"``, ``"symlink"``, ``"directory"`` or ``"other"``; ``data``
    holds a file's content, ``link`` a symlink's target.
    """

    kind: str
    data: bytes = b""
    link: str = ""


def pack_files(files: Mapping[str, bytes], mode: int = FILE_MODE) -> bytes:
    """A tar archive of regular files, named by their paths relative to the target.

    Only files are listed: the daemon creates missing parent directories itself, and
    listing an existing directory would reset its owner and permissions.
    """
    now = int(time.time())
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            info.mtime = now
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def unpack_entry(data: bytes) -> ArchiveEntry:
    """The first entry of the tar archive ``data`` (the path the archive was made for)."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
        member = archive.next()
        if member is None:
            return ArchiveEntry("other")
        if member.issym():
            return ArchiveEntry("symlink", link=member.linkname)
        if member.isdir():
            return ArchiveEntry("directory")
        if not member.isfile():
            return ArchiveEntry("other")
        handle = archive.extractfile(member)
        return ArchiveEntry("file", data=handle.read() if handle is not None else b"")


def link_target(path: str, link: str) -> str:
    """The absolute path a symlink at ``path`` pointing to ``link`` refers to."""
    joined = link if link.startswith("/") else posixpath.join(posixpath.dirname(path), link)
    return posixpath.normpath(joined)
