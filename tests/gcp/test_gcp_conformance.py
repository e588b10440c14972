"""The sandbox contract on gcp: each sandbox a one-task Batch job of the stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cooperbench.testing import SandboxConformance

pytestmark = pytest.mark.docker


class TestGcpConformance(SandboxConformance):
    backend = "gcp"
    image = "cooperbench/base:latest"

    @pytest.fixture(autouse=True)
    def _on_the_standins(self, gcp_env: Any) -> Iterator[None]:
        yield


def test_messaging_uses_the_users_redis_in_the_runs_namespace() -> None:
    from cooperbench.messaging.types import MessagingRequest
    from cooperbench.plugin_manager import PluginManager

    plugins = PluginManager.discover(disabled=())
    request = MessagingRequest(
        run_id="run-1", agent_ids=("agent1", "agent2"), redis_url="redis://10.0.0.5:6379/0"
    )
    with plugins.setup_messaging("gcp", request) as session:
        assert session.redis_url == "redis://10.0.0.5:6379#run:run-1"


@pytest.mark.parametrize(
    ("redis_url", "git", "says"),
    [
        (None, False, "needs --redis URL"),
        ("redis://10.0.0.5:6379/0", True, "--git is not available"),
    ],
)
def test_messaging_without_redis_or_with_git_is_refused(
    redis_url: str | None, git: bool, says: str
) -> None:
    from cooperbench.messaging.types import MessagingRequest
    from cooperbench.plugin import UsageError
    from cooperbench.plugin_manager import PluginManager

    plugins = PluginManager.discover(disabled=())
    request = MessagingRequest(
        run_id="run-1", agent_ids=("agent1", "agent2"), git=git, redis_url=redis_url
    )
    with pytest.raises(UsageError, match=says):
        plugins.setup_messaging("gcp", request)
