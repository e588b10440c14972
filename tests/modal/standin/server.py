"""The stand-in server: both gRPC services on one port, and the cleanup around them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from grpclib.server import Server

from .control import ControlPlane
from .engine import Instance, connect, reap_dead_instances
from .images import ImageStore
from .router import CommandRouter
from .sandboxes import SandboxManager
from .tunnels import TunnelCA

logger = logging.getLogger(__name__)


class Standin:
    """One stand-in instance: its Docker objects, its CA and its gRPC server."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, state_dir: Path | None = None
    ) -> None:
        self.host = host
        self.requested_port = port
        self.port = 0
        self.instance_id = secrets.token_hex(6)
        self.state_dir = state_dir or Path(tempfile.mkdtemp(prefix="modal-standin-"))
        self.instance: Instance | None = None
        self.sandboxes: SandboxManager | None = None
        self.ca: TunnelCA | None = None
        self._server: Server | None = None
        # Docker calls block; execs and sandboxes can be many, so the pool is generous.
        self._pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="standin-docker")

    @property
    def url(self) -> str:
        """What ``MODAL_SERVER_URL`` must say to reach this instance."""
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Sweep dead instances' leftovers, create the network and CA, and start serving."""
        loop = asyncio.get_running_loop()
        api = connect()
        await loop.run_in_executor(self._pool, reap_dead_instances, api, self.instance_id)
        self.instance = Instance(self.instance_id, api)
        await loop.run_in_executor(self._pool, self.instance.create_network)
        self.ca = TunnelCA(self.state_dir, [self.instance.gateway])
        self.sandboxes = SandboxManager(self.instance, self.ca, self._pool)
        control = ControlPlane(self.sandboxes, ImageStore(api), router_port=0)
        self._server = Server([control, CommandRouter(self.sandboxes)])
        await self._server.start(self.host, self.requested_port)
        sockets = self._server._server.sockets  # grpclib exposes no public accessor
        self.port = control.router_port = sockets[0].getsockname()[1]
        logger.info("modal stand-in %s serving on %s", self.instance_id, self.url)

    def description(self) -> dict[str, Any]:
        """What a client needs to know, as written to the ready file."""
        return {
            "url": self.url,
            "host": self.host,
            "port": self.port,
            "instance_id": self.instance_id,
            "ca_file": str(self.ca.ca_file) if self.ca else "",
            "network": self.instance.network_name if self.instance else "",
            "pid": os.getpid(),
        }

    async def stop(self) -> None:
        """Remove every sandbox, container and the network; stop serving."""
        if self.sandboxes is not None:
            await self.sandboxes.shutdown()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 5)
        if self.instance is not None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._pool, self.instance.remove_all)
        self._pool.shutdown(wait=False, cancel_futures=True)
        logger.info("modal stand-in %s stopped", self.instance_id)


def write_ready_file(path: Path, content: dict[str, Any]) -> None:
    """Write the ready file atomically, so a reader never sees half of it."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(content))
    partial.replace(path)


async def serve(standin: Standin, ready_file: Path | None = None) -> None:
    """Run ``standin`` until SIGINT or SIGTERM, then clean up everything it made."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, stop.set)
    try:
        await standin.start()
        if ready_file is not None:
            write_ready_file(ready_file, standin.description())
        print(json.dumps(standin.description()), flush=True)
        await stop.wait()
    finally:
        await standin.stop()
