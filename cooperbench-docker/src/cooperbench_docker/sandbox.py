"""The Docker sandbox: one container per sandbox, commands run through exec."""

from __future__ import annotations

import posixpath
import time
from typing import Any

from cooperbench.plugin import (
    ExecResult,
    SandboxBase,
    SandboxError,
    SandboxFileNotFoundError,
    SandboxIsADirectoryError,
    SandboxPermissionError,
    SandboxRequest,
)
from cooperbench_docker.archive import link_target, pack_files, unpack_entry
from cooperbench_docker.client import connect, docker_errors, explain, is_not_found
from cooperbench_docker.container import remove_container, start_container
from cooperbench_docker.execution import run_command, run_quietly
from cooperbench_docker.images import ensure_image, runs_as_root
from cooperbench_docker.options import ContainerSettings

_MAX_SYMLINKS = 16
# The directory bit of the file mode in the daemon's path stat (Go's os.ModeDir).
_MODE_DIR = 1 << 31
# Exits 1 when the container's user may not read "$1" (mode, owner, parent directories).
_READABLE = 'test -r "$1"'


class DockerSandbox(SandboxBase):
    """A container started from the request's image, stopped after its lifetime."""

    def __init__(
        self,
        api: Any,
        container_id: str,
        request: SandboxRequest,
        deadline: float,
        *,
        as_root: bool = True,
    ):
        super().__init__(container_id, request.workdir, output_limit=request.output_limit)
        self._api = api
        self._request = request
        self._deadline = deadline
        self._as_root = as_root

    @classmethod
    def create(cls, request: SandboxRequest) -> DockerSandbox:
        """Resolve (pull or build) the image, then start the container.

        Raises :class:`~cooperbench.errors.BackendUnavailableError` when the daemon
        cannot be used, :class:`~cooperbench.errors.UsageError` for a bad option, and
        :class:`~cooperbench.errors.SandboxError` for anything else.
        """
        settings = ContainerSettings.from_request(request)
        api = connect()
        try:
            started = time.monotonic()
            image = ensure_image(
                api, request.image, request.task_dir, settings.build_args, settings.pull
            )
            image_seconds = time.monotonic() - started
            container_id, deadline = start_container(api, request, settings)
        except BaseException:
            api.close()
            raise
        sandbox = cls(api, container_id, request, deadline, as_root=runs_as_root(image))
        sandbox.startup_timings["image"] = image_seconds
        sandbox.image_id = image.get("Id")
        return sandbox

    @property
    def short_id(self) -> str:
        """The first 12 characters of the container id, as ``docker ps`` shows it."""
        return self.id[:12]

    def _do_exec(
        self, args: list[str], *, timeout: float | None, env: dict[str, str], cwd: str | None
    ) -> ExecResult:
        workdir = self.resolve(cwd) if cwd else self.workdir

        def run(limit: float) -> ExecResult:
            with docker_errors(f"running {args[0]} in sandbox {self.short_id}"):
                return run_command(
                    self._api,
                    self.id,
                    args,
                    env=env,
                    workdir=workdir,
                    limit=limit,
                    output_limit=self.output_limit,
                )

        return self._exec_within_lifetime(
            self._deadline, timeout, run, command=args[0], sandbox=f"sandbox {self.short_id}"
        )

    def _do_write_file(self, path: str, data: bytes) -> None:
        parent, name = _split(path)
        self._put(parent, {name: data}, path)

    def _do_write_files(self, files: dict[str, bytes]) -> None:
        if self._as_root:
            # One transfer for all: the daemon creates missing parents as root, as
            # `mkdir -p` run by the container's (root) user would.
            from_root = {}
            for path, data in files.items():
                parent, name = _split(path)
                from_root[posixpath.join(parent, name).lstrip("/")] = data
            self._put("/", from_root, f"{len(files)} files")
            return
        # Parents must then belong to the container's user: one transfer per directory,
        # creating it with `mkdir -p` run as that user when it is missing.
        by_parent: dict[str, dict[str, bytes]] = {}
        for path, data in files.items():
            parent, name = _split(path)
            by_parent.setdefault(parent, {})[name] = data
        for parent, members in by_parent.items():
            self._put(parent, members, f"files in {parent}")

    def _put(self, parent: str, members: dict[str, bytes], what: str) -> None:
        payload = pack_files(members)
        with docker_errors(f"writing {what} in sandbox {self.short_id}"):
            try:
                self._api.put_archive(self.id, parent, payload)
            except Exception as exc:
                if not is_not_found(exc) or _container_gone(exc):
                    raise
                self._make_dirs(parent)
                self._api.put_archive(self.id, parent, payload)

    def _make_dirs(self, directory: str) -> None:
        status = run_quietly(self._api, self.id, ["mkdir", "-p", "--", directory])
        if status != 0:
            raise SandboxError(f"cannot create directory {directory} in sandbox {self.short_id}")

    def _do_read_file(self, path: str) -> bytes:
        data = self._read_archived(path)
        # The archive API reads as root. A container whose commands run as another user
        # must not see more through it than that user could: ask as that user.
        if not self._as_root:
            with docker_errors(f"checking access to {path} in sandbox {self.short_id}"):
                status = run_quietly(self._api, self.id, ["sh", "-c", _READABLE, "sh", path])
            if status == 1:
                raise SandboxPermissionError(
                    f"the sandbox's user may not read {path} in sandbox {self.short_id} "
                    "(check its mode, its owner and its parent directories)"
                )
            if status != 0:
                raise SandboxError(f"could not check access to {path} in sandbox {self.short_id}")
        return data

    def _read_archived(self, path: str) -> bytes:
        target = path
        for _ in range(_MAX_SYMLINKS):
            with docker_errors(f"reading {path} from sandbox {self.short_id}"):
                try:
                    chunks, stat = self._api.get_archive(self.id, target)
                    # Refused before the transfer: a directory's archive is its tree.
                    if int((stat or {}).get("mode", 0)) & _MODE_DIR:
                        raise SandboxIsADirectoryError(
                            f"{path} in sandbox {self.short_id} is a directory, not a file"
                        )
                    archive = b"".join(chunks)
                except Exception as exc:
                    if is_not_found(exc) and not _container_gone(exc):
                        raise SandboxFileNotFoundError(
                            f"no file {path} in sandbox {self.short_id}"
                        ) from exc
                    raise
            entry = unpack_entry(archive)
            if entry.kind == "file":
                return entry.data
            if entry.kind == "directory":
                raise SandboxIsADirectoryError(
                    f"{path} in sandbox {self.short_id} is a directory, not a file"
                )
            if entry.kind != "symlink":
                raise SandboxFileNotFoundError(
                    f"{path} in sandbox {self.short_id} is a {entry.kind}, not a file"
                )
            target = link_target(target, entry.link)
        raise SandboxError(f"too many levels of symbolic links at {path}")

    def _do_terminate(self) -> None:
        try:
            remove_container(self._api, self.id)
        finally:
            self._api.close()


def _split(path: str) -> tuple[str, str]:
    parent, name = posixpath.split(posixpath.normpath(path))
    if not name or name == "..":
        raise SandboxError(f"cannot write {path}: the path names a directory")
    return parent or "/", name


def _container_gone(exc: BaseException) -> bool:
    return "no such container" in explain(exc).lower()
