"""The Modal sandbox: one Modal Sandbox per cooperbench sandbox, commands run through exec.

Creation resolves the app once per process, takes a slot from the creation rate
limiter, retries transient failures with backoff and then waits, within the
``start_timeout`` option, for the sandbox to run a first command: a sandbox that never
starts is terminated and reported as a :class:`SandboxError`, which evaluation records
as an infrastructure error (retried by the next eval), never as a verdict.
"""

from __future__ import annotations

import posixpath
import threading
import time
from collections.abc import Sequence
from typing import Any

import attrs

from cooperbench.plugin import (
    ExecResult,
    SandboxBase,
    SandboxError,
    SandboxPermissionError,
    SandboxRequest,
)
from cooperbench_modal.archive import STAGING_DIR, extract_command, pack_files
from cooperbench_modal.client import (
    ensure_reachable,
    first_line,
    is_transient,
    lookup_app,
    modal_errors,
    translate,
)
from cooperbench_modal.execution import run_command, run_quietly
from cooperbench_modal.options import SandboxSettings
from cooperbench_modal.ratelimit import limiter

#: Longest lifetime Modal gives a sandbox (24 hours).
MAX_LIFETIME = 24 * 3600
#: Seconds before the first retry of a failed creation; doubled each time, capped.
BACKOFF_START = 1.0
BACKOFF_MAX = 30.0
#: Attempts to terminate a sandbox through transient failures.
TERMINATE_ATTEMPTS = 3
# Exits 1 when the sandbox's user may not read "$1" (mode, owner, parent directories).
_READABLE = 'test -r "$1"'


@attrs.frozen
class Ports:
    """Container ports Modal exposes: through TLS tunnels, or as plain TCP."""

    encrypted: tuple[int, ...] = ()
    unencrypted: tuple[int, ...] = ()


class ModalSandbox(SandboxBase):
    """A Modal Sandbox started from the request's image, stopped after its lifetime."""

    def __init__(self, handle: Any, request: SandboxRequest, deadline: float) -> None:
        super().__init__(handle.object_id, request.workdir, output_limit=request.output_limit)
        self._handle = handle
        self._deadline = deadline
        self._as_root = True

    @classmethod
    def create(
        cls,
        request: SandboxRequest,
        *,
        command: Sequence[str] = (),
        ports: Ports | None = None,
    ) -> ModalSandbox:
        """Create the sandbox and wait until it runs commands.

        ``command`` replaces the sandbox's own command (by default it only sleeps until
        its lifetime ends); ``ports`` are container ports Modal exposes through tunnels.
        Raises :class:`~cooperbench.errors.BackendUnavailableError` when Modal cannot be
        used (no token, server unreachable, credentials refused),
        :class:`~cooperbench.errors.UsageError` for a bad option and
        :class:`~cooperbench.errors.SandboxError` for anything else, such as an image
        Modal cannot use (one line, not retried) or a sandbox that never starts.
        """
        settings = SandboxSettings.from_request(request)
        ensure_reachable()
        app = lookup_app(settings.app, settings.environment)
        began = time.monotonic()
        handle = _create_with_retries(request, settings, app, command, ports or Ports())
        sandbox = cls(handle, request, began + min(request.timeout, MAX_LIFETIME))
        sandbox.startup_timings["create"] = time.monotonic() - began
        try:
            sandbox._wait_until_ready(settings.start_timeout)
        except BaseException:
            sandbox.terminate()
            raise
        return sandbox

    @property
    def handle(self) -> Any:
        """The SDK's ``modal.Sandbox`` object (for tunnels and other Modal-only calls)."""
        return self._handle

    def _wait_until_ready(self, start_timeout: int) -> None:
        """Run ``true`` in the sandbox within ``start_timeout`` seconds, or raise."""
        outcome: dict[str, Any] = {}

        def probe() -> None:
            try:
                result = run_command(
                    self._handle, ["id", "-u"], env={}, workdir="/", limit=start_timeout
                )
                outcome["status"] = -1 if result.timed_out else result.returncode
                self._as_root = result.stdout.strip() == b"0"
            except BaseException as exc:  # noqa: BLE001 - reported below
                outcome["error"] = exc

        thread = threading.Thread(target=probe, daemon=True, name="cooperbench-modal-ready")
        thread.start()
        thread.join(start_timeout + 5)
        if thread.is_alive() or outcome.get("status", 0) == -1:
            raise SandboxError(
                f"Modal sandbox {self.id} did not start within {start_timeout}s "
                "(raise the start_timeout option if Modal is busy)"
            )
        error = outcome.get("error")
        if error is not None:
            raise SandboxError(
                f"Modal sandbox {self.id} did not start: {translate(error, 'first command')}"
            ) from error
        if outcome.get("status") != 0:
            raise SandboxError(
                f"Modal sandbox {self.id} cannot run commands (status {outcome.get('status')}); "
                "the image needs /bin/sh and id"
            )

    def _do_exec(
        self, args: list[str], *, timeout: float | None, env: dict[str, str], cwd: str | None
    ) -> ExecResult:
        workdir = posixpath.normpath(self.resolve(cwd)) if cwd else self.workdir

        def run(limit: float) -> ExecResult:
            with modal_errors(f"running {args[0]} in Modal sandbox {self.id}"):
                return run_command(
                    self._handle,
                    args,
                    env=env,
                    workdir=workdir,
                    limit=limit,
                    output_limit=self.output_limit,
                )

        return self._exec_within_lifetime(
            self._deadline, timeout, run, command=args[0], sandbox=f"Modal sandbox {self.id}"
        )

    def _do_write_file(self, path: str, data: bytes) -> None:
        _check_file_path(path)
        with modal_errors(f"writing {path} in Modal sandbox {self.id}"):
            self._handle.filesystem.write_bytes(data, path)

    def _do_write_files(self, files: dict[str, bytes]) -> None:
        """All files in one archive: one upload and one extracting command per call."""
        if len(files) == 1:
            ((path, data),) = files.items()
            self._do_write_file(path, data)
            return
        for path in files:
            _check_file_path(path)
        archive = f"{STAGING_DIR}/{self.id}-{time.monotonic_ns()}.tar"
        with modal_errors(f"writing {len(files)} files in Modal sandbox {self.id}"):
            self._handle.filesystem.write_bytes(pack_files(files), archive)
            status, stderr = run_quietly(self._handle, extract_command(archive))
        if status != 0:
            detail = stderr.decode("utf-8", errors="replace").strip().splitlines()
            raise SandboxError(
                f"could not unpack {len(files)} files in Modal sandbox {self.id} "
                f"(status {status}: {detail[-1] if detail else 'no message'}); "
                "the image needs tar"
            )

    def _do_read_file(self, path: str) -> bytes:
        with modal_errors(f"reading {path} from Modal sandbox {self.id}"):
            data = self._handle.filesystem.read_bytes(path)
        # Modal's file tool may read as root. A sandbox whose commands run as another
        # user must not see more through it than that user could: ask as that user.
        if not self._as_root:
            with modal_errors(f"checking access to {path} in Modal sandbox {self.id}"):
                status, _ = run_quietly(self._handle, ["/bin/sh", "-c", _READABLE, "sh", path])
            if status == 1:
                raise SandboxPermissionError(
                    f"the sandbox's user may not read {path} in Modal sandbox {self.id} "
                    "(check its mode, its owner and its parent directories)"
                )
            if status != 0:
                raise SandboxError(f"could not check access to {path} in sandbox {self.id}")
        return bytes(data)

    def _do_terminate(self) -> None:
        from modal import exception as modal_exc

        for attempt in range(TERMINATE_ATTEMPTS):
            try:
                self._handle.terminate()
                return
            except (modal_exc.NotFoundError, modal_exc.ConflictError):
                return  # already gone
            except Exception as exc:
                if is_transient(exc) and attempt + 1 < TERMINATE_ATTEMPTS:
                    time.sleep(BACKOFF_START * (2**attempt))
                    continue
                raise translate(exc, f"terminating Modal sandbox {self.id}") from exc


