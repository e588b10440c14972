"""Interrupting ``cooperbench eval --backend gcp`` cancels and deletes its jobs and files;
``cooperbench cleanup --backend gcp`` removes what dead evaluations left, and only that."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import BUCKET, DEMO_DATASET
from test_gcp_eval import DEMO_LOGS

from cooperbench.plugin_manager import PluginManager

pytestmark = pytest.mark.docker

CLI = [sys.executable, "-c", "from cooperbench.cli.main import main; main()"]


def wait_until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def running_containers(label: str) -> list[str]:
    listed = subprocess.run(
        ["docker", "ps", "-q", "--filter", f"label={label}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return listed.stdout.split()


def task_running(batch: Any, before: set[str]) -> bool:
    """True once a job created after ``before`` has a task container running."""
    for name in set(batch.created) - before:
        if running_containers(f"batch-standin.job-uid={batch.created[name].uid}"):
            return True
    return False


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupt_cancels_and_deletes_the_jobs(
    gcp_env: Any, tmp_path: Path, hanging_image: str, how: signal.Signals
) -> None:
    logs = tmp_path / "logs"
    shutil.copytree(DEMO_LOGS / "gold", logs / "gold", ignore=shutil.ignore_patterns("eval*"))
    env = {
        **os.environ,
        "COOPERBENCH_IMAGE_TEMPLATE": "cooperbench-test/{repo_slug}-hang:task{task_id}",
    }
    command = [
        *CLI,
        "eval",
        "-n",
        "gold",
        "--backend",
        "gcp",
        "--repo",
        "demo_textkit_task",
        "--log-dir",
        str(logs),
        "--dataset-dir",
        str(DEMO_DATASET),
        "--backend-option",
        "poll_interval=0.2",
    ]
    before = set(gcp_env.batch.created)
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_until(
            lambda: task_running(gcp_env.batch, before), 120, "a task container of the evaluation"
        )
        process.send_signal(how)
        _out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, err.decode()
    assert b"Traceback" not in err
    created = set(gcp_env.batch.created) - before
    assert created, "the evaluation created no job"
    # Every job was being deleted when eval exited (Batch then stops its VMs).
    assert all(gcp_env.batch.deletion_requested(name) for name in created)
    wait_until(lambda: not created & set(gcp_env.batch.live_jobs()), 60, "the deletions")
    instance = f"batch-standin.instance={gcp_env.batch.instance}"
    wait_until(lambda: not running_containers(instance), 30, "containers to go")
    assert [n for n in gcp_env.objects() if n.startswith("cooperbench/")] == []
    assert not list(logs.rglob("eval.json")), "an interrupted pair was saved"


def _job(labels: dict[str, str]) -> Any:
    from google.cloud import batch_v1

    runnable = batch_v1.Runnable(
        container=batch_v1.Runnable.Container(
            image_uri="cooperbench/base:bookworm", entrypoint="/bin/sh", commands=["-c", "true"]
        )
    )
    group = batch_v1.TaskGroup(task_spec=batch_v1.TaskSpec(runnables=[runnable]), task_count=1)
    return batch_v1.Job(task_groups=[group], labels=labels)


def test_cleanup_removes_dead_evaluations_only(gcp_env: Any) -> None:
    from google.cloud import storage

    from cooperbench_gcp import clients, config, naming

    settings = config.resolve_config()
    batch = clients.batch_client(settings)
    host = naming.label_value(socket.gethostname())
    owners = {
        "dead": {"cooperbench-owner-pid": "999999999", "cooperbench-owner-host": host},
        "live": {"cooperbench-owner-pid": str(os.getpid()), "cooperbench-owner-host": host},
    }
    names, bucket = {}, storage.Client(project="cb-test").bucket(BUCKET)
    for who, owner in owners.items():
        labels = {naming.MANAGED_LABEL: "true", **owner}
        job = clients.call(
            batch.create_job,
            parent=settings.parent,
            job_id=f"cb-cleanup-{who}",
            job=_job(labels),
        )
        names[who] = job.name
        bucket.blob(f"cooperbench/cb{who}/owner.json").upload_from_string(json.dumps(labels))
        bucket.blob(f"cooperbench/cb{who}/job/in-0-run.sh").upload_from_string(b"exit 0\n")
    # Not cooperbench's: never touched, whatever its labels say.
    foreign = clients.call(
        batch.create_job,
        parent=settings.parent,
        job_id="someone-elses",
        job=_job(owners["dead"]),
    )
    plugins = PluginManager.discover(disabled=())
    try:
        listed = plugins.cleanup_resources("gcp", dry_run=True)
        assert sorted(listed) == [
            f"files gs://{BUCKET}/cooperbench/cbdead/",
            f"job {names['dead']}",
        ]
        assert names["dead"] in gcp_env.batch.live_jobs()
        assert plugins.cleanup_resources("gcp") == listed
        wait_until(lambda: names["dead"] not in gcp_env.batch.live_jobs(), 30, "the deletion")
        assert names["live"] in gcp_env.batch.live_jobs()
        assert foreign.name in gcp_env.batch.live_jobs()
        left = [n for n in gcp_env.objects() if n.startswith("cooperbench/")]
        assert left == ["cooperbench/cblive/job/in-0-run.sh", "cooperbench/cblive/owner.json"]
    finally:
        for name in (names["live"], foreign.name):
            clients.call(batch.delete_job, name=name).result(timeout=60)
        for blob in list(bucket.list_blobs(prefix="cooperbench/")):
            blob.delete()
