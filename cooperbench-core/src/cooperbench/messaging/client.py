"""Agent-to-agent messages over Redis inboxes.

Each agent of a run has an inbox list ``run:<run_id>:<agent_id>:inbox``. Sending RPUSHes
the JSON ``{"from", "to", "content", "timestamp"}`` to the recipient's inbox; receiving
pops from the head of one's own inbox, so messages arrive in the order they were sent.
Nothing is ever cleared on connect: a message sent before its recipient starts waits
for it. Every sent message is also appended to ``run:<run_id>:messages``, the run's log
from which ``conversation.json`` is written, and every push refreshes the keys' expiry
so a run's keys disappear on their own after it ends.

The commands are sent through redis-py (:mod:`cooperbench.messaging.resp`); the key
layout, the message JSON and the commands of a delivery come from
:mod:`cooperbench.messaging.coop_msg`, the in-sandbox command, so both sides agree on
the wire format by construction.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from types import TracebackType
from typing import Any

import attrs

from cooperbench.errors import UsageError
from cooperbench.messaging import coop_msg
from cooperbench.messaging.resp import RedisConnection, connect
from cooperbench.messaging.types import MessagingSession
from cooperbench.messaging.url import RedisUrl

DEFAULT_TTL_SECONDS = coop_msg.DEFAULT_TTL_SECONDS


@attrs.frozen
class Message:
    """One message between agents; ``timestamp`` is ISO 8601 text, as stored."""

    sender: str
    recipient: str
    content: str
    timestamp: str

    @classmethod
    def from_json(cls, raw: str) -> Message:
        """Decode a stored message; text that is not one becomes the content."""
        body = coop_msg.decode_message(raw)
        return cls(body["from"], body["to"], body["content"], body["timestamp"])

    def to_dict(self) -> dict[str, str]:
        """The published wire form: ``{"from", "to", "content", "timestamp"}``."""
        return {
            "from": self.sender,
            "to": self.recipient,
            "content": self.content,
            "timestamp": self.timestamp,
        }

    def to_json(self) -> str:
        """The JSON text stored in Redis."""
        return coop_msg.encode_message(self.sender, self.recipient, self.content, self.timestamp)

    def conversation_entry(self, feature_id: int | None) -> dict[str, Any]:
        """This message as a ``conversation.json`` entry; ``feature_id`` is the sender's."""
        return {
            "from": self.sender,
            "to": self.recipient,
            "message": self.content,
            "timestamp": self.timestamp,
            "feature_id": feature_id,
        }

    @property
    def sent_at(self) -> datetime | None:
        """The timestamp as an aware datetime (naive ones are local time), if it parses."""
        try:
            moment = datetime.fromisoformat(self.timestamp)
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.astimezone()


def sort_by_time(messages: Iterable[Message]) -> list[Message]:
    """``messages`` oldest first; ties and unparseable timestamps keep their order."""

    def key(message: Message) -> float:
        moment = message.sent_at
        return moment.timestamp() if moment is not None else math.inf

    return sorted(messages, key=key)


