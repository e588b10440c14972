"""The agent Redis URL and the key layout of a run."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from cooperbench.errors import CooperbenchError, UsageError
from cooperbench.messaging import coop_msg
from cooperbench.messaging.url import RedisUrl


def test_full_url_round_trips() -> None:
    url = RedisUrl.parse("redis://redis.example:6380/2#run:1a2b3c4d")
    assert (url.host, url.port, url.db, url.run_id) == ("redis.example", 6380, 2, "1a2b3c4d")
    assert url.password is None
    assert str(url) == "redis://redis.example:6380/2#run:1a2b3c4d"


def test_defaults_and_database_zero_is_left_out() -> None:
    url = RedisUrl.parse("redis://")
    assert (url.host, url.port, url.db, url.run_id) == ("localhost", 6379, 0, None)
    assert str(RedisUrl.parse("redis://h:1/0#run:x")) == "redis://h:1#run:x"


def test_password_forms_and_escaping() -> None:
    url = RedisUrl.parse("redis://:p%40ss%3Aw@127.0.0.1:7000/1")
    assert (url.username, url.password) == (None, "p@ss:w")
    assert str(url) == "redis://:p%40ss%3Aw@127.0.0.1:7000/1"
    acl = RedisUrl.parse("redis://alice:secret@h:1")
    assert (acl.username, acl.password) == ("alice", "secret")
    assert "secret" not in repr(acl)


def test_rediss_means_tls_and_round_trips() -> None:
    url = RedisUrl.parse("rediss://:pw@redis.example:6380/1#run:ab")
    assert url.tls and (url.host, url.port, url.db, url.run_id) == ("redis.example", 6380, 1, "ab")
    assert str(url) == "rediss://:pw@redis.example:6380/1#run:ab"
    assert str(url.with_run("cd")) == "rediss://:pw@redis.example:6380/1#run:cd"
    assert url.endpoint.tls
    plain = RedisUrl.parse("redis://redis.example:6380")
    assert not plain.tls and not plain.endpoint.tls


def test_ipv6_host_keeps_its_brackets() -> None:
    url = RedisUrl.parse("redis://[::1]:6379#run:r")
    assert url.host == "::1"
    assert url.address == "[::1]:6379"
    assert str(url) == "redis://[::1]:6379#run:r"


def test_keys_are_namespaced_by_run() -> None:
    url = RedisUrl.parse("redis://h:1").with_run("abc")
    assert str(url) == "redis://h:1#run:abc"
    assert url.namespace == "run:abc:"
    assert url.inbox_key("agent2") == "run:abc:agent2:inbox"
    assert url.log_key == "run:abc:messages"


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("http://h:1", "expected redis://host:port[/db], or rediss:// for TLS"),
        ("redis+tls://h:1", "expected redis://host:port[/db]"),
        ("redis://h:notaport", "invalid port"),
        ("redis://h:1/db", "invalid database"),
        ("redis://h:1#ns:x", "expected #run:<run_id>"),
        ("redis://h:1#run:", "expected #run:<run_id>"),
    ],
)
def test_malformed_urls_are_usage_errors(raw: str, fragment: str) -> None:
    with pytest.raises(UsageError, match="check --redis URL") as caught:
        RedisUrl.parse(raw)
    assert fragment in str(caught.value)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, CooperbenchError)


def test_keys_need_a_run() -> None:
    with pytest.raises(UsageError, match="names no run"):
        _ = RedisUrl.parse("redis://h:1").inbox_key("agent1")


def test_coop_msg_is_standalone_and_runs_on_old_pythons() -> None:
    # The file is copied into task images as is: stdlib imports only, 3.7 syntax.
    source = Path(coop_msg.__file__).read_text(encoding="utf-8")
    tree = ast.parse(source, feature_version=(3, 7))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}
    assert source.startswith("#!/usr/bin/env python3\n")


def test_reprs_never_show_a_redis_password(tmp_path: Path) -> None:
    from cooperbench.agents.types import AgentOptions
    from cooperbench.messaging.types import MessagingSession
    from cooperbench.runs.config import RunConfig

    url = "redis://agent:s3cr3t@127.0.0.1:6390/1#run:ab12"
    session = MessagingSession(redis_url=url)
    config = RunConfig(
        run_name="r",
        run_id="ab12",
        setting="coop",
        agent="gold",
        options=AgentOptions(),
        backend="local",
        log_dir=tmp_path,
        redis_url=url,
    )
    for shown in (repr(session), repr(config)):
        assert "s3cr3t" not in shown
        assert "redis://agent:REDACTED@127.0.0.1:6390/1#run:ab12" in shown
    assert "redis://127.0.0.1:6390#run:x" in repr(MessagingSession("redis://127.0.0.1:6390#run:x"))
    assert session.redis_url == url  # only the repr is masked
