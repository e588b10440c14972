#!/usr/bin/env python3
"""coop-msg: send and receive messages between the agents of a cooperbench run.

Usage (inside an agent sandbox)::

    coop-msg send <agent> <text...>     send a message to one agent ("-" reads stdin)
    coop-msg broadcast <text...>        send a message to every other agent
    coop-msg recv [--wait SECONDS]      take your pending messages (JSON, one per line)
    coop-msg peek                       show pending messages without taking them

The command reads ``COOPERBENCH_REDIS_URL`` (``redis://host:port[/db]#run:<run_id>``,
or ``rediss://`` for TLS), ``COOPERBENCH_AGENT_ID`` and ``COOPERBENCH_AGENTS``
(comma-separated agent ids). With ``rediss://`` the server's certificate is checked
against the system's CAs (``SSL_CERT_FILE`` names another CA file) and its host name.

This file is the single source of the wire format: cooperbench copies it verbatim into
sandboxes as the ``coop-msg`` command, and cooperbench's own client (on redis-py)
imports its URL parsing, key layout, message encoding and the commands of a delivery
from here. The small RESP2 client below is for the sandboxes, where nothing but the
standard library can be counted on. That is why this file uses the standard library
only, imports nothing from cooperbench, and stays compatible with Python 3.7 (task
images ship old interpreters).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import socket
import sys
import threading
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, NamedTuple, cast
from urllib.parse import quote, unquote, urlsplit

if TYPE_CHECKING:  # only for the type checker: these aliases need Python 3.10 at runtime
    #: A decoded reply: simple and bulk strings as ``str``, nil as ``None``.
    Reply = None | int | str | list["Reply"]
    #: A reply as read, where error replies are exception values.
    RawReply = None | int | str | Exception | list["RawReply"]
    Arg = str | bytes | int | float

DEFAULT_PORT = 6379
#: Seconds before a run's keys expire after their last write, so nothing outlives a run.
DEFAULT_TTL_SECONDS = 24 * 60 * 60
#: Seconds allowed to connect and for a non-blocking command's reply.
DEFAULT_IO_TIMEOUT = 10.0
RUN_FRAGMENT = "run:"
#: URL schemes: plain TCP, and TLS.
SCHEME = "redis"
TLS_SCHEME = "rediss"
# The "user:" of "//user:password@". Users paste raw passwords, which may hold "@", "/"
# or "#", so the password runs greedily to the last "@": hiding too much beats leaking.
_USERINFO_PASSWORD = re.compile(r"(//[^/@:]*:).*@")


# -- URLs and keys ---------------------------------------------------------------------


class RedisEndpoint(NamedTuple):
    """The parts of ``redis[s]://[[user]:password@]host:port[/db][#run:<run_id>]``.

    ``tls`` is true for ``rediss://``: the connection is TLS, with the server's
    certificate and host name checked.
    """

    host: str
    port: int
    db: int = 0
    username: str | None = None
    password: str | None = None
    run_id: str | None = None
    tls: bool = False


def parse_redis_url(url: str) -> RedisEndpoint:
    """Split a Redis URL; raise ``ValueError`` saying what is wrong with it."""
    parts = urlsplit(url.strip())
    shown = redact_url(url)  # error messages never show the password
    if parts.scheme not in (SCHEME, TLS_SCHEME):
        raise ValueError(
            f"unsupported Redis URL {shown!r}: expected redis://host:port[/db], or "
            "rediss:// for TLS (password as redis://:password@host:port)"
        )
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise ValueError(f"invalid port in Redis URL {shown!r}") from None
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise ValueError(f"invalid database {path!r} in Redis URL {shown!r}: expected a number")
    run_id = None
    if parts.fragment:
        if not parts.fragment.startswith(RUN_FRAGMENT) or len(parts.fragment) == len(RUN_FRAGMENT):
            raise ValueError(f"invalid namespace in Redis URL {shown!r}: expected #run:<run_id>")
        run_id = parts.fragment[len(RUN_FRAGMENT) :]
    return RedisEndpoint(
        host=parts.hostname or "localhost",
        port=port,
        db=int(path) if path else 0,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        run_id=run_id,
        tls=parts.scheme == TLS_SCHEME,
    )


def redact_url(url: str) -> str:
    """``url`` with the password of its user part, if any, replaced by ``***``."""
    return _USERINFO_PASSWORD.sub(r"\1***@", url)


def format_redis_url(endpoint: RedisEndpoint) -> str:
    """The URL of ``endpoint``; the database is left out when it is 0."""
    auth = ""
    if endpoint.username or endpoint.password is not None:
        auth = quote(endpoint.username or "", safe="")
        if endpoint.password is not None:
            auth += ":" + quote(endpoint.password, safe="")
        auth += "@"
    scheme = TLS_SCHEME if endpoint.tls else SCHEME
    url = f"{scheme}://{auth}{address(endpoint.host, endpoint.port)}"
    if endpoint.db:
        url += f"/{endpoint.db}"
    if endpoint.run_id:
        url += f"#{RUN_FRAGMENT}{endpoint.run_id}"
    return url


def address(host: str, port: int) -> str:
    """``host:port``, with IPv6 hosts in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def namespace(run_id: str) -> str:
    """The prefix of every key of run ``run_id``."""
    return f"{RUN_FRAGMENT}{run_id}:"


