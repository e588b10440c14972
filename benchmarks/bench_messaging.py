"""Round-trip latency of agent messages: cooperbench's MessageClient vs raw redis-py.

One round trip: agent A sends a message to agent B, B (a separate process) receives it
and sends it back, A receives the echo. Three clients are measured on the same server,
interleaved in rounds so machine noise hits them alike:

- ``MessageClient``: the harness's client (transaction with inbox + run log + expiry,
  JSON decoding, on redis-py);
- ``redis-py, same commands``: redis-py doing exactly what MessageClient does, which
  separates the cost of the client from the cost of the extra Redis work;
- ``redis-py RPUSH/BLPOP``: the bare minimum (the published tool's approach).

Usage::

    python benchmarks/bench_messaging.py [--round-trips 2000] [--redis redis://host:port]

Without ``--redis`` a private redis-server is started through the local backend (or, with
no redis-server on ``PATH``, its embedded fallback).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from cooperbench.messaging import coop_msg
from cooperbench.messaging.client import MessageClient
from cooperbench.messaging.types import MessagingRequest
from cooperbench.messaging.url import RedisUrl

STOP = "__stop__"
PAYLOAD = "I take parser.py and the CLI flags; you take the docs. Ping me before touching cli.py."
ROUNDS = 4
WARMUP = 100


# -- one client kind each: (echo side running in B, ping side running in A) ------------


def echo_message_client(url: str, ready: Any) -> None:
    with MessageClient(url, "b") as b:
        ready.set()
        while (message := b.receive()) is not None and message.content != STOP:
            b.send("a", message.content)


def ping_message_client(url: str) -> Callable[[], None]:
    a = MessageClient(url, "a")

    def ping() -> None:
        a.send("b", PAYLOAD)
        a.receive()

    return ping


def _redis(url: str) -> Any:
    import redis

    parsed = RedisUrl.parse(url)
    return redis.Redis(host=parsed.host, port=parsed.port, db=parsed.db, password=parsed.password)


def _push_like_client(r: Any, url: RedisUrl, sender: str, to: str, content: str) -> None:
    encoded = coop_msg.encode_message(sender, to, content)
    pipe = r.pipeline(transaction=True)
    pipe.rpush(url.inbox_key(to), encoded).expire(url.inbox_key(to), 86400)
    pipe.rpush(url.log_key, encoded).expire(url.log_key, 86400)
    pipe.execute()


def echo_redis_py_same(url: str, ready: Any) -> None:
    r, parsed = _redis(url), RedisUrl.parse(url)
    ready.set()
    while True:
        _, raw = r.blpop(parsed.inbox_key("b"), 0)
        content = json.loads(raw)["content"]
        if content == STOP:
            return
        _push_like_client(r, parsed, "b", "a", content)


def ping_redis_py_same(url: str) -> Callable[[], None]:
    r, parsed = _redis(url), RedisUrl.parse(url)
    waiting = _redis(url)

    def ping() -> None:
        _push_like_client(r, parsed, "a", "b", PAYLOAD)
        json.loads(waiting.blpop(parsed.inbox_key("a"), 0)[1])

    return ping


def echo_redis_py_raw(url: str, ready: Any) -> None:
    r, parsed = _redis(url), RedisUrl.parse(url)
    ready.set()
    while True:
        _, raw = r.blpop(parsed.inbox_key("b"), 0)
        if STOP.encode() in raw:  # the stop request is a MessageClient message
            return
        r.rpush(parsed.inbox_key("a"), raw)


def ping_redis_py_raw(url: str) -> Callable[[], None]:
    r, parsed = _redis(url), RedisUrl.parse(url)
    encoded = coop_msg.encode_message("a", "b", PAYLOAD)

    def ping() -> None:
        r.rpush(parsed.inbox_key("b"), encoded)
        r.blpop(parsed.inbox_key("a"), 0)

    return ping


CLIENTS: dict[str, tuple[Callable[[str, Any], None], Callable[[str], Callable[[], None]]]] = {
    "MessageClient": (echo_message_client, ping_message_client),
    "redis-py, same commands": (echo_redis_py_same, ping_redis_py_same),
    "redis-py RPUSH/BLPOP": (echo_redis_py_raw, ping_redis_py_raw),
}


# -- measuring -------------------------------------------------------------------------


def measure(name: str, server: str, count: int) -> list[float]:
    """Microseconds of ``count`` round trips with client ``name`` on a fresh run."""
    echo, make_ping = CLIENTS[name]
    url = str(RedisUrl.parse(server).with_run(uuid.uuid4().hex[:8]))
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    peer = context.Process(target=echo, args=(url, ready), daemon=True)
    peer.start()
    try:
        if not ready.wait(30):
            raise RuntimeError(f"{name}: echo process did not start")
        ping = make_ping(url)
        for _ in range(WARMUP):
            ping()
        samples = []
        for _ in range(count):
            started = time.perf_counter_ns()
            ping()
            samples.append((time.perf_counter_ns() - started) / 1000)
        return samples
    finally:
        with MessageClient(url, "a") as stopper:
            stopper.send("b", STOP)
        peer.join(10)
        if peer.is_alive():
            peer.kill()


def percentile(samples: list[float], fraction: float) -> float:
    """The ``fraction`` quantile (inclusive method) of ``samples``."""
    return statistics.quantiles(samples, n=100, method="inclusive")[round(fraction * 100) - 1]


def report(results: dict[str, list[float]], server: str) -> str:
    """The results as a markdown table, ratios relative to raw redis-py."""
    baseline = statistics.median(results["redis-py RPUSH/BLPOP"])
    lines = [
        f"Round trips (A -> B -> A) per client: {len(next(iter(results.values())))}, "
        f"Redis at {RedisUrl.parse(server).address}, Python {sys.version.split()[0]}",
        "",
        "| client | median (µs) | p95 (µs) | median vs redis-py RPUSH/BLPOP |",
        "|---|---:|---:|---:|",
    ]
    for name, samples in results.items():
        median = statistics.median(samples)
        lines.append(
            f"| {name} | {median:.0f} | {percentile(samples, 0.95):.0f} | "
            f"{median / baseline:.2f}x |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--round-trips", type=int, default=2000)
    parser.add_argument("--redis", help="an existing server (default: start a private one)")
    args = parser.parse_args()
    with ExitStack() as stack:
        server = args.redis
        if server is None:
            from cooperbench.local.messaging import setup_local_messaging

            session = stack.enter_context(
                setup_local_messaging(MessagingRequest("bench", ("a", "b")))
            )
            server = session.redis_url.split("#", 1)[0]
        results: dict[str, list[float]] = {name: [] for name in CLIENTS}
        per_round = max(1, args.round_trips // ROUNDS)
        for _ in range(ROUNDS):
            for name in CLIENTS:
                results[name] += measure(name, server, per_round)
        print(report(results, server))


if __name__ == "__main__":
    main()
