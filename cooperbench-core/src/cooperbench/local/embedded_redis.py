"""A Redis-compatible server inside the harness process, for machines without redis-server.

The ``local`` backend falls back to it when no ``redis-server`` is on ``PATH`` and the
user passed no ``--redis``. It is fakeredis's TCP server (``fakeredis.TcpFakeServer``):
a maintained, pure-Python implementation of the Redis commands, served over real TCP
sockets, so ``coop-msg`` in the sandboxes and the harness's redis-py client talk to it
exactly as to a real Redis. It serves from threads of this process: it stops when the
run's messaging is torn down, and with the process if the harness dies.

fakeredis accepts any password for its default user, so access is checked through its
ACLs instead: the default user is switched off and one user, :data:`USERNAME`, gets
the generated password. A client that does not authenticate, or gets the password
wrong, is refused as by a real Redis.
"""

from __future__ import annotations

import secrets
import threading
from typing import TYPE_CHECKING

import attrs

from cooperbench.errors import MessagingError
from cooperbench.messaging.resp import RedisConnection
from cooperbench.messaging.url import RedisUrl

if TYPE_CHECKING:
    import fakeredis

#: The one user allowed in.
USERNAME = "cooperbench"
#: Seconds the server gets to stop serving on teardown.
_STOP_SECONDS = 5.0


@attrs.define
class EmbeddedRedis:
    """A running embedded server: where it listens and the credentials it accepts."""

    host: str
    port: int
    username: str
    password: str = attrs.field(repr=False)
    _server: fakeredis.TcpFakeServer = attrs.field(repr=False)
    _thread: threading.Thread = attrs.field(repr=False)

    @classmethod
    def start(cls, host: str) -> EmbeddedRedis:
        """Serve on a free port of ``host`` (a loopback address) until :meth:`stop`.

        Raises :class:`~cooperbench.errors.MessagingError` when fakeredis is missing or
        cannot serve.
        """
        try:
            import fakeredis
        except ImportError as exc:
            raise MessagingError(
                "no redis-server on PATH and the embedded Redis-compatible server "
                f"(fakeredis) cannot be loaded ({exc}); install redis-server "
                "(apt-get install redis-server), reinstall cooperbench-core, or pass --redis URL"
            ) from exc
        password = secrets.token_urlsafe(24)
        try:
            server = fakeredis.TcpFakeServer((host, 0))
        except OSError as exc:
            raise MessagingError(
                f"the embedded Redis-compatible server cannot listen on {host}: {exc}"
            ) from exc
        # Handler threads must not keep a finished harness alive; stop() ends them.
        server.daemon_threads = True
        port = int(server.server_address[1])
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"embedded-redis-{port}",
            daemon=True,
        )
        thread.start()
        embedded = cls(host, port, USERNAME, password, server, thread)
        try:
            _require_password(RedisUrl(host, port), password)
        except BaseException:
            embedded.stop()
            raise
        return embedded

    def stop(self) -> None:
        """Stop serving and close every connection; calling it twice does nothing."""
        if self._thread.is_alive():
            self._server.shutdown()  # also tells each connection's thread to finish
            self._thread.join(_STOP_SECONDS)
        self._server.server_close()


def _require_password(url: RedisUrl, password: str) -> None:
    """Let in only :data:`USERNAME` with ``password``, through the server's ACL commands.

    Sent over TCP like any client's commands, before anyone else knows the port.
    """
    with RedisConnection(url) as admin:
        admin.execute("ACL", "SETUSER", USERNAME, "on", f">{password}", "~*", "&*", "+@all")
        # Last: this connection is the default user's and loses its access here.
        admin.execute("ACL", "SETUSER", "default", "off")