def inbox_key(run_id: str, agent_id: str) -> str:
    """The list holding ``agent_id``'s unread messages."""
    return f"{namespace(run_id)}{agent_id}:inbox"


def log_key(run_id: str) -> str:
    """The list recording every message sent in the run (for conversation.json)."""
    return f"{namespace(run_id)}messages"


# -- messages --------------------------------------------------------------------------


def encode_message(sender: str, recipient: str, content: str, timestamp: str = "") -> str:
    """The JSON text stored for one message: ``{"from", "to", "content", "timestamp"}``."""
    stamp = timestamp or datetime.now(timezone.utc).isoformat()
    body = {"from": sender, "to": recipient, "content": content, "timestamp": stamp}
    return json.dumps(body, ensure_ascii=False)


def decode_message(raw: str) -> dict[str, str]:
    """Read a stored message leniently: text that is not a message becomes its content.

    Leniency matters because a popped message is gone: raising would lose it.
    """
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return {"from": "", "to": "", "content": raw, "timestamp": ""}
    return {
        "from": str(body.get("from") or ""),
        "to": str(body.get("to") or ""),
        "content": str(body.get("content", "")),
        "timestamp": str(body.get("timestamp") or ""),
    }


# -- RESP2 client (for the sandboxes) -------------------------------------------------

#: Appended to connection errors: where the command's URL comes from.
HINT = "check COOPERBENCH_REDIS_URL"


class RedisUnreachableError(ConnectionError):
    """Redis cannot be reached, or the connection to it broke."""


class RedisReplyError(Exception):
    """Redis answered a command with an error reply."""


