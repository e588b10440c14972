"""config.json names the image template in effect; a bad template fails before any write."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cooperbench import run
from cooperbench.dataset import DEFAULT_IMAGE_TEMPLATE, IMAGE_TEMPLATE_ENV_VAR
from cooperbench.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]
DATASET = ROOT / "examples" / "dataset"


def test_config_records_the_template_in_effect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(IMAGE_TEMPLATE_ENV_VAR, raising=False)
    options: dict[str, Any] = {"task": 0, "features": [1, 2], "dataset_dir": DATASET}
    options["log_dir"] = tmp_path
    run("published", auto_eval=False, messaging=False, **options)
    config = json.loads((tmp_path / "published" / "config.json").read_text())
    assert config["image_template"] == DEFAULT_IMAGE_TEMPLATE
    assert config["images"] == {"demo_textkit_task/0": "akhatua/cooperbench-demo-textkit:task0"}
    monkeypatch.setenv(IMAGE_TEMPLATE_ENV_VAR, "mine/{repo}:{task_id}")
    run("fromenv", auto_eval=False, messaging=False, **options)
    config = json.loads((tmp_path / "fromenv" / "config.json").read_text())
    assert config["image_template"] == "mine/{repo}:{task_id}"
    assert config["images"] == {"demo_textkit_task/0": "mine/demo_textkit_task:0"}


def test_bad_image_template_fails_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="bad image template"):
        run("tpl", task=0, image_template="x/{nope}", dataset_dir=DATASET, log_dir=tmp_path)
    assert not (tmp_path / "tpl").exists()
