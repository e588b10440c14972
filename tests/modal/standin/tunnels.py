"""Tunnels: a sandbox port reachable from the host and from other sandboxes.

An unencrypted tunnel is the sandbox container's own address on the stand-in's network.
An encrypted tunnel is a TLS-terminating forwarder run by the stand-in on the network's
gateway address (the host side of the bridge), with a certificate from a CA the
stand-in makes at start. Clients trust that CA only through standard settings: the CA
file is handed to the tests (``SSL_CERT_FILE``) and installed into every sandbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from pathlib import Path

import trustme
from modal_proto import api_pb2

logger = logging.getLogger(__name__)

#: Where the CA goes inside a sandbox, and the bundle ``SSL_CERT_FILE`` points at there.
SANDBOX_CA_FILE = "/etc/modal-standin/ca.pem"
SANDBOX_CA_BUNDLE = "/etc/modal-standin/ca-bundle.pem"
#: The image's own trust store (Debian layout); the CA is appended to it when present.
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
#: Seconds a forwarder waits for the sandbox's port to accept a connection.
CONNECT_TIMEOUT = 10.0


class TunnelCA:
    """The stand-in's certificate authority and the server certificate tunnels present."""

    def __init__(self, directory: Path, hosts: list[str]) -> None:
        self.authority = trustme.CA(organization_name="modal stand-in")
        self.ca_file = directory / "modal-standin-ca.pem"
        self.authority.cert_pem.write_to_path(str(self.ca_file))
        certificate = self.authority.issue_cert(*hosts)
        self.server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        certificate.configure_cert(self.server_context)

    @property
    def pem(self) -> bytes:
        """The CA certificate in PEM form."""
        return self.authority.cert_pem.bytes()


class TlsForwarder:
    """Accepts TLS on ``listen_host`` and forwards plaintext to one sandbox port."""

    def __init__(self, context: ssl.SSLContext, listen_host: str, target: tuple[str, int]) -> None:
        self.context = context
        self.listen_host = listen_host
        self.target = target
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Start listening on a free port of ``listen_host``."""
        self._server = await asyncio.start_server(
            self._serve, self.listen_host, 0, ssl=self.context, ssl_handshake_timeout=10
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and cut the connections in flight."""
        if self._server is not None:
            self._server.close()
        for task in list(self._pipes):
            task.cancel()
        self._pipes.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.wait_for(
                asyncio.open_connection(*self.target), CONNECT_TIMEOUT
            )
        except (OSError, asyncio.TimeoutError) as exc:
            logger.info("tunnel to %s:%s refused: %s", *self.target, exc)
            writer.close()
            return
        pipes = [
            asyncio.create_task(_pipe(reader, upstream_writer)),
            asyncio.create_task(_pipe(upstream_reader, writer)),
        ]
        self._pipes.update(pipes)
        try:
            await asyncio.gather(*pipes, return_exceptions=True)
        finally:
            self._pipes.difference_update(pipes)
            for w in (writer, upstream_writer):
                w.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy bytes until EOF, then half-close the other side."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (OSError, ssl.SSLError):
        writer.close()


class SandboxTunnels:
    """The tunnels of one sandbox, by container port."""

    def __init__(self) -> None:
        self.tunnels: dict[int, api_pb2.TunnelData] = {}
        self.forwarders: list[TlsForwarder] = []

    @classmethod
    async def open(
        cls, ports: list[api_pb2.PortSpec], container_ip: str, ca: TunnelCA, gateway: str
    ) -> SandboxTunnels:
        """Open a TLS forwarder per port, and give unencrypted ports their raw address too."""
        opened = cls()
        try:
            for spec in ports:
                forwarder = TlsForwarder(ca.server_context, gateway, (container_ip, spec.port))
                await forwarder.start()
                opened.forwarders.append(forwarder)
                data = api_pb2.TunnelData(
                    host=gateway, port=forwarder.port, container_port=spec.port
                )
                if spec.unencrypted:
                    data.unencrypted_host, data.unencrypted_port = container_ip, spec.port
                opened.tunnels[spec.port] = data
        except BaseException:
            await opened.close()
            raise
        return opened

    async def close(self) -> None:
        """Close every forwarder of the sandbox."""
        for forwarder in self.forwarders:
            with contextlib.suppress(Exception):
                await forwarder.close()
        self.forwarders.clear()
