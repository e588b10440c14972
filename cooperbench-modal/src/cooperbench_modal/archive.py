"""Staging many files at once: one tar archive, written as one file, unpacked by one command.

Each file transfer into a Modal sandbox is an exec of Modal's file tool plus an upload,
so writing a pair's dozen files one by one would cost a dozen round trips. Packed
together they cost two, whatever their number: the upload and the ``tar`` that unpacks
it (and removes it) in the sandbox.
"""

from __future__ import annotations

import io
import posixpath
import tarfile
import time
from collections.abc import Mapping

#: Permission bits of files written into a sandbox.
FILE_MODE = 0o644
#: Where archives wait in the sandbox to be unpacked.
STAGING_DIR = "/tmp/.cooperbench-staging"

# $1 is the archive. Only files are listed in it, so tar creates missing parents as the
# sandbox's user and leaves existing directories as they are.
_EXTRACT = 'tar -xf "$1" -C / --no-same-owner; rc=$?; rm -f "$1"; exit $rc'


def pack_files(files: Mapping[str, bytes], mode: int = FILE_MODE) -> bytes:
    """A tar archive of regular files named by their absolute paths (stored relative to /)."""
    now = int(time.time())
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path, data in files.items():
            info = tarfile.TarInfo(posixpath.normpath(path).lstrip("/"))
            info.size = len(data)
            info.mode = mode
            info.mtime = now
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def extract_command(archive: str) -> list[str]:
    """The command that unpacks ``archive`` at ``/`` and then removes it."""
    return ["/bin/sh", "-c", _EXTRACT, "cooperbench-unpack", archive]
