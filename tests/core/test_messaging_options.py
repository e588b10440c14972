"""The run's backend options reach the messaging hook, as they reach its sandboxes."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

from cooperbench import run
from cooperbench.backend_options import BackendOption
from cooperbench.local.sandbox import LocalSandbox
from cooperbench.messaging.types import MessagingRequest, MessagingSession
from cooperbench.plugin import SandboxRequest, hookimpl
from cooperbench.plugin_manager import PluginManager

DATASET = Path(__file__).resolve().parents[2] / "examples" / "dataset"


def test_messaging_request_carries_the_runs_backend_options(
    redis_server: str, tmp_path: Path
) -> None:
    module = types.ModuleType("zoned")
    seen: dict[str, list[dict[str, Any]]] = {"sandbox": [], "messaging": []}

    def backend_options() -> list[BackendOption]:
        return [BackendOption("zone", str, "home", "where everything runs")]

    def create_sandbox(request: SandboxRequest) -> LocalSandbox:
        seen["sandbox"].append(dict(request.options))
        return LocalSandbox.create(request)

    def setup_messaging(request: MessagingRequest) -> MessagingSession:
        seen["messaging"].append(dict(request.options))
        return MessagingSession(redis_url=f"{redis_server}#run:{request.run_id}")

    module.backend_options = hookimpl(backend_options)  # type: ignore[attr-defined]
    module.create_sandbox = hookimpl(create_sandbox)  # type: ignore[attr-defined]
    module.setup_messaging = hookimpl(setup_messaging)  # type: ignore[attr-defined]
    plugins = PluginManager()
    plugins.register(module, name="zoned")
    run(
        "zoned",
        task=0,
        features=[1, 2],
        backend="zoned",
        backend_options={"zone": "far"},
        dataset_dir=DATASET,
        log_dir=tmp_path,
        auto_eval=False,
        plugins=plugins,
    )
    assert seen["messaging"] == [{"zone": "far"}]
    assert seen["sandbox"] and all(o.get("zone") == "far" for o in seen["sandbox"])


def test_messaging_request_options_default_to_none_given() -> None:
    request = MessagingRequest("r1", ("agent1", "agent2"))
    assert request.options == {}
