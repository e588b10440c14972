"""Put the agents' collaboration commands into a sandbox.

``coop-msg`` (messages, see :mod:`cooperbench.messaging.coop_msg`) and
``coop-git-setup`` (joins the shared git remote) are written through the sandbox file
API into ``/tmp/cooperbench/bin``: a directory every backend can write, which the local
backend maps into the sandbox's private root. The caller passes the returned variables
to every command it runs for the agent.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources

from cooperbench.errors import MessagingError, UsageError
from cooperbench.messaging.coop_msg import redact_url
from cooperbench.messaging.types import MessagingSession
from cooperbench.sandbox import Sandbox
from cooperbench.sandbox_paths import TOOLS_DIR

MESSAGE_COMMAND = "coop-msg"
GIT_SETUP_COMMAND = "coop-git-setup"

REDIS_URL_VAR = "COOPERBENCH_REDIS_URL"
AGENT_ID_VAR = "COOPERBENCH_AGENT_ID"
AGENTS_VAR = "COOPERBENCH_AGENTS"
GIT_URL_VAR = "COOPERBENCH_GIT_URL"

# Installs both commands, says whether python3 is there, and reports the PATH the
# sandbox gives commands, so the returned PATH extends it instead of guessing. Then asks
# the agent's inbox through coop-msg itself (peek takes nothing), so a server this
# sandbox cannot reach is found before the agents start, not by agents that go quiet.
# It runs through python3 rather than as a program: executing a file just written can
# fail with "Text file busy" while a process forked meanwhile still holds it open.
_FINISH_SCRIPT = """
chmod 755 "$1" "$2" || exit 1
printf 'PATH=%s\\n' "$PATH"
command -v python3 >/dev/null 2>&1 || { echo python3=no; exit 0; }
echo python3=yes
problem=$(python3 "$1" peek 2>&1 >/dev/null) && echo reachable=yes && exit 0
printf 'reachable=%s\\n' "$(printf '%s' "$problem" | tail -n 1)"
"""


def install_tools(
    sandbox: Sandbox,
    session: MessagingSession,
    agent_id: str,
    agent_ids: Sequence[str],
    tools_dir: str = TOOLS_DIR,
) -> dict[str, str]:
    """Install ``coop-msg`` and ``coop-git-setup`` in ``sandbox`` for ``agent_id``.

    Returns the environment the agent's commands need: ``COOPERBENCH_REDIS_URL``,
    ``COOPERBENCH_AGENT_ID``, ``COOPERBENCH_AGENTS`` (comma separated),
    ``COOPERBENCH_GIT_URL`` when the run has a shared remote, and ``PATH`` with
    ``tools_dir`` in front. Raises :class:`~cooperbench.errors.MessagingError` when the
    sandbox has no ``python3``, which ``coop-msg`` needs, or cannot reach the session's
    Redis server (a test message-box read, before any agent starts).
    """
    if agent_id not in agent_ids:
        raise UsageError(f"agent {agent_id!r} is not one of the run's agents {list(agent_ids)}")
    message_path = f"{tools_dir.rstrip('/')}/{MESSAGE_COMMAND}"
    git_setup_path = f"{tools_dir.rstrip('/')}/{GIT_SETUP_COMMAND}"
    sandbox.write_files(
        {message_path: _packaged("coop_msg.py"), git_setup_path: _packaged("coop_git_setup.sh")}
    )
    env = {
        REDIS_URL_VAR: session.redis_url,
        AGENT_ID_VAR: agent_id,
        AGENTS_VAR: ",".join(agent_ids),
    }
    done = sandbox.exec(
        "sh", "-c", _FINISH_SCRIPT, "sh", message_path, git_setup_path, env=env, timeout=60
    )
    report = dict(line.split("=", 1) for line in done.stdout_read().splitlines() if "=" in line)
    if not done.ok or "PATH" not in report:
        raise MessagingError(
            f"could not install {MESSAGE_COMMAND} in sandbox {sandbox.id}: "
            f"{done.stderr_read().strip() or f'exit status {done.returncode}'}"
        )
    if report.get("python3") != "yes":
        raise MessagingError(
            f"{MESSAGE_COMMAND} needs python3 (3.7 or newer) in the sandbox, and the image "
            f"of sandbox {sandbox.id} has none; use an image with python3 or run without messaging"
        )
    if report.get("reachable") != "yes":
        raise MessagingError(
            f"sandbox {sandbox.id} cannot reach the run's Redis server "
            f"({redact_url(session.redis_url)}): {report.get('reachable') or 'no answer'}"
        )
    env["PATH"] = f"{tools_dir}:{report['PATH']}" if report["PATH"] else tools_dir
    if session.git_url:
        env[GIT_URL_VAR] = session.git_url
    return env


def _packaged(name: str) -> bytes:
    """A file shipped inside this package (works from a wheel or a source tree)."""
    return resources.files("cooperbench.messaging").joinpath(name).read_bytes()