def _create_with_retries(
    request: SandboxRequest,
    settings: SandboxSettings,
    app: Any,
    command: Sequence[str],
    ports: Ports,
) -> Any:
    import modal
    from modal import exception as modal_exc

    lifetime = min(request.timeout, MAX_LIFETIME)
    image = modal.Image.from_registry(request.image).entrypoint([])
    rate = limiter(settings.creations_per_second)
    delay = BACKOFF_START
    for attempt in range(settings.create_retries + 1):
        rate.wait_for_slot()
        try:
            return modal.Sandbox.create(
                # The sandbox's own command ends with its lifetime too.
                *(command or ("sleep", str(lifetime))),
                app=app,
                image=image,
                timeout=lifetime,
                workdir=request.workdir,
                env=dict(request.env) or None,
                cpu=settings.cpu,
                memory=settings.memory_mib,
                block_network=not request.network,
                tags=dict(request.labels) or None,
                encrypted_ports=list(ports.encrypted),
                unencrypted_ports=list(ports.unencrypted),
            )
        except modal_exc.ImageBuildError as exc:
            raise SandboxError(_image_problem(request.image, exc)) from exc
        except Exception as exc:
            if is_transient(exc) and attempt < settings.create_retries:
                time.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX)
                continue
            tries = f" after {attempt + 1} attempts" if attempt else ""
            raise translate(exc, f"creating a Modal sandbox from {request.image}{tries}") from exc
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _image_problem(image: str, exc: BaseException) -> str:
    detail = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return (
        f"image {image} cannot be used on Modal ({detail or first_line(exc)}); check the name "
        "(--image-template) and that Modal can pull it from its registry"
    )


def _check_file_path(path: str) -> None:
    name = posixpath.basename(posixpath.normpath(path))
    if not name or name in ("..", "/") or path.endswith("/"):
        raise SandboxError(f"cannot write {path}: the path names a directory")
