"""The ``gold`` agent: submits the reference patch of its feature(s), done for real.

It applies ``feature.patch`` in its sandbox's repository and submits ``git diff``
against the base commit, so the patch is genuine sandbox output. In coop it also does
what a well-behaved agent would: tells its partners which files it will change, reads
what they announce, and with a shared remote pushes its branch and fetches theirs.
That makes it a smoke test of the whole run machinery without a model.

Config keys (``--agent-config``): ``wait_seconds`` (default 20), how long to wait for
partners' announcements and branches.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from cooperbench.agents.steps import StepRecorder
from cooperbench.agents.types import ERROR, SUBMITTED, AgentResult, AgentTask
from cooperbench.sandbox_paths import SCRATCH_DIR

DEFAULT_WAIT_SECONDS = 20.0
_DIFF_HEADER = re.compile(r"^diff --git a/(\S+) b/(\S+)$", re.MULTILINE)
# Argument: a path left conflicted by `git apply --3way`. Rewrites it as the union of
# both sides from its index stages (stage 1, the base, is absent when both added it).
_UNION_RESOLVE = (
    'dir=$(mktemp -d) && { git show ":1:$1" > "$dir/base" 2>/dev/null || : > "$dir/base"; }'
    ' && git show ":2:$1" > "$dir/ours" && git show ":3:$1" > "$dir/theirs"'
    ' && { git merge-file --union "$dir/ours" "$dir/base" "$dir/theirs" || true; }'
    ' && cp "$dir/ours" "$1" && git add -- "$1" && rm -rf "$dir"'
)


def changed_files(patch: str) -> list[str]:
    """The files a unified git diff touches, in order."""
    return list(dict.fromkeys(match.group(2) for match in _DIFF_HEADER.finditer(patch)))


def run(task: AgentTask) -> AgentResult:
    """Apply the gold patch(es), coordinate with partners, and submit the diff."""
    steps = StepRecorder(task)
    wait = float(task.config.get("wait_seconds", DEFAULT_WAIT_SECONDS))
    patches = {fid: task.task.feature(fid).gold_patch_path.read_text() for fid in task.feature_ids}
    files = [name for text in patches.values() for name in changed_files(text)]
    sent = 0
    if task.messaging and task.partner_ids:
        sent = _announce(steps, task, files)
        _read_announcements(steps, task, wait)
    if task.git_url is not None:
        joined = steps.run("coop-git-setup", ".")
        if not joined.ok:
            return _error(steps, f"coop-git-setup failed: {joined.stderr_read().strip()}")
    for feature_id, text in patches.items():
        problem = _apply(steps, feature_id, text)
        if problem is not None:
            return _error(steps, problem)
    if task.git_url is not None:
        problem = _share_branch(steps, task, wait)
        if problem is not None:
            return _error(steps, problem)
    patch = steps.patch()
    return AgentResult(
        SUBMITTED, patch=patch, steps=steps.steps, trajectory=steps.trajectory, messages_sent=sent
    )


def _announce(steps: StepRecorder, task: AgentTask, files: list[str]) -> int:
    text = f"{task.agent_id} (feature {task.feature_id}) will change: {', '.join(files)}"
    done = steps.run("coop-msg", "broadcast", text)
    return len(task.partner_ids) if done.ok else 0


def _read_announcements(steps: StepRecorder, task: AgentTask, wait: float) -> None:
    """Take partners' messages until each partner has spoken or ``wait`` passes."""
    heard: set[str] = set()
    deadline = time.monotonic() + wait
    while heard < set(task.partner_ids) and not task.cancel.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            break
        done = steps.run("coop-msg", "recv", "--wait", f"{min(left, 5.0):.1f}")
        if not done.ok:
            break
        for line in done.stdout_read().splitlines():
            message: dict[str, Any] = json.loads(line)
            heard.add(str(message.get("from")))
            steps.note("message_received", **message)
    missing = sorted(set(task.partner_ids) - heard)
    if missing:
        steps.note("warning", text=f"no announcement from {', '.join(missing)} within {wait}s")


def _apply(steps: StepRecorder, feature_id: int, text: str) -> str | None:
    path = f"{SCRATCH_DIR}/gold-feature{feature_id}.patch"
    steps.task.sandbox.write_file(path, text)
    if steps.run("git", "apply", "--whitespace=nowarn", path).ok:
        return None
    # In solo an earlier gold patch may have touched the same lines (two features that
    # both append to one file). A three-way apply needs the index to match the tree,
    # so stage the earlier work first; the conflicts it leaves are resolved as a union,
    # keeping both sides, as evaluation merges the branches of a coop pair.
    steps.run("git", "add", "-A")
    merged = steps.run("git", "apply", "--3way", "--whitespace=nowarn", path)
    if merged.ok:
        return None
    conflicted = steps.run("git", "diff", "--name-only", "-z", "--diff-filter=U")
    paths = [name for name in conflicted.stdout_read().split("\0") if name]
    if not paths:
        return f"gold patch of feature {feature_id} does not apply: {merged.stderr_read().strip()}"
    for name in paths:
        if not steps.run("sh", "-c", _UNION_RESOLVE, "union-resolve", name).ok:
            return f"gold patch of feature {feature_id} conflicts in {name}"
    return None


def _share_branch(steps: StepRecorder, task: AgentTask, wait: float) -> str | None:
    """Commit, push this agent's branch to the team remote and fetch the partners'."""
    steps.run("git", "add", "-A")
    committed = steps.run(
        "git",
        "commit",
        "-q",
        "--no-verify",
        "--no-gpg-sign",
        "--allow-empty",
        "-m",
        f"{task.agent_id}: feature {task.feature_id} (gold)",
    )
    if not committed.ok:
        return f"git commit failed: {committed.stderr_read().strip()}"
    pushed = steps.run("git", "push", "-q", "team", task.agent_id)
    if not pushed.ok:
        return f"git push failed: {pushed.stderr_read().strip()}"
    wanted = {f"team/{partner}" for partner in task.partner_ids}
    seen: set[str] = set()
    deadline = time.monotonic() + wait
    while not task.cancel.is_set():
        if steps.run("git", "fetch", "-q", "team").ok:
            listed = steps.run("git", "branch", "-r", "--format=%(refname:short)")
            seen = set(listed.stdout_read().split())
        if wanted <= seen or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    steps.note("remote_branches", branches=sorted(seen))
    return None


def _error(steps: StepRecorder, message: str) -> AgentResult:
    return AgentResult(ERROR, steps=steps.steps, trajectory=steps.trajectory, error=message)
