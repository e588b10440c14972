"""MessageClient against a real redis-server and the embedded server, checked by reading
Redis directly."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime

import pytest

from cooperbench.errors import CooperbenchError, MessagingConnectionError, MessagingError
from cooperbench.local.embedded_redis import EmbeddedRedis
from cooperbench.messaging.client import Message, MessageClient, conversation, sort_by_time
from cooperbench.messaging.resp import RedisConnection, connect
from cooperbench.messaging.url import RedisUrl


@pytest.fixture(scope="module")
def embedded_server() -> Iterator[str]:
    """The embedded server the local backend falls back to without redis-server."""
    server = EmbeddedRedis.start("127.0.0.1")
    try:
        yield f"redis://{server.username}:{server.password}@127.0.0.1:{server.port}"
    finally:
        server.stop()


@pytest.fixture(params=["redis-server", "embedded"])
def server(request: pytest.FixtureRequest) -> str:
    """Each test of the client runs on a real redis-server and on the embedded server."""
    name = "redis_server" if request.param == "redis-server" else "embedded_server"
    return str(request.getfixturevalue(name))


@pytest.fixture
def run_url(server: str) -> str:
    """A fresh run namespace on the server."""
    return f"{server}#run:{uuid.uuid4().hex[:8]}"


@pytest.fixture
def redis(run_url: str) -> Iterator[RedisConnection]:
    """A raw connection, to look at what the client wrote."""
    with connect(run_url) as connection:
        yield connection


def test_send_pushes_the_published_json_to_the_recipient_inbox(
    run_url: str, redis: RedisConnection
) -> None:
    run_id = RedisUrl.parse(run_url).run_id
    with MessageClient(run_url, "agent1") as client:
        sent = client.send("agent2", "I take parser.py — ünïcode ok")
    stored = redis.execute("LRANGE", f"run:{run_id}:agent2:inbox", 0, -1)
    assert isinstance(stored, list) and len(stored) == 1
    body = json.loads(str(stored[0]))
    assert list(body) == ["from", "to", "content", "timestamp"]
    assert body["from"] == "agent1" and body["to"] == "agent2"
    assert body["content"] == "I take parser.py — ünïcode ok"
    assert datetime.fromisoformat(body["timestamp"]).tzinfo is not None
    assert body == sent.to_dict()
    # Nothing else is written apart from the run's message log.
    keys = redis.execute("KEYS", f"run:{run_id}:*")
    assert isinstance(keys, list)
    assert sorted(map(str, keys)) == [f"run:{run_id}:agent2:inbox", f"run:{run_id}:messages"]


def test_receive_is_fifo_and_consumes(run_url: str, redis: RedisConnection) -> None:
    with MessageClient(run_url, "agent1") as sender, MessageClient(run_url, "agent2") as receiver:
        for index in range(50):
            sender.send("agent2", f"m{index}")
        received = [receiver.receive(1) for _ in range(50)]
        assert [m.content for m in received if m] == [f"m{index}" for index in range(50)]
        assert receiver.receive(0) is None
    assert redis.execute("LLEN", RedisUrl.parse(run_url).inbox_key("agent2")) == 0


def test_receive_timeout_returns_none_promptly(run_url: str) -> None:
    with MessageClient(run_url, "agent1") as client:
        started = time.monotonic()
        assert client.receive(timeout=0.2) is None
        waited = time.monotonic() - started
        assert 0.15 <= waited < 1.0
        started = time.monotonic()
        assert client.receive(timeout=0) is None
        assert time.monotonic() - started < 0.5


def test_receive_without_timeout_waits_for_a_message(run_url: str) -> None:
    with MessageClient(run_url, "agent2") as receiver, MessageClient(run_url, "agent1") as sender:
        timer = threading.Timer(0.3, sender.send, args=("agent2", "late"))
        timer.start()
        started = time.monotonic()
        message = receiver.receive()
        timer.join()
    assert message is not None and message.content == "late"
    assert time.monotonic() - started >= 0.25


def test_blocked_receive_does_not_hold_up_send(run_url: str) -> None:
    with MessageClient(run_url, "agent1") as client, MessageClient(run_url, "agent2") as peer:
        got: list[Message | None] = []
        waiter = threading.Thread(target=lambda: got.append(client.receive(5)))
        waiter.start()
        time.sleep(0.1)  # let the receive block
        started = time.monotonic()
        client.send("agent2", "while waiting")
        assert time.monotonic() - started < 1.0
        peer.send("agent1", "wake up")
        waiter.join(5)
        assert got and got[0] is not None and got[0].content == "wake up"


def test_message_sent_before_the_recipient_connects_is_delivered(run_url: str) -> None:
    with MessageClient(run_url, "agent1") as early:
        early.send("agent2", "hello before you started")
    # Connecting (twice) never wipes the inbox.
    MessageClient(run_url, "agent2").close()
    with MessageClient(run_url, "agent2") as late:
        message = late.receive(1)
    assert message is not None and message.content == "hello before you started"


def test_keys_expire_after_the_run(run_url: str, redis: RedisConnection) -> None:
    url = RedisUrl.parse(run_url)
    with MessageClient(run_url, "agent1", ttl=120) as client:
        client.send("agent2", "x")
    for key in (url.inbox_key("agent2"), url.log_key):
        ttl = redis.execute("TTL", key)
        assert isinstance(ttl, int) and 0 < ttl <= 120


def test_broadcast_reaches_every_other_agent_only(run_url: str, redis: RedisConnection) -> None:
    url = RedisUrl.parse(run_url)
    agents = ["agent1", "agent2", "agent3"]
    with MessageClient(run_url, "agent1") as client:
        sent = client.broadcast("starting on the API", agents)
    assert [m.recipient for m in sent] == ["agent2", "agent3"]
    assert redis.execute("LLEN", url.inbox_key("agent1")) == 0
    for agent in ("agent2", "agent3"):
        stored = redis.execute("LRANGE", url.inbox_key(agent), 0, -1)
        assert isinstance(stored, list) and len(stored) == 1
        assert json.loads(str(stored[0]))["to"] == agent


def test_peek_does_not_consume(run_url: str) -> None:
    with MessageClient(run_url, "agent1") as sender, MessageClient(run_url, "agent2") as receiver:
        sender.send("agent2", "one")
        sender.send("agent2", "two")
        assert [m.content for m in receiver.peek()] == ["one", "two"]
        assert [m.content for m in receiver.peek()] == ["one", "two"]
        assert [m.content for m in receiver.receive_all()] == ["one", "two"]
        assert receiver.peek() == []


def test_message_log_and_conversation_are_sorted_by_time(run_url: str) -> None:
    with MessageClient(run_url, "agent1") as one, MessageClient(run_url, "agent2") as two:
        one.send("agent2", "first")
        two.send("agent1", "second")
        one.broadcast("third", ["agent1", "agent2"])
        assert [m.content for m in one.message_log()] == ["first", "second", "third"]
    entries = conversation(run_url, {"agent1": 1, "agent2": 3})
    assert entries[0] == {
        "from": "agent1",
        "to": "agent2",
        "message": "first",
        "timestamp": entries[0]["timestamp"],
        "feature_id": 1,
    }
    assert [(e["from"], e["feature_id"]) for e in entries] == [
        ("agent1", 1),
        ("agent2", 3),
        ("agent1", 1),
    ]


def test_sorting_accepts_published_naive_timestamps() -> None:
    late = Message("a", "b", "late", "2025-01-01T10:00:01")
    early = Message("a", "b", "early", "2025-01-01T10:00:00.5")
    odd = Message("a", "b", "odd", "not a time")
    assert [m.content for m in sort_by_time([odd, late, early])] == ["early", "late", "odd"]


def test_foreign_payloads_are_delivered_not_lost(run_url: str, redis: RedisConnection) -> None:
    redis.execute("RPUSH", RedisUrl.parse(run_url).inbox_key("agent2"), "plain text")
    with MessageClient(run_url, "agent2") as client:
        message = client.receive(0)
    assert message is not None and message.content == "plain text"


def test_unreachable_redis_is_one_clear_error(redis_server: str) -> None:
    with pytest.raises(MessagingConnectionError) as caught:
        MessageClient("redis://127.0.0.1:1#run:x", "agent1", timeout=2)
    message = str(caught.value)
    assert message.startswith("cannot reach Redis at 127.0.0.1:1: ")
    assert message.endswith("; check --redis URL")
    assert isinstance(caught.value, ConnectionError) and isinstance(caught.value, CooperbenchError)


def test_wrong_password_is_a_connection_error(redis_server: str) -> None:
    url = redis_server.replace("redis://", "redis://:wrong@") + "#run:x"
    with pytest.raises(MessagingConnectionError, match=r"cannot reach Redis at .*AUTH"):
        MessageClient(url, "agent1")


def test_error_replies_raise_and_keep_the_connection_usable(redis: RedisConnection) -> None:
    with pytest.raises(MessagingError, match="unknown command"):
        redis.execute("NO-SUCH-COMMAND")
    assert redis.execute("ECHO", "still in step") == "still in step"


def test_url_without_run_is_rejected(redis_server: str) -> None:
    with pytest.raises(CooperbenchError, match="names no run"):
        MessageClient(redis_server, "agent1")


def test_close_wakes_a_blocked_receive(run_url: str) -> None:
    client = MessageClient(run_url, "agent1")
    errors: list[BaseException] = []

    def wait_forever() -> None:
        try:
            client.receive()
        except MessagingConnectionError as exc:
            errors.append(exc)

    waiter = threading.Thread(target=wait_forever)
    waiter.start()
    time.sleep(0.2)
    client.close()
    waiter.join(5)
    assert not waiter.is_alive()
    assert errors and "was closed" in str(errors[0])
