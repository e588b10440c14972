"""A minimal Redis (RESP2) client that raises cooperbench's errors.

Core depends on nothing but attrs, click and pluggy, so it speaks the Redis protocol
itself. The protocol code lives in :mod:`cooperbench.messaging.coop_msg` (the file also
shipped into sandboxes as the ``coop-msg`` command); this module only maps its failures
onto :class:`~cooperbench.errors.MessagingConnectionError` and
:class:`~cooperbench.errors.MessagingError`.
"""

from __future__ import annotations

from typing import ClassVar

from cooperbench.errors import MessagingConnectionError, MessagingError
from cooperbench.messaging import coop_msg
from cooperbench.messaging.url import RedisUrl


class RedisConnection(coop_msg.RespConnection):
    """One thread-safe connection to Redis; see :class:`coop_msg.RespConnection`.

    Commands return decoded replies (strings as ``str``). An unreachable server, a bad
    password or a broken connection raises
    :class:`~cooperbench.errors.MessagingConnectionError`; an error reply raises
    :class:`~cooperbench.errors.MessagingError`.
    """

    unreachable_error: ClassVar[type[Exception]] = MessagingConnectionError
    reply_error: ClassVar[type[Exception]] = MessagingError
    hint: ClassVar[str] = "check --redis URL"

    def ping(self) -> None:
        """Raise unless the server answers PING."""
        reply = self.execute("PING")
        if reply != "PONG":
            where = coop_msg.address(self.endpoint.host, self.endpoint.port)
            raise MessagingConnectionError(
                f"cannot reach Redis at {where}: unexpected answer to PING ({reply!r}); {self.hint}"
            )


def connect(url: RedisUrl | str, timeout: float = coop_msg.DEFAULT_IO_TIMEOUT) -> RedisConnection:
    """Open a connection to ``url`` and check that it answers PING.

    Raises :class:`~cooperbench.errors.MessagingConnectionError` with the message
    ``cannot reach Redis at host:port: <reason>; check --redis URL`` when it does not.
    """
    parsed = RedisUrl.parse(url) if isinstance(url, str) else url
    connection = RedisConnection(parsed.endpoint, timeout=timeout)
    try:
        connection.ping()
    except BaseException:
        connection.close()
        raise
    return connection
