"""No message built from a Redis URL ever shows its password."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cooperbench.errors import CooperbenchError
from cooperbench.local.messaging import setup_local_messaging
from cooperbench.messaging.client import MessageClient
from cooperbench.messaging.types import MessagingRequest, MessagingSession
from cooperbench.messaging.url import RedisUrl

ROOT = Path(__file__).resolve().parents[2]
DATASET = ROOT / "examples" / "dataset"
CLI = [sys.executable, "-c", "from cooperbench.cli.main import main; main()"]
SECRET = "s3cr3t-pw"


def run_with_redis(url: str, logs: Path) -> str:
    """Everything a coop run with ``--redis url`` shows or writes, as one text."""
    command = [*CLI, "run", "-n", "r", "-s", "flash", "--setting", "coop", "-a", "gold"]
    command += ["--backend", "local", "--dataset-dir", str(DATASET), "--log-dir", str(logs)]
    command += ["--no-auto-eval", "--redis", url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    written = [p.read_text() for p in logs.rglob("*") if p.is_file()]
    return "\n".join([done.stdout, done.stderr, *written])


def with_password(redis_server: str) -> str:
    return redis_server.replace("redis://", f"redis://:{SECRET}@")


def test_wrong_password(redis_server: str, tmp_path: Path) -> None:
    shown = run_with_redis(with_password(redis_server), tmp_path)
    assert "cannot reach Redis at 127.0.0.1:" in shown
    assert SECRET not in shown


@pytest.mark.parametrize("scheme", ["redis", "rediss"])
def test_unreachable_server(scheme: str, tmp_path: Path) -> None:
    shown = run_with_redis(f"{scheme}://:{SECRET}@127.0.0.1:1", tmp_path)
    assert "cannot reach Redis at 127.0.0.1:1" in shown
    assert SECRET not in shown


@pytest.mark.parametrize(
    "url",
    [
        f"redis://:{SECRET}@127.0.0.1:notaport",
        f"redis://user:{SECRET}@127.0.0.1:6379/notadb",
        f"redis://:{SECRET}@127.0.0.1:6379#nonamespace",
        f"redis+tls://:{SECRET}@127.0.0.1:6379",
        f"redis://:p@ss-{SECRET}@127.0.0.1:notaport",
        f"redis://:pa/ss-{SECRET}@127.0.0.1:6379",
        f"redis://:pa#ss-{SECRET}@127.0.0.1:6379/x",
    ],
)
def test_malformed_url_is_one_line_without_the_password(url: str, tmp_path: Path) -> None:
    command = [*CLI, "run", "--backend", "local", "--dataset-dir", str(DATASET)]
    command += ["--log-dir", str(tmp_path), "--redis", url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: ") and "***" in line
    assert SECRET not in done.stdout + done.stderr


def test_library_errors_and_reprs(redis_server: str) -> None:
    with pytest.raises(CooperbenchError) as no_run:
        MessageClient(with_password(redis_server), "agent1")
    with pytest.raises(CooperbenchError) as refused:
        setup_local_messaging(
            MessagingRequest("r1", ("agent1", "agent2"), redis_url=with_password(redis_server))
        )
    assert "127.0.0.1" in str(no_run.value) and "127.0.0.1" in str(refused.value)
    url = f"{with_password(redis_server)}#run:r1"
    with MessagingSession(url, host_redis_url=url.replace("127.0.0.1", "localhost")) as session:
        shown = [str(no_run.value), str(refused.value), repr(session), repr(RedisUrl.parse(url))]
    assert all(SECRET not in text for text in shown)
