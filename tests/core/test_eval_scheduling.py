"""How evaluation schedules sandboxes: the next one starts early, old ones stop late,
and an interrupt at any point leaves none of them behind."""

from __future__ import annotations

import threading
import time
import types
from pathlib import Path
from typing import Any

import pytest

from cooperbench import evaluate
from cooperbench.local.sandbox import LocalSandbox
from cooperbench.markers import hookimpl
from cooperbench.plugin_manager import PluginManager
from cooperbench.sandbox import SandboxRequest


class Recorder:
    """A ``recording`` backend: local sandboxes, with every create and terminate logged."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[tuple[str, str, float]] = []  # (what, pair, when)
        self.alive: set[LocalSandbox] = set()
        self.most_alive = 0
        self.created: list[LocalSandbox] = []

    def plugin(self) -> types.SimpleNamespace:
        @hookimpl
        def create_sandbox(request: SandboxRequest) -> Any:
            sandbox = LocalSandbox.create(request)
            pair = request.labels["cooperbench.pair"]
            original = sandbox.terminate

            def terminate() -> None:
                with self.lock:
                    if sandbox in self.alive:
                        self.alive.discard(sandbox)
                        self.events.append(("stop", pair, time.monotonic()))
                original()

            sandbox.terminate = terminate  # type: ignore[method-assign]
            with self.lock:
                self.alive.add(sandbox)
                self.created.append(sandbox)
                self.most_alive = max(self.most_alive, len(self.alive))
                self.events.append(("start", pair, time.monotonic()))
            return sandbox

        return types.SimpleNamespace(create_sandbox=create_sandbox)

    def first(self, what: str, pair: str) -> float:
        return next(t for w, p, t in self.events if w == what and p == pair)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def plugins(recorder: Recorder) -> PluginManager:
    manager = PluginManager.discover(disabled=())
    manager.register(recorder.plugin(), name="recording")
    return manager


def test_next_sandbox_starts_before_the_current_pair_ends(
    demo_logs: Path, demo_dataset: Path, plugins: PluginManager, recorder: Recorder
) -> None:
    order: list[str] = []
    summary = evaluate(
        "gold",
        backend="recording",
        concurrency=1,
        task=0,
        log_dir=demo_logs,
        dataset_dir=demo_dataset,
        plugins=plugins,
        on_result=lambda result: order.append(result.pair.key),
    )
    assert summary["passed"] + summary["failed"] == 3
    assert len(recorder.created) == 3 and not recorder.alive
    # One worker holds at most three sandboxes: starting, evaluating, stopping.
    assert recorder.most_alive <= 3
    first, second = order[0], order[1]
    assert recorder.first("start", second) < recorder.first("stop", first)
    # Results are saved once the sandbox is gone, with every phase timed.
    for path in (demo_logs / "gold").rglob("eval.json"):
        assert '"teardown"' in path.read_text()


def test_interrupt_after_the_first_result_stops_every_sandbox(
    demo_logs: Path, demo_dataset: Path, plugins: PluginManager, recorder: Recorder
) -> None:
    cancel = threading.Event()
    saved: list[str] = []

    def on_result(result: Any) -> None:
        saved.append(result.pair.key)
        cancel.set()  # as Ctrl-C does, while the next pair's sandbox is already up

    with pytest.raises(KeyboardInterrupt):
        evaluate(
            "gold",
            backend="recording",
            concurrency=2,
            log_dir=demo_logs,
            dataset_dir=demo_dataset,
            plugins=plugins,
            on_result=on_result,
            cancel=cancel,
        )
    assert len(recorder.created) >= 2
    assert not recorder.alive
    assert all(sandbox.terminated for sandbox in recorder.created)
    written = sorted(p.parent.name for p in (demo_logs / "gold").rglob("eval.json"))
    assert len(written) == len(saved) <= 2
