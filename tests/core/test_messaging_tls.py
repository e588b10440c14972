"""``rediss://``: a real redis-server serving TLS only, certificates made by trustme.

Both sides of messaging connect to it as they do in a run: ``MessageClient`` in this
process (redis-py's TLS) and ``coop-msg`` as a standalone subprocess (the standard
library's ``ssl``). Both check the certificate against ``SSL_CERT_FILE`` and the
server's name.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
import trustme

from cooperbench.errors import MessagingConnectionError
from cooperbench.messaging.client import MessageClient, conversation
from cooperbench.messaging.url import RedisUrl

PASSWORD = "tls-s3cret"
ROOT = Path(__file__).resolve().parents[2]
DATASET = ROOT / "examples" / "dataset"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@attrs.frozen
class TlsRedis:
    """A TLS-only redis-server on 127.0.0.1 and the CA files around it."""

    port: int
    ca_file: Path
    other_ca_file: Path

    def url(self, host: str = "127.0.0.1", password: str = PASSWORD) -> str:
        return f"rediss://:{password}@{host}:{self.port}#run:{uuid.uuid4().hex[:8]}"


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


def _answers_over_tls(port: int, ca_file: Path) -> bool:
    context = ssl.create_default_context(cafile=str(ca_file))
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=1) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as conn,
        ):
            conn.sendall(b"PING\r\n")
            return conn.recv(64).startswith((b"-NOAUTH", b"+PONG"))
    except OSError:
        return False


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsRedis]:
    binary = shutil.which("redis-server")
    if binary is None:
        _unavailable("redis-server is not installed (apt-get install redis-server)")
    assert binary is not None
    folder = tmp_path_factory.mktemp("tls-redis")
    ca = trustme.CA()
    # For the IP address only: connecting as "localhost" must fail the name check.
    server_cert = ca.issue_cert("127.0.0.1")
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    trustme.CA().cert_pem.write_to_path(str(folder / "other-ca.pem"))
    server_cert.private_key_pem.write_to_path(str(folder / "server.key"))
    server_cert.cert_chain_pems[0].write_to_path(str(folder / "server.pem"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    command = [binary, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1"]
    command += ["--tls-cert-file", str(folder / "server.pem")]
    command += ["--tls-key-file", str(folder / "server.key")]
    command += ["--tls-ca-cert-file", str(folder / "ca.pem"), "--tls-auth-clients", "no"]
    command += ["--requirepass", PASSWORD, "--save", "", "--appendonly", "no"]
    command += ["--dir", str(folder)]
    log = (folder / "redis.log").open("wb")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while not _answers_over_tls(port, folder / "ca.pem"):
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            output = (folder / "redis.log").read_text(errors="replace")[-2000:]
            _unavailable(f"redis-server does not serve TLS here: {output}")
        time.sleep(0.05)
    try:
        yield TlsRedis(port, folder / "ca.pem", folder / "other-ca.pem")
    finally:
        server.terminate()
        server.wait(10)
        log.close()


def coop(
    command: Path, url: str, agent: str, ca_file: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "COOPERBENCH_REDIS_URL": url,
        "COOPERBENCH_AGENT_ID": agent,
        "COOPERBENCH_AGENTS": "agent1,agent2",
        "SSL_CERT_FILE": str(ca_file),
    }
    return subprocess.run(
        [sys.executable, "-I", str(command), *args],  # -I: no cooperbench on sys.path
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_client_and_coop_msg_exchange_messages_over_tls(
    tls_redis: TlsRedis, coop_msg_script: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_redis.ca_file))
    url = tls_redis.url()
    assert RedisUrl.parse(url).tls
    with MessageClient(url, "agent1") as client:
        client.send("agent2", "over TLS")
        received = coop(coop_msg_script, url, "agent2", tls_redis.ca_file, "recv", "--wait", "5")
        assert received.returncode == 0, received.stderr
        assert '"content": "over TLS"' in received.stdout
        sent = coop(coop_msg_script, url, "agent2", tls_redis.ca_file, "send", "agent1", "back")
        assert sent.returncode == 0, sent.stderr
        reply = client.receive(5)
        assert reply is not None and (reply.sender, reply.content) == ("agent2", "back")
    entries = conversation(url, {"agent1": 1, "agent2": 2})
    assert [(e["from"], e["message"]) for e in entries] == [
        ("agent1", "over TLS"),
        ("agent2", "back"),
    ]


def test_the_tls_port_speaks_only_tls(tls_redis: TlsRedis, coop_msg_script: Path) -> None:
    plain = tls_redis.url().replace("rediss://", "redis://")
    with pytest.raises(MessagingConnectionError, match=r"^cannot reach Redis at 127\.0\.0\.1:"):
        MessageClient(plain, "agent1", timeout=3)
    done = coop(coop_msg_script, plain, "agent1", tls_redis.ca_file, "peek")
    assert done.returncode == 1 and done.stderr.startswith("coop-msg: ")


def test_an_untrusted_certificate_is_one_clear_line(
    tls_redis: TlsRedis, coop_msg_script: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_redis.other_ca_file))
    url = tls_redis.url()
    where = f"127.0.0.1:{tls_redis.port}"
    with pytest.raises(MessagingConnectionError) as caught:
        MessageClient(url, "agent1", timeout=5)
    shown = str(caught.value)
    assert shown.startswith(f"cannot reach Redis at {where}: TLS certificate verification failed: ")
    assert shown.endswith(
        "; check --redis URL, or set SSL_CERT_FILE to the CA file that signed the "
        "server's certificate"
    )
    done = coop(coop_msg_script, url, "agent1", tls_redis.other_ca_file, "peek")
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith(
        f"coop-msg: cannot reach Redis at {where}: TLS certificate verification failed: "
    )
    assert line.endswith(
        "check COOPERBENCH_REDIS_URL, or set SSL_CERT_FILE to the CA file "
        "that signed the server's certificate"
    )
    for text in (shown, done.stderr):
        assert "\n" not in text.strip() and PASSWORD not in text


def test_the_server_name_is_checked(
    tls_redis: TlsRedis, coop_msg_script: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The certificate names 127.0.0.1 only; "localhost" reaches the same server.
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_redis.ca_file))
    url = tls_redis.url(host="localhost")
    with pytest.raises(MessagingConnectionError, match="TLS certificate verification failed"):
        MessageClient(url, "agent1", timeout=5)
    done = coop(coop_msg_script, url, "agent1", tls_redis.ca_file, "peek")
    assert done.returncode == 1 and "TLS certificate verification failed" in done.stderr


def test_a_wrong_password_over_tls_is_a_connection_error(
    tls_redis: TlsRedis, coop_msg_script: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_redis.ca_file))
    url = tls_redis.url(password="wrong-one")
    with pytest.raises(MessagingConnectionError, match=r"^cannot reach Redis at 127\.0\.0\.1:"):
        MessageClient(url, "agent1", timeout=5)
    done = coop(coop_msg_script, url, "agent1", tls_redis.ca_file, "peek")
    assert done.returncode == 1 and "wrong-one" not in done.stderr


@pytest.mark.slow
def test_a_coop_run_with_a_rediss_url_records_the_conversation(
    tls_redis: TlsRedis, tmp_path: Path
) -> None:
    # The harness trusts the CA through its environment, the agents through --pass-env.
    url = tls_redis.url().split("#")[0]
    command = [sys.executable, "-c", "from cooperbench.cli.main import main; main()"]
    command += ["run", "-n", "tls", "-s", "flash", "--setting", "coop", "-a", "gold"]
    command += ["--backend", "local", "--dataset-dir", str(DATASET), "--no-auto-eval"]
    command += ["--log-dir", str(tmp_path), "--redis", url, "--pass-env", "SSL_CERT_FILE"]
    env = {**os.environ, "SSL_CERT_FILE": str(tls_redis.ca_file)}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    pair = tmp_path / "tls" / "coop" / "demo_textkit_task" / "0" / "f1_f2"
    result = json.loads((pair / "result.json").read_text())
    assert {r["status"] for r in result["agents"].values()} == {"Submitted"}
    chat = json.loads((pair / "conversation.json").read_text())
    assert sorted((m["from"], m["to"]) for m in chat) == [
        ("agent1", "agent2"),
        ("agent2", "agent1"),
    ]
    assert PASSWORD not in done.stdout + done.stderr
