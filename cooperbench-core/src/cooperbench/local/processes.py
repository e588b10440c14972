"""Finding and killing the processes of a local sandbox, wherever they went.

A process group is not enough: a command may start children that leave it (``setsid``,
daemons). Every command therefore runs with tokens in its environment, which its
descendants inherit whatever group or session they move to; killing means killing
every process whose environment carries the token. Reading other processes'
environments needs ``/proc`` (Linux); elsewhere only the process group is killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

#: Environment variable carrying a per-command token.
EXEC_TOKEN_VAR = "COOPERBENCH_EXEC_TOKEN"
#: Environment variable carrying a per-sandbox token (every command of the sandbox).
SANDBOX_TOKEN_VAR = "COOPERBENCH_SANDBOX_TOKEN"
# Rounds of find-and-kill: a process may fork between being found and being killed.
_KILL_ROUNDS = 20
_PROC = Path("/proc")


def tagged_pids(variable: str, token: str) -> list[int]:
    """The pids of live processes whose environment holds ``variable=token``."""
    needle = f"{variable}={token}".encode()
    found: list[int] = []
    if not _PROC.is_dir():
        return found
    own = os.getpid()
    for entry in _PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) == own:
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone meanwhile, or another user's
            continue
        if needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def kill_tagged(variable: str, token: str) -> None:
    """SIGKILL every process whose environment holds ``variable=token``, until none is left."""
    for _ in range(_KILL_ROUNDS):
        victims = tagged_pids(variable, token)
        if not victims:
            return
        for pid in victims:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def kill_group(pid: int) -> None:
    """SIGKILL the process group led by ``pid`` (best effort)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
