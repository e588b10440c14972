"""conversation.json on the ``local`` backend: every message the agents exchanged."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DATASET = ROOT / "examples" / "dataset"
CLI = [sys.executable, "-c", "from cooperbench.cli.main import main; main()"]


def test_gold_coop_run_keeps_every_message(tmp_path: Path) -> None:
    command = [*CLI, "run", "-n", "chat", "-s", "flash", "--setting", "coop", "-a", "gold"]
    command += ["--backend", "local", "--dataset-dir", str(DATASET)]
    command += ["--log-dir", str(tmp_path), "--no-auto-eval"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    pair = tmp_path / "chat" / "coop" / "demo_textkit_task" / "0" / "f1_f2"
    result = json.loads((pair / "result.json").read_text())
    assert "conversation_error" not in result
    chat = json.loads((pair / "conversation.json").read_text())
    assert sorted((m["from"], m["to"], m["feature_id"], m["message"]) for m in chat) == [
        ("agent1", "agent2", 1, "agent1 (feature 1) will change: textkit/core.py"),
        ("agent2", "agent1", 2, "agent2 (feature 2) will change: textkit/stats.py"),
    ]
    assert result["messages_sent"] == len(chat) == 2


def test_conversation_reads_through_the_sessions_host_url(redis_server: str) -> None:
    from cooperbench.messaging.client import MessageClient, conversation
    from cooperbench.messaging.types import MessagingSession

    # Agents' URL names a host only their network resolves; the harness has its own.
    agents = "redis://redis-only-on-the-run-network:6379#run:hosted"
    host = f"{redis_server}#run:hosted"
    with MessageClient(host, "agent2") as client:
        client.send("agent1", "hi")
    with MessagingSession(redis_url=agents, host_redis_url=host) as session:
        entries = conversation(session, {"agent2": 2})
        assert [(e["from"], e["message"], e["feature_id"]) for e in entries] == [
            ("agent2", "hi", 2)
        ]
        assert conversation(session, {}) == [{**entries[0], "feature_id": None}]
    with MessagingSession(redis_url=host) as plain:
        assert plain.reader_url == host


def test_a_log_that_cannot_be_read_is_recorded_and_warned(
    redis_server: str, tmp_path: Path
) -> None:
    """The agents talk through a working server; the harness's reading URL is dead."""
    import socket
    import types

    from cooperbench import run
    from cooperbench.cli.run_cmd import pair_lines
    from cooperbench.local.sandbox import LocalSandbox
    from cooperbench.messaging.types import MessagingSession
    from cooperbench.plugin import hookimpl
    from cooperbench.plugin_manager import PluginManager

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"redis://127.0.0.1:{probe.getsockname()[1]}"
    module = types.ModuleType("deaf")

    def create_sandbox(request: Any) -> LocalSandbox:
        return LocalSandbox.create(request)

    def setup_messaging(request: Any) -> MessagingSession:
        url = f"{redis_server}#run:{request.run_id}"
        return MessagingSession(redis_url=url, host_redis_url=f"{dead}#run:{request.run_id}")

    module.create_sandbox = hookimpl(create_sandbox)  # type: ignore[attr-defined]
    module.setup_messaging = hookimpl(setup_messaging)  # type: ignore[attr-defined]
    plugins = PluginManager()
    plugins.register(module, name="deaf")
    seen: list[Any] = []
    run(
        "deaf",
        task=0,
        features=[1, 2],
        backend="deaf",
        dataset_dir=DATASET,
        log_dir=tmp_path,
        auto_eval=False,
        plugins=plugins,
        on_pair=seen.append,
    )
    pair = tmp_path / "deaf" / "coop" / "demo_textkit_task" / "0" / "f1_f2"
    result = json.loads((pair / "result.json").read_text())
    assert result["conversation_error"].startswith("could not read the message log: ")
    assert result["messages_sent"] == 0
    assert {r["status"] for r in result["agents"].values()} == {"Submitted"}
    [outcome] = seen
    warning = pair_lines(outcome, "[1/1]")[-1]
    assert warning.startswith("warning: demo_textkit_task/0/1,2: conversation not saved: ")
