"""The forged patches of tests/core/test_verdict_forgeries.py do not pass on Docker either."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from cooperbench import run_patch_test
from cooperbench.plugin_manager import PluginManager

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
DEMO_DATASET = ROOT / "examples" / "dataset"
BUILD_ARGS = {"BASE_IMAGE": "cooperbench/base:bookworm"}


def _forgeries() -> ModuleType:
    path = ROOT / "tests" / "core" / "test_verdict_forgeries.py"
    spec = importlib.util.spec_from_file_location("verdict_forgeries", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FORGERIES = _forgeries()


@pytest.mark.parametrize("name", sorted(FORGERIES.FORGERIES))
def test_forged_patch_does_not_pass_on_docker(name: str) -> None:
    repo = DEMO_DATASET / "demo_textkit_task" / "task0" / "repo"
    result = run_patch_test(
        "demo_textkit_task",
        0,
        1,
        FORGERIES.forged_patch(name, repo),
        backend="docker",
        dataset_dir=DEMO_DATASET,
        backend_options={"build_args": BUILD_ARGS},
        plugins=PluginManager.discover(disabled=()),
    )
    assert result["apply_status"] in ("applied", "skipped"), result
    assert result["error"] is None, result
    assert result["passed"] is False, result["test_output"][-2000:]
