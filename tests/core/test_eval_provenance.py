"""eval.json says where its verdict came from; a verdict of another backend is scored again."""

from __future__ import annotations

import json
import types
from pathlib import Path

from cooperbench import __version__, evaluate
from cooperbench.evaluation.api import plan_evaluation
from cooperbench.local import LocalSandbox
from cooperbench.markers import hookimpl
from cooperbench.plugin_manager import PluginManager
from cooperbench.sandbox import SandboxRequest

PAIR = Path("gold/coop/demo_textkit_task/0/f1_f2/eval.json")


def with_second_backend() -> PluginManager:
    @hookimpl
    def create_sandbox(request: SandboxRequest) -> LocalSandbox:
        return LocalSandbox.create(request)

    plugins = PluginManager.discover(disabled=())
    plugins.register(types.SimpleNamespace(create_sandbox=create_sandbox), name="second")
    return plugins


def test_eval_json_records_backend_image_timeout_and_version(
    demo_logs: Path, demo_dataset: Path
) -> None:
    evaluate(
        "gold",
        task=0,
        features=(1, 2),
        timeout=77,
        image_template="reg/{repo_slug}:t{task_id}",
        log_dir=demo_logs,
        dataset_dir=demo_dataset,
        plugins=with_second_backend(),
    )
    document = json.loads((demo_logs / PAIR).read_text())
    assert document["status"] == "passed"
    assert document["backend"] == "local"
    assert document["image"] == "reg/demo-textkit:t0"
    assert document["image_id"] is None  # the local backend has no images
    assert document["test_timeout"] == 77
    assert document["cooperbench_version"] == __version__


def test_a_verdict_from_another_backend_is_scored_again_and_said_so(
    demo_logs: Path, demo_dataset: Path
) -> None:
    plugins = with_second_backend()
    common = dict(task=0, log_dir=demo_logs, dataset_dir=demo_dataset, plugins=plugins)
    evaluate("gold", backend="local", **common)
    same = plan_evaluation(
        "gold", task=0, log_dir=demo_logs, dataset_dir=demo_dataset, backend="local"
    )
    assert same.requests == () and same.rescored == ()
    other = plan_evaluation(
        "gold", task=0, log_dir=demo_logs, dataset_dir=demo_dataset, backend="second"
    )
    assert len(other.requests) == 3
    assert "demo_textkit_task/0/1,2 (coop): scored on local" in other.rescored
    evaluate("gold", backend="second", **common)
    assert json.loads((demo_logs / PAIR).read_text())["backend"] == "second"


def test_verdicts_that_do_not_name_a_backend_are_kept(demo_logs: Path, demo_dataset: Path) -> None:
    # eval.json files of the published tool say nothing of a backend: nothing to compare.
    evaluate("gold", task=0, features=(1, 2), log_dir=demo_logs, dataset_dir=demo_dataset)
    for path in (demo_logs / "gold").rglob("eval.json"):
        document = json.loads(path.read_text())
        del document["backend"]
        path.write_text(json.dumps(document))
    plan = plan_evaluation(
        "gold",
        task=0,
        features=(1, 2),
        log_dir=demo_logs,
        dataset_dir=demo_dataset,
        backend="docker",
    )
    assert plan.rescored == ()
    assert plan.already_done == 2
