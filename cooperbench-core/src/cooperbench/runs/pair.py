"""Run the agents of one pair: messaging, one sandbox per agent, outputs.

Every resource is registered with the run's :class:`~cooperbench.runs.live.LiveResources`
as soon as it exists, so an interrupt tears it down even while an agent is busy; a pair
whose run was cancelled writes nothing, so it never looks finished.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import attrs

from cooperbench.agents.types import Agent, AgentResult, AgentTask
from cooperbench.dataset import Selection
from cooperbench.errors import INFRASTRUCTURE, AgentError, UsageError
from cooperbench.labels import owner_labels
from cooperbench.messaging.client import conversation
from cooperbench.messaging.install import install_tools
from cooperbench.messaging.types import MessagingRequest, MessagingSession
from cooperbench.plugin_manager import PluginManager
from cooperbench.runs.agent_logs import copy_logs
from cooperbench.runs.config import RunConfig
from cooperbench.runs.live import LiveResources
from cooperbench.runs.output import AgentSlot, agent_slots, clear_pair, pair_dir, write_pair
from cooperbench.sandbox import Sandbox, SandboxRequest
from cooperbench.sandbox_paths import REPO_DIR, WORKSPACE_DIR

# Room beyond the agent's own time limit for setup and patch extraction.
_LIFETIME_MARGIN = 600


@attrs.frozen
class PairOutcome:
    """What running one pair produced (``result`` is ``None`` when it was cancelled)."""

    selection: Selection
    folder: Path
    result: dict[str, Any] | None
    duration: float


@attrs.frozen
class PairRunner:
    """Runs pairs for one invocation; safe to use from several worker threads."""

    config: RunConfig
    agent: Agent
    plugins: PluginManager
    live: LiveResources
    cancel: threading.Event

    def run(self, selection: Selection) -> PairOutcome:
        """Run every agent of ``selection`` and write its outputs."""
        started, clock = _now(), time.monotonic()
        folder = pair_dir(self.config.run_dir, self.config.setting, selection)
        clear_pair(folder)
        slots = agent_slots(self.config.setting, selection.features)
        key = _pair_key(selection)
        chat: list[dict[str, Any]] | None = None
        chat_error: str | None = None
        with contextlib.ExitStack() as stack:
            try:
                session = self._messaging(selection, slots, stack)
            except UsageError:
                raise  # the run's settings cannot work on this backend: no pair can run
            except Exception as exc:  # noqa: BLE001 - the harness failed, not the agents
                reason = f"messaging could not start: {type(exc).__name__}: {exc}"
                failed = AgentResult.failed(reason, kind=INFRASTRUCTURE)
                results = [(slot, failed) for slot in slots]
                logs: dict[str, dict[str, Any]] = {}
            else:
                results, logs = self._run_agents(selection, slots, session, folder)
                if session is not None and not self.cancel.is_set():
                    chat, chat_error = _conversation(session, slots)
        if self.cancel.is_set():
            return PairOutcome(selection, folder, None, time.monotonic() - clock)
        header = {
            "repo": selection.task.repo,
            "task_id": selection.task.task_id,
            "features": list(selection.features),
            "setting": self.config.setting,
            "run_id": self.config.run_id,
            "run_name": self.config.run_name,
            "agent_framework": self.config.agent,
            "model": self.config.options.model,
            "messaging": self.config.uses_messaging,
            "git": self.config.uses_messaging and self.config.git,
            "started_at": started,
            "ended_at": _now(),
            "duration_seconds": round(time.monotonic() - clock, 3),
            "pair": key,
        }
        if chat_error is not None:
            header["conversation_error"] = chat_error
        document = write_pair(folder, self.config.setting, results, chat, header, logs)
        return PairOutcome(selection, folder, document, time.monotonic() - clock)

    def _messaging(
        self, selection: Selection, slots: list[AgentSlot], stack: contextlib.ExitStack
    ) -> MessagingSession | None:
        if not self.config.uses_messaging:
            return None
        # One namespace (and shared remote) per pair: every pair has an agent1.
        namespace = f"{self.config.run_id}-{selection.task.task_id}-" + "-".join(
            str(f) for f in selection.features
        )
        labels: Mapping[str, Any] = owner_labels(run=self.config.run_name, purpose="messaging")
        request = MessagingRequest(
            run_id=namespace,
            agent_ids=tuple(slot.agent_id for slot in slots),
            git=self.config.git,
            redis_url=self.config.redis_url,
            labels=labels,
            # The servers outlive the agents' sandboxes (reading the conversation comes
            # last), and no longer than that if the harness is killed.
            lifetime=self.config.options.timeout + 2 * _LIFETIME_MARGIN,
            options=self.config.sandbox_options,
        )
        session = self.plugins.setup_messaging(self.config.backend, request)
        stack.callback(self.live.add(session.close))
        return session

    def _run_agents(
        self,
        selection: Selection,
        slots: list[AgentSlot],
        session: MessagingSession | None,
        folder: Path,
    ) -> tuple[list[tuple[AgentSlot, AgentResult]], dict[str, dict[str, Any]]]:
        """Run the agents side by side; their results and their copied logs, by agent id."""
        results: dict[str, AgentResult] = {}
        logs: dict[str, dict[str, Any]] = {}
        threads = [
            threading.Thread(
                target=_capture(
                    results,
                    slot.agent_id,
                    self._agent_job(selection, slots, slot, session, folder, logs),
                ),
                name=f"cooperbench-{slot.agent_id}",
                daemon=True,
            )
            for slot in slots
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return [(slot, results[slot.agent_id]) for slot in slots], logs

    def _agent_job(
        self,
        selection: Selection,
        slots: list[AgentSlot],
        slot: AgentSlot,
        session: MessagingSession | None,
        folder: Path,
        logs: dict[str, dict[str, Any]],
    ) -> Callable[[], AgentResult]:
        def job() -> AgentResult:
            try:
                sandbox = self._sandbox(selection, slot, session)
            except Exception as exc:  # noqa: BLE001 - the harness failed, not the agent
                reason = f"the agent's sandbox could not start: {type(exc).__name__}: {exc}"
                return AgentResult.failed(reason, kind=INFRASTRUCTURE)
            close = self.live.add(sandbox.terminate)
            try:
                result = self._run_agent(selection, slots, slot, session, sandbox)
                if isinstance(result, AgentResult) and result.logs and not self.cancel.is_set():
                    # The logs live in the sandbox: copy their ends before it goes.
                    stem = slot.file_stem(self.config.setting)
                    logs[slot.agent_id] = copy_logs(sandbox, result.logs, folder, stem)
                return result
            finally:
                close()

        return job

    def _sandbox(
        self, selection: Selection, slot: AgentSlot, session: MessagingSession | None
    ) -> Sandbox:
        task = selection.task
        labels = owner_labels(run=self.config.run_name, purpose="agent")
        labels.update(
            {"cooperbench.pair": _pair_key(selection), "cooperbench.agent": slot.agent_id}
        )
        options: dict[str, Any] = dict(self.config.sandbox_options)
        if session is not None:
            options.update(session.sandbox_options)
        request = SandboxRequest(
            image=task.image(self.config.image_template),
            timeout=self.config.options.timeout + _LIFETIME_MARGIN,
            workdir=WORKSPACE_DIR,
            task_dir=task.path,
            network=True,
            env=self.config.agent_env,
            labels=labels,
            options=options,
        )
        return self.plugins.create_sandbox(self.config.backend, request)

    def _run_agent(
        self,
        selection: Selection,
        slots: list[AgentSlot],
        slot: AgentSlot,
        session: MessagingSession | None,
        sandbox: Sandbox,
    ) -> AgentResult:
        try:
            head = sandbox.exec("git", "rev-parse", "HEAD", cwd=REPO_DIR, timeout=60)
            problem = "" if head.ok else head.stderr_read().strip()
        except Exception as exc:  # noqa: BLE001 - a lost sandbox is the harness's failure
            head, problem = None, f"{type(exc).__name__}: {exc}"
        if head is None or not head.ok:
            reason = f"the base commit in {REPO_DIR} could not be read: {problem}"
            return AgentResult.failed(reason, kind=INFRASTRUCTURE)
        agent_ids = [s.agent_id for s in slots]
        # The user's variables first: the messaging tools' own must not be overridden.
        env: dict[str, str] = dict(self.config.agent_env)
        if session is not None:
            try:
                env.update(install_tools(sandbox, session, slot.agent_id, agent_ids))
            except Exception as exc:  # noqa: BLE001 - the harness failed, not the agent
                reason = f"the messaging tools could not be installed: {type(exc).__name__}: {exc}"
                return AgentResult.failed(reason, kind=INFRASTRUCTURE)
        texts = [selection.task.feature(fid).spec() for fid in slot.feature_ids]
        task = AgentTask(
            run_name=self.config.run_name,
            setting=self.config.setting,
            agent_id=slot.agent_id,
            feature_ids=slot.feature_ids,
            partner_ids=tuple(a for a in agent_ids if a != slot.agent_id),
            task_text="\n\n".join(texts),
            task=selection.task,
            sandbox=sandbox,
            base_commit=head.stdout_read().strip(),
            options=self.config.options,
            redis_url=session.redis_url if session is not None else None,
            git_url=session.git_url if session is not None else None,
            env=env,
            cancel=self.cancel,
        )
        return self.agent.run(task)


def _capture(
    results: dict[str, AgentResult], agent_id: str, job: Callable[[], AgentResult]
) -> Callable[[], None]:
    """Run ``job`` and store its result; any exception becomes an ``Error`` result."""

    def target() -> None:
        try:
            outcome = job()
            if not isinstance(outcome, AgentResult):
                raise AgentError(f"agent returned {type(outcome).__name__}, not AgentResult")
            results[agent_id] = outcome
        except Exception as exc:  # noqa: BLE001 - an agent's failure is its result
            results[agent_id] = AgentResult.failed(f"{type(exc).__name__}: {exc}")

    return target


def _conversation(
    session: MessagingSession, slots: list[AgentSlot]
) -> tuple[list[dict[str, Any]], str | None]:
    """The pair's messages; a backend whose bus the host cannot reach yields none."""
    feature_ids = {slot.agent_id: slot.feature_ids[0] for slot in slots}
    try:
        return conversation(session, feature_ids), None
    except Exception as exc:  # noqa: BLE001 - losing the log must not lose the patches
        return [], f"could not read the message log: {type(exc).__name__}: {exc}"


def _pair_key(selection: Selection) -> str:
    features = ",".join(str(f) for f in selection.features)
    return f"{selection.task.repo}/{selection.task.task_id}/{features}"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
