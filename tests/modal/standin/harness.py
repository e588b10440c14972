"""Starting and stopping a stand-in subprocess, for the test fixtures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

#: The folder holding the ``standin`` package (``tests/modal``).
HERE = Path(__file__).resolve().parent.parent
#: The image the stand-in tests start sandboxes from (built by scripts/setup-ci.sh).
BASE_IMAGE = "cooperbench/base:bookworm"
#: Seconds the stand-in may take to come up.
START_TIMEOUT = 60


@dataclass(frozen=True)
class ModalStandin:
    """A running stand-in and how to reach it."""

    url: str
    port: int
    instance_id: str
    #: The CA that signs encrypted tunnels' certificates; trust it with ``SSL_CERT_FILE``.
    ca_file: Path
    #: The Docker network its sandboxes with open networking join.
    network: str
    process: subprocess.Popen[bytes]
    log_file: Path

    def sdk_env(self) -> dict[str, str]:
        """Only the SDK's own settings that point it at the stand-in (dummy credentials)."""
        return {
            "MODAL_SERVER_URL": self.url,
            "MODAL_TOKEN_ID": "ak-standin0000000000000000",
            "MODAL_TOKEN_SECRET": "as-standin0000000000000000",
            # No proxy between the client and 127.0.0.1, whatever the machine's settings.
            "MODAL_DISABLE_API_PROXY": "1",
            # A missing profile file: a developer's ~/.modal.toml cannot leak in.
            "MODAL_CONFIG_PATH": str(self.log_file.with_name("modal.toml")),
        }

    def subprocess_env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """A full environment for a subprocess (such as ``cooperbench``) that uses the SDK."""
        return {**os.environ, **self.sdk_env(), **(extra or {})}

    def log(self) -> str:
        """What the stand-in logged so far."""
        return self.log_file.read_text(errors="replace")


def standin_command(*args: str) -> list[str]:
    """The command line that runs the stand-in package with ``args``."""
    return [sys.executable, "-m", "standin", *args]


def standin_env() -> dict[str, str]:
    """The environment the stand-in process runs in (it imports ``standin`` from here)."""
    path = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path}


def start_standin(folder: Path) -> ModalStandin:
    """Start a stand-in subprocess whose files go to ``folder``; return once it serves."""
    folder.mkdir(parents=True, exist_ok=True)
    ready, log_file = folder / "ready.json", folder / "standin.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            standin_command("--port", "0", "--ready-file", str(ready), "--state-dir", str(folder)),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=standin_env(),
        )
    deadline = time.monotonic() + START_TIMEOUT
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            stop_standin(process)
            raise RuntimeError(f"the modal stand-in did not start:\n{log_file.read_text()}")
        time.sleep(0.1)
    facts = json.loads(ready.read_text())
    return ModalStandin(
        url=facts["url"],
        port=facts["port"],
        instance_id=facts["instance_id"],
        ca_file=Path(facts["ca_file"]),
        network=facts["network"],
        process=process,
        log_file=log_file,
    )


def stop_standin(process: subprocess.Popen[bytes], timeout: float = 60) -> int:
    """Stop a stand-in as an interrupt would (it then removes what it made)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()
