"""Batch evaluation: one Batch job per task image, one task per pair, results as tasks end.

The pairs are grouped by task image in request order. Each group's files (core's pair
script and the files it stages, per pair) are uploaded under
``gs://<bucket>/cooperbench/<eval id>/<job id>/``, which every task of the job mounts;
task ``i`` scores pair ``i`` of its group and writes its outputs next to its inputs.
The harness polls the tasks, and as each one ends reads its outputs and reports the
pair's result (core's verdict rules, :func:`cooperbench.plugin.score_outputs`). A
finished job is deleted with its files. An interrupt cancels and deletes every job
and removes the files before it propagates.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs

from cooperbench.plugin import (
    EvalContext,
    EvalRequest,
    EvalResult,
    EvalStep,
    ExecResult,
    PairSteps,
    UsageError,
    batch_bundle,
    error_result,
    pair_steps,
    sandbox_lifetime,
    score_outputs,
)
from cooperbench_gcp import clients, jobs, naming
from cooperbench_gcp.config import GcpConfig

logger = logging.getLogger(__name__)

#: Job states after which nothing changes.
TERMINAL_JOB_STATES = {"SUCCEEDED", "FAILED", "CANCELLED"}
#: Task states of a task that ended.
TERMINAL_TASK_STATES = {"SUCCEEDED", "FAILED"}
#: Parallel uploads and downloads.
TRANSFER_THREADS = 8


@attrs.define
class _Task:
    """One pair: its index in the request list and its steps."""

    position: int
    request: EvalRequest
    steps: PairSteps
    done: bool = False


@attrs.define
class _Job:
    """The job of one task image."""

    image: str
    job_id: str
    folder: str
    tasks: list[_Task]
    name: str = ""
    finished: bool = False


class BatchEvaluation:
    """One ``evaluate_patch`` call on the gcp backend."""

    def __init__(
        self,
        requests: Sequence[EvalRequest],
        context: EvalContext,
        config: GcpConfig,
        *,
        poll_interval: float,
        max_retries: int,
    ) -> None:
        self.requests = requests
        self.context = context
        self.config = config
        self.poll_interval = poll_interval
        self.max_retries = max_retries
        self.eval_id = f"cb{uuid.uuid4().hex[:10]}"
        self.prefix = naming.eval_prefix(self.eval_id)
        self.labels = {
            **naming.gcp_labels(context.labels),
            naming.MANAGED_LABEL: "true",
            naming.EVAL_LABEL: self.eval_id,
        }
        self.batch = clients.batch_client(config)
        self.storage = clients.storage_client(config)
        self.bucket = self.storage.bucket(config.bucket_name)
        self.jobs: list[_Job] = []
        self.results: dict[int, EvalResult] = {}

    def run(self) -> list[EvalResult]:
        """Submit, collect and clean up; return the results in request order."""
        self._check_bucket()
        try:
            self._upload({f"{self.prefix}/owner.json": json.dumps(self.labels).encode()})
            for job in self._plan():
                self._submit(job)
            self._collect()
        except BaseException:
            self._abandon()
            raise
        self._remove_objects(self.prefix)
        return [self.results[i] for i in sorted(self.results)]

    # -- submitting ---------------------------------------------------------------------

    def _check_bucket(self) -> None:
        try:
            found = self.storage.lookup_bucket(
                self.config.bucket_name, timeout=clients.CALL_TIMEOUT
            )
        except clients.API_ERRORS as exc:
            raise clients.unavailable("looking up the bucket", exc, self.config) from exc
        except OSError as exc:
            raise clients.unavailable("looking up the bucket", exc, self.config) from exc
        if found is None:
            raise UsageError(
                f"the bucket gs://{self.config.bucket_name} does not exist; create it "
                "(gcloud storage buckets create gs://NAME) or name another with GCP_BUCKET"
            )

    def _plan(self) -> list[_Job]:
        groups: dict[str, list[_Task]] = {}
        for position, request in enumerate(self.requests):
            task = _Task(position, request, pair_steps(request))
            groups.setdefault(request.image, []).append(task)
        for index, (image, tasks) in enumerate(groups.items()):
            job_id = naming.job_id(self.eval_id, image, index)
            self.jobs.append(_Job(image, job_id, f"{self.prefix}/{job_id}", tasks))
        return self.jobs

    def _submit(self, job: _Job) -> None:
        objects = {}
        for index, task in enumerate(job.tasks):
            for name, content in batch_bundle(task.steps).items():
                objects[f"{job.folder}/{jobs.input_name(index, name)}"] = content
        self._upload(objects)
        longest = max(sandbox_lifetime(task.request) for task in job.tasks)
        spec = jobs.build_job(
            self.config,
            image=job.image,
            task_count=len(job.tasks),
            parallelism=max(1, min(self.context.concurrency, len(job.tasks))),
            remote_path=f"{self.config.bucket_name}/{job.folder}",
            max_run_seconds=longest + jobs.TASK_MARGIN,
            max_retries=self.max_retries,
            labels=self.labels,
        )
        try:
            created = clients.call(
                self.batch.create_job,
                parent=self.config.parent,
                job_id=job.job_id,
                job=spec,
                request_id=str(uuid.uuid4()),
            )
        except clients.API_ERRORS as exc:
            raise clients.unavailable(f"creating job {job.job_id}", exc, self.config) from exc
        job.name = created.name
        logger.info("created %s for %d pair(s) of %s", job.name, len(job.tasks), job.image)

    # -- collecting ---------------------------------------------------------------------

    def _collect(self) -> None:
        while True:
            active = [job for job in self.jobs if not job.finished]
            if not active:
                return
            for job in active:
                if self.context.cancel.is_set():
                    raise KeyboardInterrupt
                self._poll(job)
            if any(not job.finished for job in self.jobs):
                self._sleep()

    def _sleep(self) -> None:
        deadline = time.monotonic() + self.poll_interval
        while time.monotonic() < deadline:
            if self.context.cancel.is_set():
                raise KeyboardInterrupt
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))

    def _poll(self, job: _Job) -> None:
        # The job's state first: tasks not ended once it has ended never will.
        state = self._job_state(job)
        for index, task_state, task in self._tasks(job):
            if index >= len(job.tasks):
                raise clients.unavailable(
                    f"reading {job.name}", ValueError(f"unknown task index {index}"), self.config
                )
            if task_state in TERMINAL_TASK_STATES and not job.tasks[index].done:
                self._finish(job, index, task_state, task)
        if state in TERMINAL_JOB_STATES:
            for task in job.tasks:
                if not task.done:
                    message = f"Batch job {job.name} ended ({state}) before this pair's task ran"
                    self._report(task, error_result(task.request, message))
        if all(task.done for task in job.tasks):
            job.finished = True
            self._delete_job(job)
            self._remove_objects(job.folder)

    def _job_state(self, job: _Job) -> str:
        try:
            found = clients.call(self.batch.get_job, name=job.name)
        except clients.API_ERRORS as exc:
            raise clients.unavailable(f"reading job {job.name}", exc, self.config) from exc
        return str(found.status.state.name)

    def _tasks(self, job: _Job) -> Iterator[tuple[int, str, Any]]:
        try:
            pages = clients.call(self.batch.list_tasks, parent=f"{job.name}/taskGroups/group0")
            listed = list(pages)
        except clients.API_ERRORS as exc:
            raise clients.unavailable(f"listing the tasks of {job.name}", exc, self.config) from exc
        for task in listed:
            yield int(task.name.rsplit("/", 1)[-1]), str(task.status.state.name), task

    def _finish(self, job: _Job, index: int, state: str, task: Any) -> None:
        pair = job.tasks[index]
        outputs = self._outputs(f"{job.folder}/{jobs.output_prefix(index)}")
        if state == "SUCCEEDED":
            result = score_outputs(pair.steps, outputs)
        else:
            code, said = last_attempt(task)
            if code == jobs.RUN_DURATION_EXIT_CODE:
                # Killed at its maximum run duration: what had not finished timed out.
                result = score_outputs(pair.steps, outputs, unfinished=_timed_out)
            else:
                why = jobs.LOST_EXIT_CODES.get(code or 0, f"exit code {code}")
                message = f"Batch task {index} of {job.name} failed: {why} ({said})"
                result = error_result(pair.request, message)
        self._report(pair, result)

    def _report(self, task: _Task, result: EvalResult) -> None:
        task.done = True
        result = attrs.evolve(result, provenance={"image_id": None, **result.provenance})
        self.results[task.position] = result
        self.context.report(result)

    # -- storage ------------------------------------------------------------------------

    def _upload(self, objects: Mapping[str, bytes]) -> None:
        def put(item: tuple[str, bytes]) -> None:
            self.bucket.blob(item[0]).upload_from_string(item[1], timeout=clients.CALL_TIMEOUT)

        try:
            with ThreadPoolExecutor(TRANSFER_THREADS, thread_name_prefix="cooperbench-gcs") as pool:
                list(pool.map(put, objects.items()))
        except clients.API_ERRORS as exc:
            raise clients.unavailable("uploading the pairs' files", exc, self.config) from exc

    def _outputs(self, prefix: str) -> dict[str, bytes]:
        try:
            blobs = list(
                self.storage.list_blobs(self.bucket, prefix=prefix, timeout=clients.CALL_TIMEOUT)
            )
            with ThreadPoolExecutor(TRANSFER_THREADS, thread_name_prefix="cooperbench-gcs") as pool:
                contents = list(
                    pool.map(lambda b: b.download_as_bytes(timeout=clients.CALL_TIMEOUT), blobs)
                )
        except clients.API_ERRORS as exc:
            raise clients.unavailable("reading a task's outputs", exc, self.config) from exc
        return {blob.name[len(prefix) :]: data for blob, data in zip(blobs, contents, strict=True)}

    def _remove_objects(self, prefix: str) -> None:
        remove_objects(self.storage, self.bucket, prefix)

    # -- teardown -----------------------------------------------------------------------

    def _delete_job(self, job: _Job) -> None:
        delete_job(self.batch, job.name)

    def _abandon(self) -> None:
        """Cancel and delete every job of this evaluation and remove its files."""
        for job in self.jobs:
            if job.name and not job.finished:
                cancel_job(self.batch, job.name)
                delete_job(self.batch, job.name)
        try:
            self._remove_objects(self.prefix)
        except Exception as exc:  # noqa: BLE001 - best effort while interrupted
            logger.warning("could not remove gs://%s/%s: %s", self.bucket.name, self.prefix, exc)


def _timed_out(step: EvalStep) -> ExecResult:
    return ExecResult(jobs.RUN_DURATION_EXIT_CODE, timed_out=True)


def last_attempt(task: Any) -> tuple[int | None, str]:
    """The exit code of the task's last attempt and what Batch said of it."""
    from google.cloud import batch_v1

    code, said = None, "no attempt recorded"
    for event in task.status.status_events:
        if batch_v1.StatusEvent.pb(event).HasField("task_execution"):
            code, said = int(event.task_execution.exit_code), str(event.description)
    return code, said


def cancel_job(batch: Any, name: str) -> None:
    """Ask Batch to cancel job ``name`` (already ended or gone is fine)."""
    try:
        clients.call(batch.cancel_job, name=name)
    except clients.API_ERRORS as exc:
        logger.debug("cancelling %s: %s", name, exc)


def delete_job(batch: Any, name: str) -> None:
    """Delete job ``name`` (already gone is fine); stops whatever of it still runs."""
    try:
        clients.call(batch.delete_job, name=name, reason="cooperbench: evaluation done")
    except clients.API_ERRORS as exc:
        logger.debug("deleting %s: %s", name, exc)


def remove_objects(storage: Any, bucket: Any, prefix: str) -> int:
    """Delete every object under ``prefix``; return how many there were."""
    blobs = list(
        storage.list_blobs(bucket, prefix=prefix.rstrip("/") + "/", timeout=clients.CALL_TIMEOUT)
    )
    for blob in blobs:
        try:
            blob.delete(timeout=clients.CALL_TIMEOUT)
        except clients.API_ERRORS as exc:
            if "404" not in str(exc):
                raise
    return len(blobs)
