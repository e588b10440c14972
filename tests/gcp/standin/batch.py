"""A Cloud Batch stand-in: the gRPC ``BatchService`` and its operations, on Docker.

Each task attempt is a container of the job's image (``docker run --pull never``) with
``BATCH_TASK_INDEX``, ``BATCH_TASK_COUNT``, ``BATCH_TASK_RETRY_ATTEMPT`` and
``BATCH_JOB_UID`` set, its GCS volumes bind-mounted from the storage stand-in's
directory (live, as gcsfuse is), ``--network none`` when the runnable blocks the
external network, and otherwise on the Docker network named as the last part of the
job's VPC network (``allocation_policy.network``), if any. It honours ``parallelism``, ``max_run_duration`` (the container is
killed and the attempt ends with exit code 50005), ``max_retry_count`` and
``lifecycle_policies``. :meth:`BatchStandin.lose` makes chosen attempts end as Batch
reports a preempted VM (exit code 50001), the fault real Batch has and Docker has not.

Every container carries ``batch-standin=gcp`` and this instance's id; :meth:`stop`
removes them all. Served RPCs: CreateJob, GetJob, ListJobs, DeleteJob, CancelJob,
GetTask, ListTasks, and ``google.longrunning.Operations`` GetOperation.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import grpc
from google.cloud import batch_v1
from google.longrunning import operations_pb2
from google.protobuf import any_pb2, empty_pb2, timestamp_pb2

LABEL = "batch-standin"
INSTANCE_LABEL = "batch-standin.instance"
PREEMPTED = 50001
RUN_DURATION_EXCEEDED = 50005
DOCKER_RUN_FAILED = 125

_JOB_ID = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
_NETWORK_URL = re.compile(r"(^|/)global/networks/[a-z]([-a-z0-9]*[a-z0-9])?$")
_SUBNETWORK_URL = re.compile(r"(^|/)regions/[a-z0-9-]+/subnetworks/[a-z]([-a-z0-9]*[a-z0-9])?$")
_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
_FILTER_TERM = re.compile(r'^\s*labels\.([a-z0-9_-]+)\s*=\s*"([^"]*)"\s*$')

JobState = batch_v1.JobStatus.State
TaskState = batch_v1.TaskStatus.State
TERMINAL = {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED}


class _Abort(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code


@attrs.define
class _Task:
    index: int
    state: Any = TaskState.PENDING
    events: list[Any] = attrs.field(factory=list)
    container: str | None = None
    started: bool = False
    #: Why the last attempt failed to run, for its status event (docker's error).
    detail: str = ""


@attrs.define
class _Job:
    job: Any
    uid: str
    tasks: list[_Task]
    state: Any = JobState.QUEUED
    events: list[Any] = attrs.field(factory=list)
    stopping: str | None = None  # "cancel" | "delete"
    running_since: float | None = None
    thread: threading.Thread | None = None
    #: Containers started by ``docker run -d`` and not yet removed.
    containers: set[str] = attrs.field(factory=set)


def _now() -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.GetCurrentTime()
    return stamp


class BatchStandin:
    """The gRPC server and its Docker executor; ``start`` serves on 127.0.0.1."""

    def __init__(self, storage_root: Path, *, max_running: int = 4, tick: float = 0.2) -> None:
        self.storage_root = storage_root
        self.instance = uuid.uuid4().hex[:12]
        self.tick = tick
        #: When set, no attempt runs longer than this many seconds, whatever the job's
        #: ``max_run_duration``: a task killed at its maximum run duration, made quick.
        self.run_duration_cap: float | None = None
        self._slots = threading.Semaphore(max_running)
        self._lock = threading.RLock()
        self._jobs: dict[str, _Job] = {}
        self._operations: dict[str, operations_pb2.Operation] = {}
        self._losses: list[Callable[[str, int, int], bool]] = []
        #: Every job ever created, by name (kept after deletion, for tests to inspect).
        self.created: dict[str, Any] = {}
        #: (job name, task index, attempt, event) in the order they happened.
        self.history: list[tuple[str, int, int, str]] = []
        self.server = grpc.server(ThreadPoolExecutor(max_workers=16))
        self.server.add_generic_rpc_handlers(self._handlers())
        self.port = self.server.add_insecure_port("127.0.0.1:0")

    @property
    def endpoint(self) -> str:
        """``127.0.0.1:PORT``, the value of ``COOPERBENCH_GCP_BATCH_ENDPOINT``."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> BatchStandin:
        """Serve."""
        self.server.start()
        return self

    def stop(self) -> None:
        """Stop every job, remove every container of this instance, stop serving."""
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            self._halt(job, "delete")
        for job in jobs:
            if job.thread is not None:
                job.thread.join(timeout=30)
        self.server.stop(grace=1).wait()
        remove_containers(f"{INSTANCE_LABEL}={self.instance}")

    def lose(self, rule: Callable[[str, int, int], bool]) -> None:
        """Make attempts for which ``rule(job_name, task_index, attempt)`` holds end preempted."""
        self._losses.append(rule)

    def forget_losses(self) -> None:
        """Stop losing attempts."""
        self._losses.clear()

    def deletion_requested(self, name: str) -> bool:
        """True once job ``name`` is being deleted, or is gone."""
        with self._lock:
            found = self._jobs.get(name)
            return found is None or found.stopping == "delete"

    def live_jobs(self) -> list[str]:
        """Names of the jobs that exist (not deleted)."""
        with self._lock:
            return sorted(self._jobs)

    # -- gRPC -----------------------------------------------------------------------------

    def _handlers(self) -> list[grpc.GenericRpcHandler]:
        def unary(function: Callable[[Any], Any], request_type: Any, response: Any) -> Any:
            def handle(request: Any, context: grpc.ServicerContext) -> Any:
                try:
                    return function(request)
                except _Abort as exc:
                    context.abort(exc.code, str(exc))

            return grpc.unary_unary_rpc_method_handler(
                handle,
                request_deserializer=request_type.deserialize
                if hasattr(request_type, "deserialize")
                else request_type.FromString,
                response_serializer=response.serialize
                if hasattr(response, "serialize")
                else response.SerializeToString,
            )

        service = {
            "CreateJob": unary(self._create_job, batch_v1.CreateJobRequest, batch_v1.Job),
            "GetJob": unary(self._get_job, batch_v1.GetJobRequest, batch_v1.Job),
            "ListJobs": unary(self._list_jobs, batch_v1.ListJobsRequest, batch_v1.ListJobsResponse),
            "DeleteJob": unary(
                self._delete_job, batch_v1.DeleteJobRequest, operations_pb2.Operation
            ),
            "CancelJob": unary(
                self._cancel_job, batch_v1.CancelJobRequest, operations_pb2.Operation
            ),
            "GetTask": unary(self._get_task, batch_v1.GetTaskRequest, batch_v1.Task),
            "ListTasks": unary(
                self._list_tasks, batch_v1.ListTasksRequest, batch_v1.ListTasksResponse
            ),
        }
        operations = {
            "GetOperation": unary(
                self._get_operation, operations_pb2.GetOperationRequest, operations_pb2.Operation
            ),
        }
        return [
            grpc.method_handlers_generic_handler("google.cloud.batch.v1.BatchService", service),
            grpc.method_handlers_generic_handler("google.longrunning.Operations", operations),
        ]

    def _create_job(self, request: Any) -> Any:
        if not _JOB_ID.match(request.job_id):
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, f"bad job_id {request.job_id!r}")
        job = batch_v1.Job(request.job)
        labels = dict(job.labels)
        for runnable in job.task_groups[0].task_spec.runnables if job.task_groups else []:
            labels.update(runnable.labels)
        for key, value in labels.items():
            if not _LABEL_KEY.match(key) or not _LABEL_VALUE.match(value):
                raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, f"bad label {key}={value!r}")
        if len(job.task_groups) != 1:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "exactly one task group is served")
        for interface in job.allocation_policy.network.network_interfaces:
            # Batch takes networks as full or partial URLs, never as bare names.
            if interface.network and not _NETWORK_URL.search(interface.network):
                raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, f"bad network {interface.network!r}")
            if interface.subnetwork and not _SUBNETWORK_URL.search(interface.subnetwork):
                raise _Abort(
                    grpc.StatusCode.INVALID_ARGUMENT, f"bad subnetwork {interface.subnetwork!r}"
                )
        spec = job.task_groups[0].task_spec
        if not 0 <= spec.max_retry_count <= 10:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "max_retry_count must be 0-10")
        for volume in spec.volumes:
            if not volume.gcs.remote_path:
                raise _Abort(grpc.StatusCode.UNIMPLEMENTED, "only GCS volumes are served")
        name = f"{request.parent}/jobs/{request.job_id}"
        with self._lock:
            if name in self._jobs:
                raise _Abort(grpc.StatusCode.ALREADY_EXISTS, f"{name} exists")
            group = job.task_groups[0]
            count = group.task_count or 1
            group.task_count = count
            group.parallelism = group.parallelism or count
            group.name = f"{name}/taskGroups/group0"
            job.name = name
            job.uid = f"{request.job_id[:40]}-{uuid.uuid4().hex[:12]}"
            job.create_time = _now()
            entry = _Job(job, job.uid, [_Task(i) for i in range(count)])
            self._event(entry, JobState.QUEUED)
            self._jobs[name] = entry
            self.created[name] = batch_v1.Job(job)
            entry.thread = threading.Thread(target=self._run_job, args=(entry,), daemon=True)
            entry.thread.start()
            return self._render(entry)

    def _job(self, name: str) -> _Job:
        with self._lock:
            found = self._jobs.get(name)
        if found is None:
            raise _Abort(grpc.StatusCode.NOT_FOUND, f"no job {name}")
        return found

    def _get_job(self, request: Any) -> Any:
        return self._render(self._job(request.name))

    def _list_jobs(self, request: Any) -> Any:
        terms = [t for t in request.filter.split(" AND ") if t.strip()] if request.filter else []
        wanted = []
        for term in terms:
            match = _FILTER_TERM.match(term)
            if match is None:
                raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, f"filter term {term!r} not served")
            wanted.append((match.group(1), match.group(2)))
        location = request.parent.rsplit("/", 1)[-1]
        with self._lock:
            jobs = list(self._jobs.values())
        chosen = [
            self._render(job)
            for job in jobs
            if (location == "-" or job.job.name.startswith(request.parent + "/"))
            and all(job.job.labels.get(k) == v for k, v in wanted)
        ]
        return batch_v1.ListJobsResponse(jobs=chosen)

    def _delete_job(self, request: Any) -> Any:
        job = self._job(request.name)
        self._halt(job, "delete")

        def finish() -> None:
            if job.thread is not None:
                job.thread.join(timeout=60)
            with self._lock:
                self._jobs.pop(request.name, None)

        return self._operation(finish, empty_pb2.Empty())

    def _cancel_job(self, request: Any) -> Any:
        job = self._job(request.name)
        self._halt(job, "cancel")

        def finish() -> None:
            if job.thread is not None:
                job.thread.join(timeout=60)

        return self._operation(finish, batch_v1.CancelJobResponse.pb(batch_v1.CancelJobResponse()))

    def _task_of(self, name: str) -> tuple[_Job, _Task]:
        job_name, _, index = name.partition("/taskGroups/group0/tasks/")
        job = self._job(job_name)
        if not index.isdigit() or int(index) >= len(job.tasks):
            raise _Abort(grpc.StatusCode.NOT_FOUND, f"no task {name}")
        return job, job.tasks[int(index)]

    def _get_task(self, request: Any) -> Any:
        job, task = self._task_of(request.name)
        return self._render_task(job, task)

    def _list_tasks(self, request: Any) -> Any:
        job_name = request.parent.partition("/taskGroups/")[0]
        job = self._job(job_name)
        with self._lock:
            tasks = [self._render_task(job, task) for task in job.tasks]
        start = int(request.page_token or 0)
        size = request.page_size or len(tasks) or 1
        page = tasks[start : start + size]
        token = str(start + size) if start + size < len(tasks) else ""
        return batch_v1.ListTasksResponse(tasks=page, next_page_token=token)

    def _get_operation(self, request: Any) -> Any:
        with self._lock:
            found = self._operations.get(request.name)
        if found is None:
            raise _Abort(grpc.StatusCode.NOT_FOUND, f"no operation {request.name}")
        return found

    def _operation(self, finish: Callable[[], None], response: Any) -> Any:
        name = f"operations/{uuid.uuid4().hex}"
        metadata = any_pb2.Any()
        metadata.Pack(batch_v1.OperationMetadata.pb(batch_v1.OperationMetadata()))
        operation = operations_pb2.Operation(name=name, metadata=metadata, done=False)
        with self._lock:
            self._operations[name] = operation

        def complete() -> None:
            finish()
            done = operations_pb2.Operation()
            done.CopyFrom(operation)
            done.done = True
            done.response.Pack(response)
            with self._lock:
                self._operations[name] = done

        threading.Thread(target=complete, daemon=True).start()
        return operation

    # -- state ----------------------------------------------------------------------------

    def _event(self, job: _Job, state: Any) -> None:
        job.events.append(
            batch_v1.StatusEvent(
                type_="STATUS_CHANGED",
                description=f"Job state is set from {job.state.name} to {state.name} for job "
                f"{job.job.name}.",
                event_time=_now(),
            )
        )
        job.state = state

    def _task_event(self, task: _Task, state: Any, exit_code: int | None = None) -> None:
        text = f"Task state is updated from {task.state.name} to {state.name}"
        event = batch_v1.StatusEvent(
            type_="STATUS_CHANGED", event_time=_now(), task_state=state, description=text + "."
        )
        if exit_code is not None:
            event.task_execution = batch_v1.TaskExecution(exit_code=exit_code)
            event.description = f"{text} with exit code {exit_code}."
            if task.detail:
                event.description += f" {task.detail}"
                task.detail = ""
        task.events.append(event)
        task.state = state

    def _render(self, job: _Job) -> Any:
        with self._lock:
            rendered = batch_v1.Job(job.job)
            counts: dict[str, int] = {}
            for task in job.tasks:
                counts[task.state.name] = counts.get(task.state.name, 0) + 1
            rendered.status = batch_v1.JobStatus(
                state=job.state,
                status_events=list(job.events),
                task_groups={"group0": batch_v1.JobStatus.TaskGroupStatus(counts=counts)},
            )
            if job.running_since is not None:
                rendered.status.run_duration = timedelta(seconds=time.time() - job.running_since)
            return rendered

    def _render_task(self, job: _Job, task: _Task) -> Any:
        return batch_v1.Task(
            name=f"{job.job.name}/taskGroups/group0/tasks/{task.index}",
            status=batch_v1.TaskStatus(state=task.state, status_events=list(task.events)),
        )

    def _halt(self, job: _Job, how: str) -> None:
        with self._lock:
            if job.stopping is None or how == "delete":
                job.stopping = how
            if how == "delete":
                job.state = JobState.DELETION_IN_PROGRESS
            elif job.state not in TERMINAL:
                self._event(job, JobState.CANCELLATION_IN_PROGRESS)
            containers = list(job.containers)
        for container in containers:
            subprocess.run(["docker", "rm", "-f", container], capture_output=True, check=False)

    # -- execution ------------------------------------------------------------------------

    def _run_job(self, job: _Job) -> None:
        time.sleep(self.tick)
        with self._lock:
            if job.stopping is None:
                self._event(job, JobState.SCHEDULED)
        group = job.job.task_groups[0]
        with ThreadPoolExecutor(max_workers=group.parallelism) as pool:
            list(pool.map(lambda task: self._run_task(job, task), job.tasks))
        with self._lock:
            for task in job.tasks:
                if task.state in (TaskState.PENDING, TaskState.ASSIGNED):
                    self._task_event(task, TaskState.UNEXECUTED)
            if job.stopping == "cancel":
                self._event(job, JobState.CANCELLED)
            elif job.stopping is None:
                failed = any(t.state != TaskState.SUCCEEDED for t in job.tasks)
                self._event(job, JobState.FAILED if failed else JobState.SUCCEEDED)

    def _run_task(self, job: _Job, task: _Task) -> None:
        spec = job.job.task_groups[0].task_spec
        attempt = 0
        while True:
            with self._slots:
                with self._lock:
                    if job.stopping is not None:
                        return
                    if job.state in (JobState.QUEUED, JobState.SCHEDULED):
                        self._event(job, JobState.RUNNING)
                        job.running_since = time.time()
                    self._task_event(task, TaskState.ASSIGNED)
                    self._task_event(task, TaskState.RUNNING)
                    task.started = True
                code = self._attempt(job, task, attempt)
            self.history.append((job.job.name, task.index, attempt, f"exit {code}"))
            with self._lock:
                if job.stopping is not None:
                    self._task_event(task, TaskState.FAILED, code)
                    return
                if code == 0:
                    self._task_event(task, TaskState.SUCCEEDED, 0)
                    return
                if attempt < spec.max_retry_count and _retried(spec, code):
                    self._task_event(task, TaskState.PENDING, code)
                    attempt += 1
                    continue
                self._task_event(task, TaskState.FAILED, code)
                return

    def _attempt(self, job: _Job, task: _Task, attempt: int) -> int:
        group = job.job.task_groups[0]
        spec = group.task_spec
        limit = spec.max_run_duration.total_seconds() or 7 * 86400
        if self.run_duration_cap is not None:
            limit = min(limit, self.run_duration_cap)
        deadline = time.monotonic() + limit
        env = {**spec.environments, **spec.environment.variables}
        env.update(
            BATCH_TASK_INDEX=str(task.index),
            BATCH_TASK_COUNT=str(group.task_count),
            BATCH_TASK_RETRY_ATTEMPT=str(attempt),
            BATCH_JOB_UID=job.uid,
        )
        lost = any(rule(job.job.name, task.index, attempt) for rule in self._losses)
        network = _vpc_network(job.job)
        for runnable in spec.runnables:
            container = runnable.container
            if not container.image_uri:
                return DOCKER_RUN_FAILED  # only container runnables are served
            command = ["docker", "run", "-d", "--pull", "never"]
            command += ["--label", f"{LABEL}=gcp", "--label", f"{INSTANCE_LABEL}={self.instance}"]
            command += ["--label", f"{LABEL}.job-uid={job.uid}"]
            command += ["--label", f"{LABEL}.task-index={task.index}"]
            for key, value in {**env, **runnable.environment.variables}.items():
                command += ["-e", f"{key}={value}"]
            for volume in spec.volumes:
                source = self._volume_dir(volume.gcs.remote_path)
                mode = "ro" if "ro" in volume.mount_options else "rw"
                command += ["-v", f"{source}:{volume.mount_path}:{mode}"]
            if container.block_external_network:
                command += ["--network", "none"]
            elif network:
                command += ["--network", network]
            if container.entrypoint:
                command += ["--entrypoint", container.entrypoint]
            command += [container.image_uri, *container.commands]
            started = subprocess.run(command, capture_output=True, text=True, check=False)
            if started.returncode != 0:
                task.detail = f"docker run failed: {started.stderr.strip()[-300:]}"
                return DOCKER_RUN_FAILED
            container_id = started.stdout.strip()
            with self._lock:
                job.containers.add(container_id)
                task.container = container_id
            try:
                code = self._wait(container_id, deadline, lost)
            finally:
                subprocess.run(["docker", "rm", "-f", container_id], capture_output=True)
                with self._lock:
                    job.containers.discard(container_id)
            if code != 0 and not runnable.ignore_exit_status:
                return code
        return 0

    def _wait(self, container: str, deadline: float, lost: bool) -> int:
        if lost:
            # The VM goes away a moment into the attempt, as a preemption does.
            time.sleep(0.5)
            subprocess.run(["docker", "kill", container], capture_output=True)
            return PREEMPTED
        try:
            waited = subprocess.run(
                ["docker", "wait", container],
                capture_output=True,
                text=True,
                timeout=max(0.1, deadline - time.monotonic()),
                check=False,
            )
        except subprocess.TimeoutExpired:
            subprocess.run(["docker", "kill", container], capture_output=True)
            return RUN_DURATION_EXCEEDED
        try:
            return int(waited.stdout.strip())
        except ValueError:
            return DOCKER_RUN_FAILED  # removed while waiting (job deleted)

    def _volume_dir(self, remote_path: str) -> Path:
        path = remote_path.removeprefix("gs://").strip("/")
        folder = self.storage_root / path
        folder.mkdir(parents=True, exist_ok=True)
        return folder


def _retried(spec: Any, code: int) -> bool:
    for policy in spec.lifecycle_policies:
        if code in policy.action_condition.exit_codes:
            return bool(policy.action == batch_v1.LifecyclePolicy.Action.RETRY_TASK)
    # Listed RETRY_TASK codes are the only ones retried; otherwise every failure is.
    return not any(
        p.action == batch_v1.LifecyclePolicy.Action.RETRY_TASK for p in spec.lifecycle_policies
    )


def remove_containers(label: str) -> int:
    """Remove every container carrying ``label`` (``key=value``); return how many."""
    listed = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label={label}"],
        capture_output=True,
        text=True,
        check=False,
    )
    ids = listed.stdout.split()
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True, check=False)
    return len(ids)


def _vpc_network(job: Any) -> str:
    """The Docker network standing in for the job's VPC network ("" for the default)."""
    interfaces = job.allocation_policy.network.network_interfaces
    name = interfaces[0].network if interfaces else ""
    return str(name).rsplit("/", 1)[-1]
