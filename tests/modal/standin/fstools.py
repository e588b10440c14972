"""Emulation of ``/__modal/.bin/modal-sandbox-fs-tools``, behind ``sb.filesystem``.

Real Modal places a binary in every sandbox; the SDK execs it with one JSON argument and
streams file content over stdin/stdout. The stand-in recognises that argv and runs a
small POSIX shell script instead (``cat``, ``mkdir``, ``find``, ``rm`` as the sandbox's
user), then reshapes the result like the binary: JSON on stdout for ``Stat`` and
``ListFiles``, and ``{"error_kind", "message"}`` on stderr with a non-zero code on error.
"""

from __future__ import annotations

import json
import stat
from pathlib import PurePosixPath

from .execs import ExecRequest

FS_TOOLS_PATH = "/__modal/.bin/modal-sandbox-fs-tools"

# find -printf: 8 NUL-terminated fields per entry.
_FIND_FORMAT = r"%y\0%s\0%m\0%u\0%g\0%T@\0%l\0%p\0"
_FIELDS = 8

# $1 = operation, $2 = path, $3 = flag (parents / recursive); the tools' own messages
# ("No such file or directory", ...) name the error and are classified below.
_SCRIPT = r"""
op=$1; p=$2; flag=$3
missing() { [ ! -e "$p" ] && [ ! -L "$p" ]; }
case "$op" in
  ReadFile) exec cat -- "$p" ;;
  WriteFile) mkdir -p -- "$(dirname -- "$p")" && exec cat > "$p" ;;
  MakeDirectory)
    if [ "$flag" = 1 ]; then
      if [ -d "$p" ]; then exit 0; fi
      if [ -e "$p" ]; then echo "File exists" >&2; exit 1; fi
      exec mkdir -p -- "$p"
    fi
    exec mkdir -- "$p" ;;
  Remove)
    if missing; then echo "No such file or directory" >&2; exit 1; fi
    if [ "$flag" = 1 ]; then exec rm -rf -- "$p"; fi
    if [ -d "$p" ] && [ ! -L "$p" ]; then exec rmdir -- "$p"; fi
    exec rm -f -- "$p" ;;
  Stat)
    if missing; then echo "No such file or directory" >&2; exit 1; fi
    exec find "$p" -maxdepth 0 -printf "$4" ;;
  ListFiles)
    if missing; then echo "No such file or directory" >&2; exit 1; fi
    if [ ! -d "$p" ]; then echo "Not a directory" >&2; exit 1; fi
    exec find -H "$p" -mindepth 1 -maxdepth 1 -printf "$4" ;;
esac
echo "unsupported operation $op" >&2; exit 64
"""

_KINDS = [
    ("No such file or directory", "NotFound"),
    ("Not a directory", "NotDirectory"),
    ("Is a directory", "IsDirectory"),
    ("Permission denied", "PermissionDenied"),
    ("Operation not permitted", "PermissionDenied"),
    ("File exists", "PathAlreadyExists"),
    ("Directory not empty", "DirectoryNotEmpty"),
    ("unsupported operation", "NotSupported"),
]

_TYPES = {"f": "file", "d": "directory", "l": "symlink"}
_TYPE_BITS = {"f": stat.S_IFREG, "d": stat.S_IFDIR, "l": stat.S_IFLNK}


def is_fs_tools(argv: list[str]) -> bool:
    """True when an exec is the SDK calling the fs-tools binary."""
    return len(argv) == 2 and argv[0] == FS_TOOLS_PATH


def fs_tools_request(argv: list[str]) -> ExecRequest:
    """The shell command that emulates one fs-tools call, and how to reshape its output."""
    try:
        command = json.loads(argv[1])
        ((op, args),) = command.items()
        path = str(args["path"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return _failing_request("InvalidArgument", f"bad fs-tools command {argv[1]!r}")
    flag = "1" if args.get("parents", args.get("recursive", False)) else "0"
    if op == "Watch":
        return _failing_request("NotSupported", "the modal stand-in does not support watch")
    listing = op in ("Stat", "ListFiles")

    def transform(code: int, out: bytes, err: bytes) -> tuple[int, bytes, bytes]:
        if code != 0:
            return code, b"" if listing else out, _error_json(err)
        if op == "Stat":
            entries = _parse_find(out)
            if not entries:
                return 1, b"", _error_json(b"No such file or directory")
            return 0, json.dumps(entries[0]).encode(), err
        if op == "ListFiles":
            return 0, json.dumps(_parse_find(out)).encode(), err
        return code, out, err

    return ExecRequest(
        argv=["/bin/sh", "-c", _SCRIPT, "fs-tools", op, path, flag, _FIND_FORMAT],
        transform=transform,
        hold_stdout=listing,
        hold_stderr=True,
    )


def _failing_request(kind: str, message: str) -> ExecRequest:
    payload = json.dumps({"error_kind": kind, "message": message})
    return ExecRequest(
        argv=["/bin/sh", "-c", "printf '%s' \"$1\" >&2; exit 1", "fs-tools", payload]
    )


def _error_json(stderr: bytes) -> bytes:
    text = stderr.decode("utf-8", "replace").strip()
    kind = next((k for needle, k in _KINDS if needle in text), "Other")
    message = next((needle for needle, k in _KINDS if k == kind and needle in text), text)
    return json.dumps({"error_kind": kind, "message": message or "failed", "detail": text}).encode()


def _parse_find(out: bytes) -> list[dict[str, object]]:
    fields = out.split(b"\0")
    entries = []
    for i in range(0, len(fields) - _FIELDS + 1, _FIELDS):
        kind, size, perms, owner, group, mtime, target, path = (
            f.decode("utf-8", "surrogateescape") for f in fields[i : i + _FIELDS]
        )
        mode = _TYPE_BITS.get(kind, 0) | int(perms, 8)
        entries.append(
            {
                "name": PurePosixPath(path).name or path,
                "path": path,
                "type": _TYPES.get(kind, "file"),
                "size": int(size),
                "mode": mode,
                "permissions": stat.filemode(mode)[1:],
                "owner": owner,
                "group": group,
                "modified_time": float(mtime),
                "symlink_target": target or None,
            }
        )
    return entries
