"""The ``command`` agent: runs a shell command of the user's inside the sandbox.

``--agent-command "..."`` runs through ``sh -c`` in the repository with the task text in
the file named by ``COOPERBENCH_TASK_FILE`` and the ids and endpoints in the
environment (``COOPERBENCH_AGENT_ID``, ``COOPERBENCH_FEATURE_ID``, ``COOPERBENCH_MODEL``,
plus ``COOPERBENCH_REDIS_URL``, ``COOPERBENCH_AGENTS``, ``COOPERBENCH_GIT_URL`` and
``PATH`` with ``coop-msg`` when messaging is on). Whatever it changed, new files
included, is the patch. A non-zero exit is an ``Error``; running out of time is
``LimitsExceeded``. This is how any agent CLI can be benchmarked without a plugin.

The command's output goes to :data:`STDOUT_LOG` and :data:`STDERR_LOG` inside the
sandbox, so an agent that prints gigabytes costs the harness nothing; the trajectory
and the error message carry the end of each log, and the run copies the end of each
into the pair folder (``<stem>_stdout.log``, ``<stem>_stderr.log``).
"""

from __future__ import annotations

from cooperbench.agents.steps import StepRecorder, tail
from cooperbench.agents.types import (
    ERROR,
    LIMITS_EXCEEDED,
    SUBMITTED,
    AgentOptions,
    AgentResult,
    AgentTask,
)
from cooperbench.errors import UsageError
from cooperbench.sandbox_paths import SCRATCH_DIR

TASK_FILE = f"{SCRATCH_DIR}/task.md"
#: Where the command's standard output and error are written inside the sandbox.
STDOUT_LOG = f"{SCRATCH_DIR}/command.stdout.log"
STDERR_LOG = f"{SCRATCH_DIR}/command.stderr.log"
#: The logs handed to the run (file name in the pair folder, after the agent's stem).
LOGS = {"stdout.log": STDOUT_LOG, "stderr.log": STDERR_LOG}
#: Characters of the end of stderr quoted in the error of a failed command.
ERROR_TAIL = 2000


def check(options: AgentOptions) -> None:
    """Refuse to start a run without ``--agent-command``."""
    if not (options.command or "").strip():
        raise UsageError('the command agent needs --agent-command "..." (run via sh -c)')


def run(task: AgentTask) -> AgentResult:
    """Run the command and submit what it changed."""
    check(task.options)
    command = str(task.options.command)
    task.sandbox.write_file(TASK_FILE, task.task_text)
    env = {
        "COOPERBENCH_TASK_FILE": TASK_FILE,
        "COOPERBENCH_AGENT_ID": task.agent_id,
        "COOPERBENCH_FEATURE_ID": ",".join(str(f) for f in task.feature_ids),
        "COOPERBENCH_MODEL": task.model or "",
        "COOPERBENCH_SETTING": task.setting,
    }
    steps = StepRecorder(task)
    logged = steps.run_logged(
        "sh",
        "-c",
        command,
        stdout_log=STDOUT_LOG,
        stderr_log=STDERR_LOG,
        timeout=task.options.timeout,
        env=env,
    )
    done = logged.result
    patch = steps.patch()
    if done.timed_out:
        status, error = LIMITS_EXCEEDED, f"command ran out of its {task.options.timeout}s"
    elif done.returncode != 0:
        stderr = tail(logged.stderr.strip(), ERROR_TAIL) or "no output on stderr"
        status, error = ERROR, f"command exited with status {done.returncode}: {stderr}"
    else:
        status, error = SUBMITTED, None
    return AgentResult(
        status, patch=patch, steps=1, trajectory=steps.trajectory, error=error, logs=LOGS
    )
