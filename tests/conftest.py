"""Shared fixtures, the demo verdicts every backend must reproduce, and the rule that
Docker tests never skip in CI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEMO_DATASET = ROOT / "examples" / "dataset"
DEMO_LOGS = ROOT / "examples" / "logs"


def docker_engine_available() -> bool:
    """True when a Docker engine answers on this machine."""
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "info"], capture_output=True, timeout=30)
    return probe.returncode == 0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    docker_items = [item for item in items if item.get_closest_marker("docker")]
    if not docker_items or docker_engine_available():
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        # In CI the engine is installed and started by scripts/setup-ci.sh; a missing
        # engine there is a failure, never a skip.
        raise pytest.UsageError("Docker tests selected in CI but no Docker engine answers")
    skip = pytest.mark.skip(reason="no Docker engine on this machine (they run in CI)")
    for item in docker_items:
        item.add_marker(skip)


#: Redis and git on the local base image, for tests whose sandboxes need a server. The
#: Docker backend builds the same image as its fallback when no Redis image can be pulled.
REDIS_SERVER_IMAGE = "cooperbench/redis:local"
_REDIS_SERVER_DOCKERFILE = """\
FROM cooperbench/base:bookworm
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server \\
 && rm -rf /var/lib/apt/lists/*
"""


@pytest.fixture(scope="session")
def redis_server_image() -> str:
    """An image with redis-server and git in the local engine, built once when missing."""
    found = subprocess.run(["docker", "image", "inspect", REDIS_SERVER_IMAGE], capture_output=True)
    if found.returncode != 0:
        subprocess.run(
            ["docker", "build", "-q", "-t", REDIS_SERVER_IMAGE, "-"],
            input=_REDIS_SERVER_DOCKERFILE,
            text=True,
            capture_output=True,
            check=True,
        )
    return REDIS_SERVER_IMAGE


def _assert_gold_conversation_kept(pair: Path) -> dict[str, Any]:
    """Check the gold coop pair's messages in ``pair`` (result.json and conversation.json).

    Each gold agent announces the files it will change to the other: exactly those two
    messages, in the log and counted in ``messages_sent``. Returns result.json.
    """
    result: dict[str, Any] = json.loads((pair / "result.json").read_text())
    assert "conversation_error" not in result
    chat = json.loads((pair / "conversation.json").read_text())
    assert sorted((m["from"], m["to"], m["feature_id"]) for m in chat) == [
        ("agent1", "agent2", 1),
        ("agent2", "agent1", 2),
    ]
    by_sender = {m["from"]: m["message"] for m in chat}
    assert by_sender["agent1"] == "agent1 (feature 1) will change: textkit/core.py"
    assert by_sender["agent2"] == "agent2 (feature 2) will change: textkit/stats.py"
    assert result["messages_sent"] == len(chat) == 2
    return result


@pytest.fixture(scope="session")
def gold_conversation_kept() -> Callable[[Path], dict[str, Any]]:
    """The check of a gold coop pair's kept conversation (returns its result.json)."""
    return _assert_gold_conversation_kept


# -- the demo verdicts (examples/logs/expected.json) --------------------------------------


class DemoVerdicts:
    """The verdicts expected.json records for the demo logs, and how to check a backend.

    Keys look like ``gold/coop/demo_textkit_task/0/f1_f2`` (``flat/...`` for the flat
    layout); tests that take a ``verdict_key`` argument run once per key.
    """

    expected: Mapping[str, Mapping[str, Any]] = json.loads(
        (DEMO_LOGS / "expected.json").read_text()
    )

    def evaluate_all(
        self, folder: Path, backend: str, backend_options: Mapping[str, Any] | None = None
    ) -> Path:
        """Evaluate every run of a fresh copy of the demo logs in ``folder``; return it."""
        from cooperbench import evaluate
        from cooperbench.plugin_manager import PluginManager

        logs = folder / "logs"
        shutil.copytree(DEMO_LOGS, logs, ignore=shutil.ignore_patterns("eval*.json"))
        plugins = PluginManager.discover(disabled=())
        for run in sorted({key.split("/")[0] for key in self.expected}):
            evaluate(
                run,
                backend=backend,
                concurrency=2,
                log_dir=logs,
                dataset_dir=DEMO_DATASET,
                backend_options=backend_options,
                plugins=plugins,
            )
        return logs

    def document(self, logs: Path, key: str) -> dict[str, Any]:
        """The eval.json of the pair ``key`` names."""
        run, setting, repo, task, pair = key.split("/")
        if run == "flat":
            folder = logs / run / f"task_{task}_feature_{pair[1:].replace('_f', '_')}"
        else:
            folder = logs / run / setting / repo / task / pair
        return dict(json.loads((folder / "eval.json").read_text()))

    def check(self, logs: Path, key: str) -> None:
        """Assert that the pair's eval.json says what expected.json records."""
        document, expected = self.document(logs, key), self.expected[key]
        merge = document["merge"] or {}
        assert document["error"] is None
        assert document["apply_status"] == expected["apply_status"]
        assert merge.get("status") == expected["merge_status"]
        assert merge.get("strategy") == expected["merge_strategy"]
        assert document["feature1"]["passed"] == expected["feature1_passed"]
        assert document["feature2"]["passed"] == expected["feature2_passed"]
        assert document["both_passed"] == expected["both_passed"]


@pytest.fixture(scope="session")
def demo_verdicts() -> DemoVerdicts:
    """The demo verdicts and the helpers to check them."""
    return DemoVerdicts()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "verdict_key" in metafunc.fixturenames:
        metafunc.parametrize("verdict_key", sorted(DemoVerdicts.expected))
