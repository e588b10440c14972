"""A process that outlives the harness just long enough to clean up after it.

Each local sandbox starts one, holding the read end of a pipe whose write end only the
harness has. The pipe reaches end-of-file when the harness terminates the sandbox or
dies in any way (even by SIGKILL); the watchdog then kills every process tagged with
the sandbox's token and removes the sandbox's folder. Without it, a killed harness
would leave agents' commands running until their lifetime cap.

It also enforces the sandbox's lifetime on what no command timeout reaches: when the
lifetime ends while the harness still holds the sandbox, processes that left their
command's process group (``setsid``) are killed then, not when the harness lets go.

Run as ``python -m cooperbench.local.watchdog <token> <root> <lifetime seconds>``.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from cooperbench.local.processes import SANDBOX_TOKEN_VAR, kill_tagged


def start_watchdog(token: str, root: Path, lifetime: float) -> subprocess.Popen[bytes]:
    """Start the watchdog of the sandbox tagged ``token`` at ``root``; close its stdin to fire it.

    ``lifetime`` seconds from now, it kills the sandbox's processes even if not fired.
    """
    env = {key: value for key, value in os.environ.items() if key != SANDBOX_TOKEN_VAR}
    command = [sys.executable, "-m", "cooperbench.local.watchdog", token, str(root)]
    return subprocess.Popen(
        [*command, f"{lifetime:.3f}"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        close_fds=True,
        start_new_session=True,  # Ctrl-C must not stop it before the harness's teardown
    )


def main(argv: list[str]) -> int:
    """Wait for end-of-file on stdin, then kill the sandbox's processes and remove it."""
    token, root, lifetime = argv
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    deadline: float | None = time.monotonic() + float(lifetime)
    while True:
        wait = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        readable, _, _ = select.select([0], [], [], wait)
        if readable:
            if not os.read(0, 1 << 12):
                break
        elif deadline is not None:
            kill_tagged(SANDBOX_TOKEN_VAR, token)  # lifetime over; the folder stays in use
            deadline = None
    kill_tagged(SANDBOX_TOKEN_VAR, token)
    shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