class RespConnection:
    """One connection to Redis speaking RESP2; safe to share between threads.

    A lock serializes whole request/reply exchanges, so replies never interleave. The
    connection opens lazily and reopens on the next command after it broke. A TLS
    endpoint is reached through ``ssl.create_default_context()``, which verifies the
    certificate (against ``SSL_CERT_FILE`` when set) and the host name.
    """

    def __init__(self, endpoint: RedisEndpoint, timeout: float = DEFAULT_IO_TIMEOUT) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._reader: _Reader | None = None
        self._float_timeouts = True

    # The public commands ------------------------------------------------------------

    def execute(self, *args: Arg, wait: float | None = 0.0) -> Reply:
        """Run one command and return its decoded reply.

        ``wait`` is how long the command may block server-side (for BLPOP): the reply
        is awaited that long plus the I/O timeout, or forever when ``None``.
        """
        return self.pipeline([args], wait=wait)[0]

    def pipeline(self, commands: Sequence[Sequence[Arg]], wait: float | None = 0.0) -> list[Reply]:
        """Send ``commands`` in one write and return their replies in order.

        Every reply is read before an error reply is raised, so the connection stays in
        step with the server.
        """
        payload = b"".join(_encode_command(command) for command in commands)
        with self._lock:
            replies = self._exchange(payload, len(commands), wait)
        for reply in replies:
            _raise_nested(reply)
        return cast("list[Reply]", replies)

    def blpop(self, key: str, wait: float | None) -> str | None:
        """Pop the head of ``key``, waiting up to ``wait`` seconds (``None``: forever)."""
        if wait is not None and wait <= 0:
            reply = self.execute("LPOP", key)
            return reply if isinstance(reply, str) else None
        seconds: Arg = 0 if wait is None else wait
        if wait is not None and not self._float_timeouts:
            seconds = whole_seconds(wait)
        try:
            reply = self.execute("BLPOP", key, seconds, wait=wait)
        except RedisReplyError as exc:
            if not self._float_timeouts or "timeout" not in str(exc):
                raise
            self._float_timeouts = False
            return self.blpop(key, wait)
        return reply[1] if isinstance(reply, list) and isinstance(reply[1], str) else None

    def close(self) -> None:
        """Close the socket; also wakes a thread blocked in :meth:`blpop`."""
        sock, self._sock, self._reader = self._sock, None, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def __enter__(self) -> RespConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # The wire -----------------------------------------------------------------------

    def _exchange(self, payload: bytes, count: int, wait: float | None) -> list[RawReply]:
        where = address(self.endpoint.host, self.endpoint.port)
        sock, reader = self._sock, self._reader
        if sock is None or reader is None:
            sock, reader = self._connect(where)
        try:
            sock.settimeout(None if wait is None else wait + self.timeout)
            sock.sendall(payload)
            return [reader.reply() for _ in range(count)]
        except (OSError, EOFError, ValueError) as exc:
            if self._sock is not sock:  # close() was called while this command waited
                raise RedisUnreachableError(f"connection to Redis at {where} was closed") from exc
            # A half-read reply would desynchronize every later command: start over.
            self.close()
            raise RedisUnreachableError(
                f"lost connection to Redis at {where}: {failure_reason(exc)}; {HINT}"
            ) from exc
        except BaseException:  # Ctrl-C mid-reply: same reason to drop the connection
            self.close()
            raise

    def _connect(self, where: str) -> tuple[socket.socket, _Reader]:
        try:
            sock = self._open_socket()
        except (OSError, ImportError) as exc:
            raise RedisUnreachableError(
                f"cannot reach Redis at {where}: {failure_reason(exc)}; {hint_for(exc, HINT)}"
            ) from exc
        reader = _Reader(sock)
        setup: list[tuple[Arg, ...]] = []
        if self.endpoint.password is not None:
            user = (self.endpoint.username,) if self.endpoint.username else ()
            setup.append(("AUTH", *user, self.endpoint.password))
        if self.endpoint.db:
            setup.append(("SELECT", self.endpoint.db))
        try:
            sock.sendall(b"".join(_encode_command(command) for command in setup))
            replies = [reader.reply() for _ in setup]
        except (OSError, EOFError, ValueError) as exc:
            sock.close()
            raise RedisUnreachableError(
                f"cannot reach Redis at {where}: {failure_reason(exc)}; {HINT}"
            ) from exc
        for reply in replies:
            if isinstance(reply, Exception):
                sock.close()
                raise RedisUnreachableError(f"cannot reach Redis at {where}: {reply}; {HINT}")
        self._sock, self._reader = sock, reader
        return sock, reader

    def _open_socket(self) -> socket.socket:
        host, port = self.endpoint.host, self.endpoint.port
        sock = socket.create_connection((host, port), timeout=self.timeout)
        # Messages are small and latency matters more than packet count.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not self.endpoint.tls:
            return sock
        try:
            import ssl  # only for rediss://: some minimal interpreters are built without it

            context = ssl.create_default_context()  # verifies certificate and host name
            return context.wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise


class _Reader:
    """Parses RESP2 replies from a socket's buffered stream."""

    def __init__(self, sock: socket.socket) -> None:
        self._stream = sock.makefile("rb")

    def reply(self) -> RawReply:
        """Read one reply; an error reply is *returned* as a :class:`RedisReplyError`."""
        line = self._stream.readline()
        if not line.endswith(b"\r\n"):
            raise EOFError("connection closed by the server")
        kind, body = line[:1], line[1:-2]
        if kind == b"+":
            return body.decode("utf-8", "replace")
        if kind == b":":
            return int(body)
        if kind == b"$":
            size = int(body)
            if size < 0:
                return None
            data = self._read_exact(size + 2)[:-2]
            return data.decode("utf-8", "replace")
        if kind == b"*":
            size = int(body)
            return None if size < 0 else [self.reply() for _ in range(size)]
        if kind == b"-":
            # An error value, not a raised one: the caller must finish reading first.
            return RedisReplyError(body.decode("utf-8", "replace"))
        raise EOFError(f"unexpected reply from Redis: {line[:40]!r}")

    def _read_exact(self, size: int) -> bytes:
        data = self._stream.read(size)
        if len(data) != size:
            raise EOFError("connection closed by the server")
        return data


def _encode_command(args: Sequence[Arg]) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, bytes):
            data = arg
        elif isinstance(arg, float):
            data = repr(arg).encode()
        else:
            data = str(arg).encode("utf-8")
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def _raise_nested(reply: RawReply) -> None:
    if isinstance(reply, Exception):
        raise reply
    if isinstance(reply, list):
        for item in reply:
            _raise_nested(item)


def whole_seconds(wait: float) -> int:
    """``wait`` rounded up: servers before Redis 6.0 take only whole BLPOP timeouts."""
    return int(wait) + (wait % 1 > 0)


def failure_reason(exc: BaseException) -> str:
    """Why a connection failed, in a few words (shared with cooperbench's own client)."""
    if isinstance(exc, ImportError):
        return "this Python has no ssl module, which rediss:// (TLS) needs"
    verify_message = getattr(exc, "verify_message", None)
    if verify_message:  # ssl.SSLCertVerificationError
        return f"TLS certificate verification failed: {verify_message}"
    if isinstance(exc, socket.timeout):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def hint_for(exc: BaseException, hint: str) -> str:
    """``hint``, plus what to do about an untrusted certificate when that was the failure."""
    if getattr(exc, "verify_message", None):
        return f"{hint}, or set SSL_CERT_FILE to the CA file that signed the server's certificate"
    return hint


# -- operations shared by coop-msg and cooperbench's client ----------------------------


def delivery_commands(
    run_id: str, deliveries: Sequence[tuple[str, str]], ttl: int = DEFAULT_TTL_SECONDS
) -> list[tuple[str, str, str | int]]:
    """The commands delivering ``(recipient, encoded message)`` pairs, to run in a transaction.

    Each message goes to its recipient's inbox and to the run's message log, and every
    push refreshes the keys' expiry. Both clients send exactly these, inside MULTI/EXEC,
    so both appear together.
    """
    commands: list[tuple[str, str, str | int]] = []
    for recipient, encoded in deliveries:
        key = inbox_key(run_id, recipient)
        commands += [("RPUSH", key, encoded), ("EXPIRE", key, ttl)]
        commands += [("RPUSH", log_key(run_id), encoded), ("EXPIRE", log_key(run_id), ttl)]
    return commands


def push_messages(
    conn: RespConnection,
    run_id: str,
    deliveries: Sequence[tuple[str, str]],
    ttl: int = DEFAULT_TTL_SECONDS,
) -> None:
    """Deliver ``(recipient, encoded message)`` pairs in one MULTI/EXEC transaction."""
    commands: list[Sequence[Arg]] = [("MULTI",)]
    commands += delivery_commands(run_id, deliveries, ttl)
    commands.append(("EXEC",))
    conn.pipeline(commands)


def pending_messages(conn: RespConnection, key: str) -> list[str]:
    """Every message in list ``key``, oldest first, without removing them."""
    reply = conn.execute("LRANGE", key, 0, -1)
    return [item for item in reply if isinstance(item, str)] if isinstance(reply, list) else []


# -- the command -----------------------------------------------------------------------


class _Settings(NamedTuple):
    endpoint: RedisEndpoint
    run_id: str
    agent_id: str
    agents: tuple[str, ...]
    ttl: int


