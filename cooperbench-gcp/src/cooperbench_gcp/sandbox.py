"""Sandboxes on GCP: a one-task Batch job of the task image, driven through the bucket.

The task runs a small ``sh`` loop (:data:`AGENT`) with the sandbox's bucket folder
mounted at :data:`~cooperbench_gcp.jobs.MOUNT`. To run a command the harness uploads
``req-<id>.sh``; the loop claims it (renames it ``run-<id>.sh``) and runs it in the
background, so commands run side by side. The request runs the command in its own
session with its environment and working directory, kills the session when the
time limit passes, and writes ``cmd-<id>.out``, ``.err`` and, last, ``.status``,
which the harness waits for. Files travel as objects and are copied in or out by a
command. The job's ``max_run_duration`` is the sandbox's lifetime, so a sandbox whose
harness died stops by itself. Slower than a container, but the same contract.
"""

from __future__ import annotations

import contextlib
import logging
import shlex
import threading
import time
import uuid

from cooperbench.plugin import (
    ExecResult,
    SandboxBase,
    SandboxError,
    SandboxFileNotFoundError,
    SandboxIsADirectoryError,
    SandboxPermissionError,
    SandboxRequest,
    truncation_marker,
)
from cooperbench_gcp import clients, jobs, naming
from cooperbench_gcp.config import GcpConfig, resolve_config
from cooperbench_gcp.evaluate import TERMINAL_JOB_STATES, delete_job, remove_objects

logger = logging.getLogger(__name__)

#: Seconds between looks for a command's status (and for the sandbox to come up).
POLL = 0.1
#: Seconds a new sandbox has to start its loop (pulling the image, booting a VM).
START_TIMEOUT = 900
#: Seconds between looks at the job's state while waiting for a command.
JOB_CHECK = 2.0
#: Extra seconds the harness waits beyond a command's own time limit.
GRACE = 30.0

# The loop the task runs (arguments: the mount, the workdir to create): claim each
# request and run it in the background.
AGENT = r"""d=$1
mkdir -p "$2" || exit 1
: >"$d/ready" || exit 1
while :; do
  for req in "$d"/req-*.sh; do
    [ -e "$req" ] || continue
    id=${req##*/req-}
    id=${id%.sh}
    mv "$req" "$d/run-$id.sh" 2>/dev/null || continue
    sh "$d/run-$id.sh" "$d/cmd-$id" </dev/null >/dev/null 2>&1 &
  done
  [ -e "$d/stop" ] && exit 0
  sleep 0.1
done
"""

# One command: $1 is the output prefix. Exits are reported through "<prefix>.status":
# "RC TIMED_OUT" or "nocwd".
_RUN = r"""o=$1
now() { read -r up _ </proc/uptime && echo "$up"; }
if ! cd {cwd} 2>/dev/null; then echo nocwd >"$o.tmp" && mv "$o.tmp" "$o.status"; exit 0; fi
{exports}
if command -v setsid >/dev/null 2>&1; then
  setsid {argv} >"$o.out" 2>"$o.err" </dev/null &
else
  (exec {argv}) >"$o.out" 2>"$o.err" </dev/null &
fi
pid=$!
{watchdog}
wait "$pid"
rc=$?
[ -n "$dog" ] && kill "$dog" 2>/dev/null
timed=0
[ -e "$o.killed" ] && timed=1
echo "$rc $timed" >"$o.tmp" && mv "$o.tmp" "$o.status"
"""

_WATCHDOG = (
    '(sleep {seconds}; : >"$o.killed"; kill -KILL -"$pid" || kill -KILL "$pid") '
    ">/dev/null 2>&1 &\ndog=$!"
)

# Copies staged objects into place: pairs of arguments, object then path.
_PUT = (
    'while [ "$#" -ge 2 ]; do dir=${2%/*}; { [ -z "$dir" ] || mkdir -p "$dir"; } '
    '&& cp "$1" "$2" || exit 1; shift 2; done'
)
# Copies one file out, saying why it cannot.
_GET = (
    '[ -e "$1" ] || exit 3; [ -d "$1" ] && exit 4; [ -r "$1" ] || exit 5; cat "$1" >"$2" || exit 5'
)


