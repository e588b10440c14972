"""The harness's connections to Redis: redis-py, raising cooperbench's errors.

Everything in the harness process that talks to Redis (the message client, the run's
``conversation.json``, readiness checks of the servers a backend starts) goes through
:class:`RedisConnection`. It speaks RESP2, as the in-sandbox ``coop-msg`` does, so both
work with any Redis a user passes; ``rediss://`` URLs use redis-py's TLS, which checks
the server's certificate against the system's CAs (``SSL_CERT_FILE`` names another CA
file) and its host name. Failures become
:class:`~cooperbench.errors.MessagingConnectionError` (cannot reach, bad password, broken
connection) or :class:`~cooperbench.errors.MessagingError` (an error reply), in one line
that names the server as ``host:port`` and never shows a password.

redis-py is imported on the first connection, so importing this module stays cheap.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from cooperbench.errors import MessagingConnectionError, MessagingError
from cooperbench.messaging import coop_msg
from cooperbench.messaging.url import RedisUrl

if TYPE_CHECKING:
    import redis

#: Appended to connection errors: where the harness's Redis URL comes from.
HINT = "check --redis URL"


class RedisConnection:
    """Connections to one Redis server for the harness; safe to share between threads.

    ``timeout`` bounds connecting and every reply. A ``blocking`` connection is for
    commands that wait server-side (BLPOP): it holds one socket, its replies may take
    as long as the command waits, and :meth:`close` from another thread wakes it.
    Nothing is retried: a failure is reported at once, and a message is never pushed
    twice.
    """

    def __init__(
        self,
        url: RedisUrl | str,
        timeout: float = coop_msg.DEFAULT_IO_TIMEOUT,
        *,
        blocking: bool = False,
    ) -> None:
        self.url = RedisUrl.parse(url) if isinstance(url, str) else url
        self._closed = False
        self._float_timeouts = True
        with self._errors():  # a blocking client connects at once
            self._client = _open_client(self.url, timeout, blocking)

    def ping(self) -> None:
        """Raise :class:`~cooperbench.errors.MessagingConnectionError` unless PING works.

        An error reply counts as unreachable too: a server that refuses PING (not
        authenticated, still loading) cannot carry messages either.
        """
        try:
            answered = self.execute("PING")
        except MessagingConnectionError:
            raise
        except MessagingError as exc:
            raise self._unreachable(str(exc)) from exc
        if answered is not True:
            raise self._unreachable(f"unexpected answer to PING ({answered!r})")

    def execute(self, *args: str | int | float) -> Any:
        """Run one command and return redis-py's decoded reply (strings as ``str``)."""
        with self._errors():
            return self._client.execute_command(*args)  # type: ignore[no-untyped-call]

    def transaction(self, commands: Sequence[Sequence[str | int | float]]) -> list[Any]:
        """Run ``commands`` in one MULTI/EXEC transaction, sent in one write."""
        with self._errors(), self._client.pipeline(transaction=True) as pipe:
            for command in commands:
                pipe.execute_command(*command)  # type: ignore[no-untyped-call]
            return list(pipe.execute())

    def lrange(self, key: str) -> list[str]:
        """Every item of list ``key``, head first, without removing them."""
        reply = self.execute("LRANGE", key, 0, -1)
        return [item for item in reply if isinstance(item, str)] if reply else []

    def blpop(self, key: str, wait: float | None) -> str | None:
        """Pop the head of ``key``, waiting up to ``wait`` seconds (``None``: forever)."""
        if wait is not None and wait <= 0:
            reply = self.execute("LPOP", key)
            return reply if isinstance(reply, str) else None
        seconds: float = 0 if wait is None else wait
        if wait is not None and not self._float_timeouts:
            seconds = coop_msg.whole_seconds(wait)
        try:
            reply = self.execute("BLPOP", key, seconds)
        except MessagingConnectionError:
            raise
        except MessagingError as exc:
            if not self._float_timeouts or "timeout" not in str(exc):
                raise
            self._float_timeouts = False  # a server before 6.0: whole seconds only
            return self.blpop(key, wait)
        return reply[1] if reply and isinstance(reply[1], str) else None

    def close(self) -> None:
        """Close every connection; also wakes a thread blocked in :meth:`blpop`."""
        self._closed = True
        with contextlib.suppress(Exception):
            self._client.close()

    def __enter__(self) -> RedisConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn redis-py's exceptions into cooperbench's, in one line without secrets."""
        import redis

        where = self.url.address
        try:
            yield
        except redis.AuthenticationError as exc:  # a subclass of ConnectionError
            raise self._unreachable(str(exc)) from exc
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            if self._closed:
                raise MessagingConnectionError(
                    f"connection to Redis at {where} was closed"
                ) from exc
            raise self._unreachable(coop_msg.failure_reason(_cause(exc)), _cause(exc)) from exc
        except redis.RedisError as exc:  # an error reply, or a reply redis-py rejects
            raise MessagingError(str(exc) or type(exc).__name__) from exc

    def _unreachable(
        self, reason: str, cause: BaseException | None = None
    ) -> MessagingConnectionError:
        hint = HINT if cause is None else coop_msg.hint_for(cause, HINT)
        return MessagingConnectionError(
            f"cannot reach Redis at {self.url.address}: {reason.rstrip('.')}; {hint}"
        )


def _cause(exc: BaseException) -> BaseException:
    """The socket or TLS error behind a redis-py error (older redis-py chain it implicitly)."""
    if exc.__cause__ is not None:
        return exc.__cause__
    return exc.__context__ if isinstance(exc.__context__, OSError) else exc


def _open_client(url: RedisUrl, timeout: float, blocking: bool) -> redis.Redis:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    options: dict[str, Any] = {
        "host": url.host,
        "port": url.port,
        "db": url.db,
        "username": url.username,
        "password": url.password,
        # RESP2 like coop-msg: works with every server a user may pass, HELLO or not.
        "protocol": 2,
        "decode_responses": True,
        "encoding_errors": "replace",  # a stored message is never lost to bad bytes
        "socket_connect_timeout": timeout,
        # A BLPOP reply takes as long as the command waits; keepalive finds a dead peer.
        "socket_timeout": None if blocking else timeout,
        "socket_keepalive": blocking,
        "retry": Retry(NoBackoff(), 0),
        "single_connection_client": blocking,
    }
    if url.tls:
        # Verify the certificate (default CAs, or SSL_CERT_FILE) and the server's name.
        options.update(ssl=True, ssl_cert_reqs="required", ssl_check_hostname=True)
    return redis.Redis(**options)


def connect(url: RedisUrl | str, timeout: float = coop_msg.DEFAULT_IO_TIMEOUT) -> RedisConnection:
    """Open a connection to ``url`` and check that it answers PING.

    Raises :class:`~cooperbench.errors.MessagingConnectionError` with the message
    ``cannot reach Redis at host:port: <reason>; check --redis URL`` when it does not.
    """
    connection = RedisConnection(url, timeout)
    try:
        connection.ping()
    except BaseException:
        connection.close()
        raise
    return connection
