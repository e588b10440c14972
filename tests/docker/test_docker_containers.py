"""What the Docker backend's containers look like: labels, network, limits, lifetime."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cooperbench import labels as cb_labels
from cooperbench.errors import SandboxTerminatedError, UsageError
from cooperbench.sandbox import Sandbox

pytestmark = pytest.mark.docker

MakeSandbox = Callable[..., Sandbox]


def host_config(api: Any, sandbox: Sandbox) -> dict[str, Any]:
    return dict(api.inspect_container(sandbox.id)["HostConfig"])


def test_container_carries_owner_and_request_labels(api: Any, make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(
        labels={cb_labels.RUN: "label-run", cb_labels.PURPOSE: "agent", "team.custom": "yes"}
    )
    labels = api.inspect_container(sandbox.id)["Config"]["Labels"]
    assert labels[cb_labels.MANAGED] == "true"
    assert labels[cb_labels.RUN] == "label-run"
    assert labels[cb_labels.PURPOSE] == "agent"
    assert labels[cb_labels.OWNER_PID] == str(os.getpid())
    assert labels[cb_labels.OWNER_HOST] == socket.gethostname()
    assert labels["team.custom"] == "yes"


def test_no_network_when_the_request_says_so(api: Any, make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(network=False)
    assert host_config(api, sandbox)["NetworkMode"] == "none"
    interfaces = sandbox.exec("ls", "/sys/class/net").stdout_read().split()
    assert interfaces == ["lo"]


def test_default_bridge_when_network_is_wanted(api: Any, make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(network=True)
    assert host_config(api, sandbox)["NetworkMode"] in ("bridge", "default")
    assert "eth0" in sandbox.exec("ls", "/sys/class/net").stdout_read().split()


@pytest.fixture
def user_network(api: Any) -> Iterator[str]:
    name = f"cooperbench-test-net-{uuid.uuid4().hex[:8]}"
    api.create_network(name, driver="bridge")
    try:
        yield name
    finally:
        api.remove_network(name)


def test_joins_a_named_network(api: Any, user_network: str, make_sandbox: MakeSandbox) -> None:
    # user_network comes first so that it is removed after the sandboxes on it.
    first = make_sandbox(options={"network": user_network})
    second = make_sandbox(options={"network": user_network})
    assert host_config(api, first)["NetworkMode"] == user_network
    members = api.inspect_network(user_network)["Containers"]
    assert {first.id, second.id} <= set(members)
    # Containers on a user-defined network reach each other by name.
    name = api.inspect_container(second.id)["Name"].lstrip("/")
    probe = first.exec("getent", "hosts", name)
    assert probe.ok, probe.stderr_read()


def test_default_resource_limits(api: Any, make_sandbox: MakeSandbox) -> None:
    config = host_config(api, make_sandbox())
    cpus = min(2.0, float(api.info()["NCPU"]))
    assert config["NanoCpus"] == int(cpus * 1e9)
    assert config["Memory"] == 4 * 1024**3
    assert config["PidsLimit"] == 1024
    assert config["Init"] is True
    assert config["AutoRemove"] is True


def test_resource_limits_from_options(api: Any, make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(options={"cpus": 0.5, "memory": "256m", "pids_limit": 64})
    config = host_config(api, sandbox)
    assert config["NanoCpus"] == 500_000_000
    assert config["Memory"] == 256 * 1024**2
    assert config["PidsLimit"] == 64


def test_bad_option_is_a_usage_error(make_sandbox: MakeSandbox) -> None:
    with pytest.raises(UsageError, match="memory"):
        make_sandbox(options={"memory": "lots"})
    with pytest.raises(UsageError, match="pids_limit"):
        make_sandbox(options={"pids_limit": "many"})
    with pytest.raises(UsageError, match="has no option 'cpu' \\(its options: build_args, cpus"):
        make_sandbox(options={"cpu": 1})


def test_more_cpus_than_the_engine_has_is_refused(api: Any, make_sandbox: MakeSandbox) -> None:
    too_many = int(api.info()["NCPU"]) + 1
    with pytest.raises(
        UsageError, match=f"{too_many} CPUs asked for, but the Docker engine's host"
    ):
        make_sandbox(options={"cpus": too_many})


def test_zero_removes_limits_and_text_values_are_typed(api: Any, make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(options={"cpus": "0", "memory": "0", "pids_limit": "0"})
    config = host_config(api, sandbox)
    assert config["NanoCpus"] == 0
    assert config["Memory"] == 0
    assert config["PidsLimit"] in (None, 0, -1)


def test_environment_and_workdir(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(env={"TASK_VAR": "base", "OTHER": "o"}, workdir="/work/dir")
    result = sandbox.exec("sh", "-c", 'echo "$TASK_VAR $OTHER"; pwd', env={"TASK_VAR": "exec"})
    assert result.stdout_read() == "exec o\n/work/dir\n"
    assert sandbox.exec("sh", "-c", 'echo "$TASK_VAR"').stdout_read() == "base\n"


def test_terminate_removes_the_container(
    make_sandbox: MakeSandbox, container_exists: Callable[[str], bool]
) -> None:
    sandbox = make_sandbox()
    assert container_exists(sandbox.id)
    sandbox.terminate()
    assert not container_exists(sandbox.id)
    sandbox.terminate()  # a second call does nothing


def test_container_ends_itself_after_its_lifetime(
    make_sandbox: MakeSandbox, container_exists: Callable[[str], bool]
) -> None:
    sandbox = make_sandbox(timeout=3)
    assert sandbox.exec("true").ok
    deadline = time.monotonic() + 15
    while container_exists(sandbox.id) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not container_exists(sandbox.id), "the container outlived its 3 s lifetime"
    late = sandbox.exec("true")
    assert late.timed_out and not late.ok
    sandbox.terminate()  # already gone: no error
    with pytest.raises(SandboxTerminatedError):
        sandbox.exec("true")


def test_missing_working_directory_is_a_clear_error(make_sandbox: MakeSandbox) -> None:
    from cooperbench.errors import SandboxError

    sandbox = make_sandbox()
    with pytest.raises(SandboxError, match="working directory /no/such/dir does not exist"):
        sandbox.exec("true", cwd="/no/such/dir")


def test_timeout_kills_processes_that_left_the_process_group(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox()
    script = "setsid sleep 300 & (sleep 301 &); nohup sleep 302 >/dev/null 2>&1 & sleep 303"
    started = time.monotonic()
    result = sandbox.exec("sh", "-c", script, timeout=2)
    assert result.timed_out and result.returncode == 137
    assert time.monotonic() - started < 15
    left = sandbox.exec("sh", "-c", "ps -eo args | grep -c '^sleep 30[0-3]' || true")
    assert left.stdout_read().strip() == "0"


def test_many_concurrent_commands(make_sandbox: MakeSandbox) -> None:
    from concurrent.futures import ThreadPoolExecutor

    sandbox = make_sandbox()
    with ThreadPoolExecutor(12) as pool:
        outputs = list(pool.map(lambda i: sandbox.exec("echo", str(i)).stdout_read(), range(40)))
    assert outputs == [f"{i}\n" for i in range(40)]