class GcpSandbox(SandboxBase):
    """A sandbox that is one Batch task; see the module docstring."""

    def __init__(self, request: SandboxRequest, config: GcpConfig, sandbox_id: str) -> None:
        super().__init__(sandbox_id, request.workdir, output_limit=request.output_limit)
        self.request = request
        self.config = config
        self.folder = f"{naming.eval_prefix(sandbox_id)}"
        self.batch = clients.batch_client(config)
        self.storage = clients.storage_client(config)
        self.bucket = self.storage.bucket(config.bucket_name)
        self.job_name = ""
        self._job_state = ""
        self._state_checked = 0.0
        self._state_lock = threading.Lock()

    # -- creation -------------------------------------------------------------------------

    @classmethod
    def create(cls, request: SandboxRequest) -> GcpSandbox:
        """Start the sandbox's job and wait until its loop runs."""
        config = resolve_config(request.options)
        config.require_project()
        sandbox = cls(request, config, f"cbsb{uuid.uuid4().hex[:10]}")
        started = time.monotonic()
        try:
            sandbox._start()
            sandbox._wait_ready()
        except BaseException:
            sandbox.terminate()
            raise
        sandbox.startup_timings = {"job_start": time.monotonic() - started}
        return sandbox

    def _start(self) -> None:
        labels = {
            **naming.gcp_labels(self.request.labels),
            naming.MANAGED_LABEL: "true",
            naming.EVAL_LABEL: self.id,
        }
        self._put(f"{self.folder}/owner.json", _json(labels))
        self._put(f"{self.folder}/agent.sh", AGENT.encode())
        spec = jobs.build_job(
            self.config,
            image=self.request.image,
            task_count=1,
            parallelism=1,
            remote_path=f"{self.config.bucket_name}/{self.folder}",
            max_run_seconds=self.request.timeout,
            max_retries=0,
            labels=labels,
            command=f'exec sh "{jobs.MOUNT}/agent.sh" "{jobs.MOUNT}" {shlex.quote(self.workdir)}',
            network=self.request.network,
        )
        try:
            created = clients.call(
                self.batch.create_job, parent=self.config.parent, job_id=self.id, job=spec
            )
        except clients.API_ERRORS as exc:
            raise clients.unavailable("creating the sandbox's job", exc, self.config) from exc
        self.job_name = created.name

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not self._exists(f"{self.folder}/ready"):
            if self._job_ended():
                raise SandboxError(
                    f"the sandbox job {self.job_name} ended before it started "
                    f"(is {self.request.image} an image with sh that the VMs can pull?)"
                )
            if time.monotonic() > deadline:
                raise SandboxError(f"the sandbox job {self.job_name} did not start in time")
            time.sleep(POLL)

    # -- commands -------------------------------------------------------------------------

    def _do_exec(
        self, args: list[str], *, timeout: float | None, env: dict[str, str], cwd: str | None
    ) -> ExecResult:
        command_id = uuid.uuid4().hex[:12]
        variables = {**self.request.env, **env}
        exports = "\n".join(f"export {k}={shlex.quote(v)}" for k, v in variables.items())
        watchdog = ""
        if timeout is not None:
            watchdog = _WATCHDOG.format(seconds=max(0.1, float(timeout)))
        script = (
            _RUN.replace("{cwd}", shlex.quote(self.resolve(cwd or self.workdir)))
            .replace("{exports}", exports)
            .replace("{argv}", " ".join(shlex.quote(a) for a in args))
            .replace("{watchdog}", watchdog or "dog=")
        )
        prefix = f"{self.folder}/cmd-{command_id}"
        started = time.monotonic()
        self._put(f"{self.folder}/req-{command_id}.sh", script.encode())
        limit = None if timeout is None else timeout + GRACE
        status = self._wait_for(f"{prefix}.status", limit)
        duration = time.monotonic() - started
        if status is None:
            self._forget(command_id)
            message = b"the sandbox stopped (its lifetime passed, or it was lost) before the command ended\n"
            return ExecResult(137, b"", message, duration=duration)
        if status.strip() == b"nocwd":
            self._forget(command_id)
            raise SandboxError(f"no directory {cwd or self.workdir} in the sandbox")
        rc_text, _, timed = status.decode().strip().partition(" ")
        stdout, stdout_dropped = self._capped(f"{prefix}.out")
        stderr, stderr_dropped = self._capped(f"{prefix}.err")
        self._forget(command_id)
        return ExecResult(
            int(rc_text),
            stdout,
            stderr,
            timed_out=timed == "1",
            duration=duration,
            stdout_dropped=stdout_dropped,
            stderr_dropped=stderr_dropped,
        )

    def _wait_for(self, name: str, limit: float | None) -> bytes | None:
        """The object ``name`` once it exists; ``None`` if the job ends (or ``limit`` passes)."""
        deadline = None if limit is None else time.monotonic() + limit
        while True:
            data = self._get(name)
            if data is not None:
                return data
            if self._job_ended() or (deadline is not None and time.monotonic() > deadline):
                return self._get(name)
            time.sleep(POLL)

    def _capped(self, name: str) -> tuple[bytes, int]:
        """The object ``name``, with its middle left out beyond the output limit."""
        blob = self.bucket.get_blob(name, timeout=clients.CALL_TIMEOUT)
        if blob is None:
            return b"", 0
        size = int(blob.size or 0)
        if size <= self.output_limit:
            return bytes(blob.download_as_bytes(timeout=clients.CALL_TIMEOUT)), 0
        head = self.output_limit // 4
        tail = self.output_limit - head
        first = blob.download_as_bytes(start=0, end=head - 1, timeout=clients.CALL_TIMEOUT)
        last = blob.download_as_bytes(start=size - tail, end=size - 1, timeout=clients.CALL_TIMEOUT)
        dropped = size - self.output_limit
        return bytes(first) + truncation_marker(dropped) + bytes(last), dropped

    def _forget(self, command_id: str) -> None:
        """Remove a finished command's objects, in the background."""
        names = [
            f"{self.folder}/run-{command_id}.sh",
            *(f"{self.folder}/cmd-{command_id}.{k}" for k in ("out", "err", "status", "killed")),
        ]
        threading.Thread(target=self._delete, args=(names,), daemon=True).start()

    # -- files ----------------------------------------------------------------------------

    def _do_write_file(self, path: str, data: bytes) -> None:
        self._do_write_files({path: data})

    def _do_write_files(self, files: dict[str, bytes]) -> None:
        staged, args = [], []
        for path, data in files.items():
            name = f"put-{uuid.uuid4().hex[:12]}"
            self._put(f"{self.folder}/{name}", data)
            staged.append(f"{self.folder}/{name}")
            args += [f"{jobs.MOUNT}/{name}", path]
        try:
            done = self._do_exec(["sh", "-c", _PUT, "sh", *args], timeout=None, env={}, cwd="/")
        finally:
            self._delete(staged)
        if not done.ok:
            raise SandboxError(f"writing files in the sandbox failed: {done.stderr_read()[-300:]}")

    def _do_read_file(self, path: str) -> bytes:
        name = f"get-{uuid.uuid4().hex[:12]}"
        done = self._do_exec(
            ["sh", "-c", _GET, "sh", path, f"{jobs.MOUNT}/{name}"], timeout=None, env={}, cwd="/"
        )
        try:
            if done.returncode == 3:
                raise SandboxFileNotFoundError(f"no file {path} in the sandbox")
            if done.returncode == 4:
                raise SandboxIsADirectoryError(f"{path} is a directory")
            if done.returncode == 5:
                raise SandboxPermissionError(f"the sandbox's user may not read {path}")
            if not done.ok:
                raise SandboxError(f"reading {path} failed: {done.stderr_read()[-300:]}")
            data = self._get(f"{self.folder}/{name}")
            if data is None:
                raise SandboxError(f"reading {path} failed: its copy did not arrive")
            return data
        finally:
            self._delete([f"{self.folder}/{name}"])

    # -- teardown -------------------------------------------------------------------------

    def _do_terminate(self) -> None:
        if self.job_name:
            delete_job(self.batch, self.job_name)
        try:
            remove_objects(self.storage, self.bucket, self.folder)
        except clients.API_ERRORS as exc:
            logger.warning("could not remove gs://%s/%s: %s", self.bucket.name, self.folder, exc)

    # -- plumbing -------------------------------------------------------------------------

    def _job_ended(self) -> bool:
        with self._state_lock:
            if time.monotonic() - self._state_checked < JOB_CHECK and self._job_state:
                return self._job_state in TERMINAL_JOB_STATES
            try:
                found = clients.call(self.batch.get_job, name=self.job_name)
                self._job_state = str(found.status.state.name)
            except clients.API_ERRORS as exc:
                if "404" in str(exc) or "not found" in str(exc).lower():
                    self._job_state = "DELETED"
                    return True
                raise clients.unavailable("reading the sandbox's job", exc, self.config) from exc
            self._state_checked = time.monotonic()
            return self._job_state in TERMINAL_JOB_STATES

    def _put(self, name: str, data: bytes) -> None:
        try:
            self.bucket.blob(name).upload_from_string(data, timeout=clients.CALL_TIMEOUT)
        except clients.API_ERRORS as exc:
            raise clients.unavailable("uploading to the sandbox", exc, self.config) from exc

    def _get(self, name: str) -> bytes | None:
        from google.api_core.exceptions import NotFound

        try:
            return bytes(self.bucket.blob(name).download_as_bytes(timeout=clients.CALL_TIMEOUT))
        except NotFound:
            return None
        except clients.API_ERRORS as exc:
            raise clients.unavailable("reading from the sandbox", exc, self.config) from exc

    def _exists(self, name: str) -> bool:
        return self._get(name) is not None

    def _delete(self, names: list[str]) -> None:
        for name in names:
            # Gone already, or the folder goes with the sandbox.
            with contextlib.suppress(*clients.API_ERRORS):
                self.bucket.blob(name).delete(timeout=clients.CALL_TIMEOUT)


def _json(labels: dict[str, str]) -> bytes:
    import json

    return json.dumps(labels).encode()
