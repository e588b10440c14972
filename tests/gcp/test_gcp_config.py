"""``cooperbench config gcp``: the wizard, non-interactively (as CI runs it) and answering
its questions, against the stand-ins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cooperbench.plugin_manager import PluginManager

pytestmark = pytest.mark.docker

CLI = [sys.executable, "-c", "from cooperbench.cli.main import main; main()"]
WIZARD_BUCKET = "cb-wizard-bucket"


@pytest.fixture
def wizard_env(gcp_env: Any, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The stand-ins' endpoints without any other setting, and a private config file."""
    settings = ("GOOGLE_CLOUD_PROJECT", "GCP_BUCKET", "GCP_REGION")
    env = {k: v for k, v in os.environ.items() if k not in settings}
    env.update({k: v for k, v in gcp_env.env.items() if k not in settings})
    env["COOPERBENCH_CONFIG_FILE"] = str(tmp_path / "cooperbench" / "config.json")
    yield env
    gcp_env.storage.remove_bucket(WIZARD_BUCKET)


def config(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "config", "gcp", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_the_wizard_runs_without_questions_and_saves_the_settings(
    wizard_env: dict[str, str], gcp_env: Any
) -> None:
    path = Path(wizard_env["COOPERBENCH_CONFIG_FILE"])
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"other": {"kept": True}}))
    settings = ["--set", "project=cb-test", "--set", "region=europe-west4"]
    done = config(["--yes", *settings, "--set", f"bucket={WIZARD_BUCKET}"], wizard_env)
    assert done.returncode == 0, done.stderr
    assert f"saved the gcp settings to {path}" in done.stdout
    assert f"created gs://{WIZARD_BUCKET}" in done.stdout
    document = json.loads(path.read_text())
    assert document["other"] == {"kept": True}
    assert document["gcp"] == {
        "project": "cb-test",
        "region": "europe-west4",
        "bucket": WIZARD_BUCKET,
    }
    metadata = gcp_env.storage.metadata(WIZARD_BUCKET)
    assert metadata["location"].lower() == "europe-west4"
    assert {"action": {"type": "Delete"}, "condition": {"age": 7}} in metadata["lifecycle"]["rule"]
    # The saved settings are what the backend now uses.
    listed = subprocess.run([*CLI, "backends"], env=wizard_env, capture_output=True, text=True)
    line = next(x for x in listed.stdout.splitlines() if x.startswith("gcp "))
    assert " usable " in line and "cb-test" in line
    # A second run finds the bucket with its rule and changes nothing else.
    again = config(["--yes"], wizard_env)
    assert again.returncode == 0, again.stderr
    assert f"gs://{WIZARD_BUCKET} is there, with a delete rule" in again.stdout
    assert json.loads(path.read_text()) == document


def test_the_wizard_asks_with_defaults(wizard_env: dict[str, str], gcp_env: Any) -> None:
    gcp_env.storage.create_bucket(WIZARD_BUCKET)  # there, but without a delete rule
    saved = os.environ.copy()
    os.environ.clear()
    os.environ.update(wizard_env)
    try:
        with CliRunner().isolation(input=f"cb-asked\n\n\n{WIZARD_BUCKET}\n") as streams:
            written = PluginManager.discover(disabled=()).configure_backend(
                "gcp", {}, interactive=True
            )
            shown = streams[0].getvalue().decode()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert "Project" in shown and "Region [us-central1]" in shown
    assert f"gs://{WIZARD_BUCKET} now deletes objects after 7 days" in shown
    document = json.loads(Path(written).read_text())
    assert document["gcp"] == {
        "project": "cb-asked",
        "region": "us-central1",
        "bucket": WIZARD_BUCKET,
    }


def test_without_a_terminal_a_missing_answer_names_its_flag(wizard_env: dict[str, str]) -> None:
    done = config([], wizard_env)
    assert done.returncode == 2
    assert "pass --set project=VALUE" in done.stderr
    assert "Traceback" not in done.stderr
    assert not Path(wizard_env["COOPERBENCH_CONFIG_FILE"]).exists()


def test_an_unknown_setting_is_refused(wizard_env: dict[str, str]) -> None:
    done = config(["--yes", "--set", "projekt=x"], wizard_env)
    assert done.returncode == 2
    assert "unknown setting 'projekt'" in done.stderr
