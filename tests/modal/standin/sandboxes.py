"""Sandboxes: one Docker container each, with its lifetime, tags, execs and tunnels.

A sandbox ends exactly once, with the first of: its entrypoint exiting (SUCCESS or
FAILURE with the exit code), ``terminate`` (TERMINATED), or its lifetime passing
(TIMEOUT). Its container is then force-removed, which also kills every exec in it.
"""

from __future__ import annotations

import asyncio
import io
import logging
import tarfile
import threading
import time
from collections.abc import Collection
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import docker.errors
from modal_proto import api_pb2

from .engine import Instance
from .execs import Exec
from .ids import LABEL_APP, LABEL_SANDBOX, new_id, new_task_id
from .images import ImageSpec
from .tunnels import (
    SANDBOX_CA_BUNDLE,
    SANDBOX_CA_FILE,
    SYSTEM_BUNDLE,
    SandboxTunnels,
    TunnelCA,
)

logger = logging.getLogger(__name__)

GenericResult = api_pb2.GenericResult


class SandboxError(Exception):
    """A create request the stand-in refuses; ``kind`` names the gRPC status to answer."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class Sandbox:
    """What the stand-in knows of one sandbox."""

    sandbox_id: str
    app_id: str
    task_id: str
    created_at: float
    timeout_secs: int
    tags: dict[str, str] = field(default_factory=dict)
    container_id: str = ""
    container_ip: str = ""
    result: api_pb2.GenericResult | None = None
    finished_at: float = 0.0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    execs: dict[str, Exec] = field(default_factory=dict)
    tunnels: SandboxTunnels | None = None
    timer: asyncio.TimerHandle | None = None

    def info(self) -> api_pb2.SandboxInfo:
        """The sandbox as ``SandboxListV2`` describes it."""
        result = self.result or GenericResult()
        return api_pb2.SandboxInfo(
            id=self.sandbox_id,
            created_at=self.created_at,
            app_id=self.app_id,
            tags=[api_pb2.SandboxTag(tag_name=k, tag_value=v) for k, v in self.tags.items()],
            timeout_secs=self.timeout_secs,
            task_info=api_pb2.TaskInfo(
                id=self.task_id,
                sandbox_id=self.sandbox_id,
                started_at=self.created_at,
                finished_at=self.finished_at,
                result=result,
            ),
            tunnels=list(self.tunnels.tunnels.values()) if self.tunnels else [],
            metadata=self.metadata(),
        )

    def metadata(self) -> api_pb2.SandboxHandleMetadata:
        """The handle metadata the SDK hydrates a ``Sandbox`` object with."""
        return api_pb2.SandboxHandleMetadata(app_id=self.app_id, result=self.result)


def _env_of(sources: Any) -> dict[str, str]:
    env: dict[str, str] = {}
    for source in sources:
        if source.HasField("env"):
            env.update(source.env.contents)
        elif source.secret_id:
            raise SandboxError(
                "UNIMPLEMENTED", "the modal stand-in does not support named secrets (use env=)"
            )
    return env


def _ca_archive(ca_pem: bytes, system_bundle: bytes | None) -> bytes:
    """A tar with the CA, a bundle of the image's trust store plus the CA, and (when the
    image has a Debian trust store) that store with the CA appended."""
    bundle = (system_bundle or b"").rstrip(b"\n") + b"\n" + ca_pem if system_bundle else ca_pem
    files = {SANDBOX_CA_FILE: ca_pem, SANDBOX_CA_BUNDLE: bundle}
    if system_bundle is not None:
        files[SYSTEM_BUNDLE] = bundle
        files["/usr/local/share/ca-certificates/modal-standin.crt"] = ca_pem
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        directory = tarfile.TarInfo("etc/modal-standin")
        directory.type, directory.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(directory)
        for path, content in files.items():
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size, info.mode, info.mtime = len(content), 0o644, int(time.time())
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


class SandboxManager:
    """All sandboxes of this stand-in instance."""

    def __init__(self, instance: Instance, ca: TunnelCA, pool: Executor) -> None:
        self.instance = instance
        self.api = instance.api
        self.ca = ca
        self.pool = pool
        self.sandboxes: dict[str, Sandbox] = {}
        self.by_task: dict[str, Sandbox] = {}
        self._last_created = 0.0
        self._loop = asyncio.get_running_loop()

    async def _run(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        return await self._loop.run_in_executor(self.pool, lambda: func(*args, **kwargs))

    def get(self, sandbox_id: str) -> Sandbox | None:
        """The sandbox with that id, finished or not."""
        return self.sandboxes.get(sandbox_id)

    def by_task_id(self, task_id: str) -> Sandbox | None:
        """The sandbox running the task with that id."""
        return self.by_task.get(task_id)

    async def create(
        self,
        app_id: str,
        definition: api_pb2.Sandbox,
        image: ImageSpec,
        secret_sources: Any,
        tags: Any,
    ) -> Sandbox:
        """Create and start the container of a new sandbox, with its tunnels."""
        network = definition.network_access.network_access_type
        blocked = network == api_pb2.NetworkAccess.BLOCKED or definition.block_network
        if network == api_pb2.NetworkAccess.ALLOWLIST:
            raise SandboxError("UNIMPLEMENTED", "the modal stand-in does not support allowlists")
        ports = list(definition.open_ports.ports)
        if any(p.tunnel_type == api_pb2.TUNNEL_TYPE_H2 for p in ports):
            raise SandboxError("UNIMPLEMENTED", "the modal stand-in does not support h2_ports")
        env = {**image.env, "SSL_CERT_FILE": SANDBOX_CA_BUNDLE, **_env_of(secret_sources)}
        created_at = max(time.time(), self._last_created + 1e-6)  # unique: list pages by it
        self._last_created = created_at
        sandbox = Sandbox(
            sandbox_id=new_id("sb"),
            app_id=app_id,
            task_id=new_task_id(),
            created_at=created_at,
            timeout_secs=definition.timeout_secs,
            tags={t.tag_name: t.tag_value for t in tags},
        )
        labels = {
            **self.instance.labels,
            LABEL_SANDBOX: sandbox.sandbox_id,
            LABEL_APP: app_id,
        }
        resources = definition.resources
        host_config = self.api.create_host_config(
            network_mode="none" if blocked else self.instance.network_name,
            init=True,  # reaps what killed execs leave behind, so `ps` shows no zombies
            cpu_shares=max(2, resources.milli_cpu * 1024 // 1000) if resources.milli_cpu else None,
            nano_cpus=resources.milli_cpu_max * 1_000_000 if resources.milli_cpu_max else None,
            mem_reservation=f"{resources.memory_mb}m" if resources.memory_mb else None,
            mem_limit=f"{resources.memory_mb_max}m" if resources.memory_mb_max else None,
        )
        workdir = definition.workdir if definition.HasField("workdir") else image.workdir
        command = list(definition.entrypoint_args) or ["sleep", "infinity"]
        try:
            created = await self._run(
                self.api.create_container,
                image=image.ref,
                command=command,
                entrypoint=[""] if image.entrypoint == [] else image.entrypoint,
                environment=env,
                working_dir=workdir or None,
                labels=labels,
                host_config=host_config,
                name=f"modal-standin-{sandbox.sandbox_id}",
            )
            sandbox.container_id = created["Id"]
            self.sandboxes[sandbox.sandbox_id] = sandbox
            self.by_task[sandbox.task_id] = sandbox
            await self._install_ca(sandbox.container_id)
            await self._run(self.api.start, sandbox.container_id)
            inspected = await self._run(self.api.inspect_container, sandbox.container_id)
        except docker.errors.APIError as exc:
            await self._discard(sandbox)
            raise SandboxError(
                "FAILED_PRECONDITION", f"could not start the sandbox: {exc}"
            ) from exc
        networks = inspected["NetworkSettings"]["Networks"]
        sandbox.container_ip = (networks.get(self.instance.network_name) or {}).get("IPAddress", "")
        threading.Thread(target=self._wait_container, args=(sandbox,), daemon=True).start()
        if ports:
            try:
                sandbox.tunnels = await SandboxTunnels.open(
                    ports, sandbox.container_ip, self.ca, self.instance.gateway
                )
            except OSError as exc:
                await self._discard(sandbox)
                raise SandboxError("FAILED_PRECONDITION", f"could not open tunnels: {exc}") from exc
        if sandbox.timeout_secs:
            sandbox.timer = self._loop.call_later(
                sandbox.timeout_secs,
                lambda: asyncio.ensure_future(
                    self.finish(sandbox, GenericResult(status=GenericResult.GENERIC_STATUS_TIMEOUT))
                ),
            )
        logger.info("sandbox %s started (%s)", sandbox.sandbox_id, image.ref)
        return sandbox

    async def _install_ca(self, container_id: str) -> None:
        try:
            stream, _ = await self._run(self.api.get_archive, container_id, SYSTEM_BUNDLE)
            data = await self._run(lambda: b"".join(stream))
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                member = tar.next()
                extracted = tar.extractfile(member) if member and member.isfile() else None
                system_bundle = extracted.read() if extracted else None
        except docker.errors.NotFound:
            system_bundle = None
        await self._run(
            self.api.put_archive, container_id, "/", _ca_archive(self.ca.pem, system_bundle)
        )

    async def _discard(self, sandbox: Sandbox) -> None:
        self.sandboxes.pop(sandbox.sandbox_id, None)
        self.by_task.pop(sandbox.task_id, None)
        if sandbox.tunnels:
            await sandbox.tunnels.close()
        if sandbox.container_id:
            await self._remove_container(sandbox.container_id)

    def _wait_container(self, sandbox: Sandbox) -> None:
        """Thread: turn the entrypoint's own exit into the sandbox's result."""
        try:
            code = int(self.api.wait(sandbox.container_id, timeout=None)["StatusCode"])
        except (docker.errors.DockerException, OSError) as exc:
            # The container was removed under us: the sandbox has already finished.
            logger.debug("waiting for %s: %s", sandbox.sandbox_id, exc)
            return
        status = (
            GenericResult.GENERIC_STATUS_SUCCESS
            if code == 0
            else GenericResult.GENERIC_STATUS_FAILURE
        )
        result = GenericResult(status=status, exitcode=code)
        asyncio.run_coroutine_threadsafe(self.finish(sandbox, result), self._loop)

    async def finish(self, sandbox: Sandbox, result: api_pb2.GenericResult) -> None:
        """End the sandbox with ``result`` unless it already ended; remove its container."""
        if sandbox.result is not None:
            return
        sandbox.result = result
        sandbox.finished_at = time.time()
        if sandbox.timer is not None:
            sandbox.timer.cancel()
        for process in sandbox.execs.values():
            process.abandon()
        if sandbox.tunnels:
            await sandbox.tunnels.close()
        await self._remove_container(sandbox.container_id)
        sandbox.done.set()
        logger.info("sandbox %s finished with status %s", sandbox.sandbox_id, result.status)

    async def terminate(self, sandbox: Sandbox) -> api_pb2.GenericResult | None:
        """Terminate the sandbox; return its earlier result if it had already finished."""
        if sandbox.result is not None:
            await sandbox.done.wait()
            return sandbox.result
        await self.finish(sandbox, GenericResult(status=GenericResult.GENERIC_STATUS_TERMINATED))
        return None

    async def _remove_container(self, container_id: str) -> None:
        try:
            await self._run(self.api.remove_container, container_id, force=True, v=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            logger.warning("could not remove container %s: %s", container_id[:12], exc)

    def list(
        self, app_ids: Collection[str], tags: dict[str, str], before: float, include_finished: bool
    ) -> list[Sandbox]:
        """Sandboxes of the apps ``app_ids`` having at least ``tags``, newest first,
        created strictly before ``before`` (when non-zero)."""
        found = [
            s
            for s in self.sandboxes.values()
            if s.app_id in app_ids
            and (include_finished or s.result is None)
            and (not before or s.created_at < before)
            and all(s.tags.get(k) == v for k, v in tags.items())
        ]
        return sorted(found, key=lambda s: s.created_at, reverse=True)[:100]

    async def shutdown(self) -> None:
        """Terminate every sandbox still running."""
        running = [s for s in self.sandboxes.values() if s.result is None]
        await asyncio.gather(
            *(
                self.finish(s, GenericResult(status=GenericResult.GENERIC_STATUS_TERMINATED))
                for s in running
            ),
            return_exceptions=True,
        )