def _settings() -> _Settings:
    url = os.environ.get("COOPERBENCH_REDIS_URL", "")
    agent_id = os.environ.get("COOPERBENCH_AGENT_ID", "")
    if not url or not agent_id:
        raise _UsageError(
            "COOPERBENCH_REDIS_URL and COOPERBENCH_AGENT_ID must be set; "
            "messaging is not enabled in this environment"
        )
    endpoint = parse_redis_url(url)
    if not endpoint.run_id:
        raise _UsageError("COOPERBENCH_REDIS_URL has no #run:<run_id> namespace")
    raw_agents = os.environ.get("COOPERBENCH_AGENTS", "")
    agents = tuple(name.strip() for name in raw_agents.split(",") if name.strip())
    ttl = int(os.environ.get("COOPERBENCH_MESSAGE_TTL") or DEFAULT_TTL_SECONDS)
    return _Settings(endpoint, endpoint.run_id, agent_id, agents, ttl)


class _UsageError(Exception):
    pass


def _text(words: Sequence[str]) -> str:
    text = " ".join(words)
    if text == "-":
        text = sys.stdin.read()
    if not text.strip():
        raise _UsageError("the message is empty")
    return text


def _send(conn: RespConnection, settings: _Settings, recipients: Sequence[str], text: str) -> None:
    stamp = datetime.now(timezone.utc).isoformat()
    deliveries = [(to, encode_message(settings.agent_id, to, text, stamp)) for to in recipients]
    push_messages(conn, settings.run_id, deliveries, settings.ttl)
    print("sent to " + ", ".join(recipients))


def _check_recipient(settings: _Settings, to: str) -> None:
    if to == settings.agent_id:
        raise _UsageError(f"you are {to}; send to another agent")
    if settings.agents and to not in settings.agents:
        others = ", ".join(a for a in settings.agents if a != settings.agent_id)
        raise _UsageError(f"unknown agent {to!r}; the other agents are: {others}")


def _print_messages(raw_messages: Sequence[str]) -> None:
    for raw in raw_messages:
        print(json.dumps(decode_message(raw), ensure_ascii=False))
    if not raw_messages:
        print("no messages", file=sys.stderr)


def _receive(conn: RespConnection, settings: _Settings, wait: float) -> list[str]:
    key = inbox_key(settings.run_id, settings.agent_id)
    first = conn.blpop(key, wait)
    if first is None:
        return []
    taken = [first]
    while True:  # then everything else already waiting, without blocking
        more = conn.blpop(key, 0)
        if more is None:
            return taken
        taken.append(more)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="coop-msg", description="Talk to the other agents working on this task."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    send = commands.add_parser("send", help="send a message to one agent")
    send.add_argument("to", help="the agent id, e.g. agent2")
    send.add_argument("text", nargs="+", help='the message ("-" reads it from stdin)')
    broadcast = commands.add_parser("broadcast", help="send a message to every other agent")
    broadcast.add_argument("text", nargs="+", help='the message ("-" reads it from stdin)')
    recv = commands.add_parser("recv", help="take pending messages (one JSON per line)")
    recv.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait up to SECONDS for a first message (default: do not wait)",
    )
    commands.add_parser("peek", help="show pending messages without taking them")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``coop-msg`` command; returns its exit status."""
    args = _parser().parse_args(argv)
    command: str = args.command
    try:
        settings = _settings()
        with RespConnection(settings.endpoint) as conn:
            if command == "send":
                to: str = args.to
                _check_recipient(settings, to)
                _send(conn, settings, [to], _text(args.text))
            elif command == "broadcast":
                others = [a for a in settings.agents if a != settings.agent_id]
                if not others:
                    raise _UsageError("COOPERBENCH_AGENTS names no other agent")
                _send(conn, settings, others, _text(args.text))
            elif command == "recv":
                wait: float = args.wait
                _print_messages(_receive(conn, settings, max(wait, 0.0)))
            else:
                key = inbox_key(settings.run_id, settings.agent_id)
                _print_messages(pending_messages(conn, key))
    except (_UsageError, ValueError) as exc:
        print(f"coop-msg: {exc}", file=sys.stderr)
        return 2
    except (RedisUnreachableError, RedisReplyError) as exc:
        print(f"coop-msg: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