class MessageClient:
    """Send and receive the messages of one agent in one run.

    ``url`` is the run's Redis URL (``redis://host:port[/db]#run:<run_id>``, or
    ``rediss://`` for TLS). The client
    connects at once, so a wrong URL fails here with
    :class:`~cooperbench.errors.MessagingConnectionError`. It is safe to use from several
    threads; a blocking :meth:`receive` uses its own connection so it never holds up
    :meth:`send`. Use it as a context manager or call :meth:`close`.
    """

    def __init__(
        self,
        url: str | RedisUrl,
        agent_id: str,
        *,
        ttl: int = DEFAULT_TTL_SECONDS,
        timeout: float = coop_msg.DEFAULT_IO_TIMEOUT,
    ) -> None:
        self.url = RedisUrl.parse(url) if isinstance(url, str) else url
        if not self.url.run_id:
            raise UsageError(
                f"Redis URL for {self.url.address} names no run; expected ...#run:<run_id>"
            )
        if not agent_id:
            raise UsageError("an agent id must not be empty")
        if ttl <= 0:
            raise UsageError(f"message expiry must be positive seconds, not {ttl}")
        self.agent_id = agent_id
        self.ttl = ttl
        self._run_id = self.url.run_id
        self._timeout = timeout
        self._commands = connect(self.url, timeout)
        # Opened on the first blocking receive: a BLPOP holds its connection.
        self._waiting: RedisConnection | None = None

    def send(self, to: str, content: str) -> Message:
        """Put ``content`` in ``to``'s inbox and the run's log; return what was sent."""
        return self._deliver([to], content)[0]

    def broadcast(self, content: str, agent_ids: Iterable[str]) -> list[Message]:
        """Send ``content`` to every agent in ``agent_ids`` except this one, atomically."""
        others = list(dict.fromkeys(a for a in agent_ids if a != self.agent_id))
        return self._deliver(others, content) if others else []

    def receive(self, timeout: float | None = None) -> Message | None:
        """Take the oldest message from this agent's inbox.

        ``timeout=None`` waits until a message arrives; ``timeout=0`` does not wait; a
        positive ``timeout`` waits up to that many seconds. Returns ``None`` when no
        message came in time.
        """
        key = self.url.inbox_key(self.agent_id)
        if timeout is not None and timeout <= 0:
            raw = self._commands.blpop(key, 0)  # LPOP: nothing to wait for
        else:
            raw = self._waiting_connection().blpop(key, timeout)
        return None if raw is None else Message.from_json(raw)

    def receive_all(self) -> list[Message]:
        """Take every message already waiting, oldest first, without blocking."""
        taken: list[Message] = []
        while (message := self.receive(0)) is not None:
            taken.append(message)
        return taken

    def peek(self) -> list[Message]:
        """The messages waiting in this agent's inbox, oldest first; nothing is removed."""
        raw = self._commands.lrange(self.url.inbox_key(self.agent_id))
        return [Message.from_json(item) for item in raw]

    def message_log(self) -> list[Message]:
        """Every message sent in this run so far, sorted by time."""
        return read_message_log(self._commands, self.url)

    def close(self) -> None:
        """Close the connections; wakes a thread blocked in :meth:`receive`."""
        self._commands.close()
        if self._waiting is not None:
            self._waiting.close()

    def __enter__(self) -> MessageClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _deliver(self, recipients: list[str], content: str) -> list[Message]:
        stamp = datetime.now(timezone.utc).isoformat()
        messages = [Message(self.agent_id, to, content, stamp) for to in recipients]
        deliveries = [(m.recipient, m.to_json()) for m in messages]
        self._commands.transaction(coop_msg.delivery_commands(self._run_id, deliveries, self.ttl))
        return messages

    def _waiting_connection(self) -> RedisConnection:
        if self._waiting is None:
            self._waiting = RedisConnection(self.url, self._timeout, blocking=True)
        return self._waiting


def read_message_log(connection: RedisConnection, url: RedisUrl) -> list[Message]:
    """Every message sent in ``url``'s run, sorted by time (for ``conversation.json``)."""
    raw = connection.lrange(url.log_key)
    return sort_by_time(Message.from_json(item) for item in raw)


def conversation(
    url: str | RedisUrl | MessagingSession, feature_ids: Mapping[str, int], timeout: float = 10.0
) -> list[dict[str, Any]]:
    """The run's ``conversation.json`` entries, sorted by time.

    ``url`` is best the session: its log is then read through the session's host-side
    URL, because the agents' one may not resolve outside their network. ``feature_ids`` maps agent ids to their feature; each entry carries its
    sender's.
    """
    if isinstance(url, MessagingSession):
        url = url.reader_url
    parsed = RedisUrl.parse(url) if isinstance(url, str) else url
    with connect(parsed, timeout) as connection:
        log = read_message_log(connection, parsed)
    return [message.conversation_entry(feature_ids.get(message.sender)) for message in log]
