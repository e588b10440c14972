"""Copy the end of an agent's log files from its sandbox into the pair folder.

An agent names its logs in :attr:`AgentResult.logs`; before its sandbox is terminated
the harness keeps the last :data:`LOG_CAP` bytes of each as ``<stem>_<name>`` next to
the patch. The cut is made inside the sandbox (``tail -c`` into a scratch file that is
then read), so the harness never holds more than the cap of any one log.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cooperbench.atomic import write_bytes_atomic
from cooperbench.sandbox import Sandbox
from cooperbench.sandbox_paths import SCRATCH_DIR

#: Bytes kept of each log: its end, which is where an agent's failure shows.
LOG_CAP = 16 * 1024 * 1024
#: Every copied log ends in this suffix, so clearing a pair folder finds them all.
LOG_SUFFIX = ".log"
_SCRATCH = f"{SCRATCH_DIR}/harness-log-tail"
# Arguments: the log, the byte count, the scratch file. Prints the log's full size.
# The scratch folder is created here: an agent that never used it leaves none behind
# (a container's /tmp starts empty).
_TAIL = 'size=$(wc -c < "$1") && mkdir -p "${3%/*}" && tail -c "$2" "$1" > "$3" && echo "$size"'


def log_file_name(stem: str, name: str) -> str:
    """``<stem>_<name>``, with ``.log`` added when ``name`` lacks it."""
    plain = name.replace("/", "_").replace("\\", "_")
    if not plain.endswith(LOG_SUFFIX):
        plain += LOG_SUFFIX
    return f"{stem}_{plain}"


def copy_logs(
    sandbox: Sandbox, logs: Mapping[str, str], folder: Path, stem: str
) -> dict[str, dict[str, Any]]:
    """Copy the end of each log into ``folder``; return what happened, by log name.

    Each entry holds ``file`` (the name in the folder), ``bytes`` (the log's size in the
    sandbox) and ``truncated`` (whether only its last :data:`LOG_CAP` bytes were kept),
    or ``error`` when the log could not be read (the agent never wrote it, say).
    """
    copied: dict[str, dict[str, Any]] = {}
    for name, path in logs.items():
        try:
            copied[name] = _copy_one(sandbox, path, folder / log_file_name(stem, name))
        except Exception as exc:  # noqa: BLE001 - one lost log must not lose the result
            copied[name] = {"error": f"could not copy {path}: {type(exc).__name__}: {exc}"}
    return copied


def _copy_one(sandbox: Sandbox, path: str, target: Path) -> dict[str, Any]:
    done = sandbox.exec(
        "sh", "-c", _TAIL, "cooperbench-log", path, str(LOG_CAP), _SCRATCH, timeout=120
    )
    size = done.stdout_read().strip()
    if not done.ok or not size.isdigit():
        reason = done.stderr_read().strip() or f"exit status {done.returncode}"
        return {"error": f"could not copy {path}: {reason}"}
    total = int(size)
    write_bytes_atomic(target, sandbox.read_file(_SCRATCH))
    return {"file": target.name, "bytes": total, "truncated": total > LOG_CAP}
