"""Core's pair script, as a batch task runs it: a container of the task image, the files
in a mounted folder, the outputs read back by core's verdict rules, and the checks that
refuse outputs that are not this pair's."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import attrs
import pytest
from test_gcp_faults import requests_of

from cooperbench.plugin import ExecResult, batch_bundle, output_names, pair_steps, score_outputs

pytestmark = pytest.mark.docker


def run_script(steps: Any, image: str, folder: Path) -> dict[str, bytes]:
    """Run the pair's bundle in a container of ``image``; return its outputs by name."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in batch_bundle(steps).items():
        (folder / f"in-{name}").write_bytes(content)
    command = "exec sh /mnt/pair/in-run.sh /mnt/pair/in- /mnt/pair/out-"
    done = subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            "--network",
            "none",
            "--label",
            "cooperbench-test=pair-script",
            "-v",
            f"{folder}:/mnt/pair",
            "--entrypoint",
            "/bin/sh",
            image,
            "-c",
            command,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    prefix = "out-"
    return {
        p.name[len(prefix) :]: p.read_bytes() for p in folder.iterdir() if p.name.startswith(prefix)
    }


@pytest.fixture(scope="module")
def scored(
    tmp_path_factory: pytest.TempPathFactory, demo_images: dict[str, str]
) -> tuple[Any, dict[str, bytes]]:
    folder = tmp_path_factory.mktemp("pair-script")
    request = requests_of(folder, "gold")["coop/demo_textkit_task/0/f1_f2"]
    steps = pair_steps(request)
    outputs = run_script(steps, request.image, folder / "mount")
    return steps, outputs


def test_the_script_leaves_every_output_and_its_verdict_is_the_pipelines(scored: Any) -> None:
    steps, outputs = scored
    assert set(outputs) == set(output_names(steps))
    result = score_outputs(steps, outputs)
    assert result.error is None
    assert result.status == "passed"
    assert result.merge is not None and result.merge.status == "clean"
    assert all(f.results_source == "junit" and f.tests_total > 0 for f in result.features)
    assert set(result.timings) == {"patch_setup", "tests"}
    assert result.timings["tests"] == pytest.approx(
        sum(f.duration_seconds for f in result.features)
    )


def test_outputs_of_another_pair_are_refused(scored: Any) -> None:
    steps, outputs = scored
    other = attrs.evolve(steps.request.pair, setting="solo")
    foreign = score_outputs(
        attrs.evolve(steps, request=attrs.evolve(steps.request, pair=other)), outputs
    )
    assert foreign.status == "error" and foreign.error_kind == "infrastructure"
    assert "another pair" in (foreign.error or "")


def test_a_step_without_output_is_an_infrastructure_error(scored: Any) -> None:
    steps, outputs = scored
    partial = {k: v for k, v in outputs.items() if not k.startswith("feature2.")}
    result = score_outputs(steps, partial)
    assert result.status == "error" and result.error_kind == "infrastructure"
    assert "feature2" in (result.error or "")


def test_a_step_cut_short_by_the_platform_is_a_timeout(scored: Any) -> None:
    steps, outputs = scored
    partial = {k: v for k, v in outputs.items() if not k.startswith("feature2.")}
    killed = ExecResult(137, timed_out=True)
    result = score_outputs(steps, partial, unfinished=lambda step: killed)
    assert result.error is None
    assert result.status == "failed" and result.timed_out
    assert [f.timed_out for f in result.features] == [False, True]


def test_an_attempt_clears_the_outputs_of_the_one_before(
    tmp_path: Path, demo_images: dict[str, str]
) -> None:
    request = requests_of(tmp_path, "gold")["coop/demo_ledger_task/7/f1_f2"]
    steps = pair_steps(request)
    folder = tmp_path / "mount"
    folder.mkdir()
    # An earlier attempt's verdict, left behind; this attempt's image has no workspace,
    # so its prepare step fails and no feature runs.
    for name in ("prepare", "feature1", "feature2"):
        (folder / f"out-{name}.status").write_text("0 0 1.0 2.0\n")
    outputs = run_script(steps, "cooperbench/base:bookworm", folder)
    assert "feature1.status" not in outputs and "feature2.status" not in outputs
    result = score_outputs(steps, outputs)
    assert result.status == "error" and result.error_kind == "infrastructure"
    assert "preparing the branches failed" in (result.error or "")
