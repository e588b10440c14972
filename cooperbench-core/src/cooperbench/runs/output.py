"""The files a run writes, in the published logs layout, every one atomically.

``<log_dir>/<run>/<setting>/<repo>/<task_id>/f<a>_f<b>/`` holds ``result.json`` (written
last: a folder counts as a finished pair only once it exists), the patches, the
trajectories, the ends of the agents' logs and, in coop, ``conversation.json``.
``config.json`` and ``summary.json``
sit at the run root; the summary is recomputed from every ``result.json`` of the run,
so it covers all invocations.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from cooperbench.agents.types import ERROR, AgentResult
from cooperbench.atomic import write_json_atomic, write_text_atomic
from cooperbench.dataset import Selection
from cooperbench.errors import INFRASTRUCTURE, LogsError
from cooperbench.logs import EVAL_FILE, RESULT_FILE, discover
from cooperbench.runs.agent_logs import LOG_SUFFIX

SUMMARY_FILE = "summary.json"
CONFIG_FILE = "config.json"


@attrs.frozen
class AgentSlot:
    """One agent of a pair: its id and the features it implements."""

    agent_id: str
    feature_ids: tuple[int, ...]

    def file_stem(self, setting: str) -> str:
        """``agent<fid>`` in coop (files are named by feature id), ``solo`` in solo."""
        return "solo" if setting == "solo" else f"agent{self.feature_ids[0]}"


def agent_slots(setting: str, features: Sequence[int]) -> list[AgentSlot]:
    """``agent1``.. in feature order (agent1 has the smallest id); one ``solo`` agent."""
    ordered = tuple(sorted(features))
    if setting == "solo":
        return [AgentSlot("solo", ordered)]
    return [AgentSlot(f"agent{index}", (fid,)) for index, fid in enumerate(ordered, start=1)]


def pair_dir(run_dir: Path, setting: str, selection: Selection) -> Path:
    """The folder of one pair in the published layout."""
    name = "_".join(f"f{fid}" for fid in sorted(selection.features))
    task = selection.task
    return run_dir / setting / task.repo / str(task.task_id) / name


def read_result(folder: Path) -> dict[str, Any] | None:
    """A pair's result.json, or ``None`` when it is missing or unreadable."""
    try:
        data = json.loads((folder / RESULT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def agent_entries(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The agent records of a result.json, coop (``agents``) or solo (``agent``)."""
    if isinstance(result.get("agents"), dict):
        return [a for a in result["agents"].values() if isinstance(a, dict)]
    single = result.get("agent")
    return [single] if isinstance(single, dict) else []


def infrastructure_errors(result: Mapping[str, Any]) -> list[str]:
    """The errors of agents the harness failed (``error_kind`` infrastructure)."""
    return [
        str(entry.get("error") or "infrastructure error")
        for entry in agent_entries(result)
        if entry.get("error_kind") == INFRASTRUCTURE
    ]


def is_finished(folder: Path) -> bool:
    """True when the pair has a result.json and no agent of it ended in ``Error``.

    An infrastructure error always counts as unfinished, whatever the agent's status.
    """
    result = read_result(folder)
    if result is None or infrastructure_errors(result):
        return False
    return all(entry.get("status") != ERROR for entry in agent_entries(result))


def clear_pair(folder: Path) -> None:
    """Remove an earlier attempt, result.json first so it never looks finished."""
    for name in (RESULT_FILE, EVAL_FILE):
        (folder / name).unlink(missing_ok=True)
    if folder.is_dir():
        for stale in folder.iterdir():
            if stale.is_file() and stale.suffix in (".patch", ".json", LOG_SUFFIX):
                stale.unlink(missing_ok=True)


def agent_record(
    slot: AgentSlot,
    result: AgentResult,
    setting: str,
    logs: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One agent's entry of result.json (``logs``: what :func:`copy_logs` copied)."""
    record: dict[str, Any] = {"agent_id": slot.agent_id}
    if setting == "solo":
        record["feature_ids"] = list(slot.feature_ids)
    else:
        record["feature_id"] = slot.feature_ids[0]
    record.update(
        {
            "status": result.status,
            "cost": result.cost,
            "steps": result.steps,
            "input_tokens": result.input_tokens,
            "output_tokens": result.output_tokens,
            "patch_lines": len(result.patch.splitlines()),
            "messages_sent": result.messages_sent,
            "error": result.error,
            "error_kind": result.error_kind,
        }
    )
    if logs:
        record["logs"] = dict(logs)
    return record


def write_pair(
    folder: Path,
    setting: str,
    results: Sequence[tuple[AgentSlot, AgentResult]],
    conversation: list[dict[str, Any]] | None,
    header: Mapping[str, Any],
    logs: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Write patches, trajectories, conversation and (last) result.json; return it.

    ``logs`` (by agent id) records the agents' logs already copied into ``folder``.
    """
    for slot, result in results:
        stem = slot.file_stem(setting)
        write_text_atomic(folder / f"{stem}.patch", result.patch)
        trajectory = {
            "agent_id": slot.agent_id,
            "feature_ids": list(slot.feature_ids),
            "status": result.status,
            "error": result.error,
            "trajectory": result.trajectory,
        }
        write_json_atomic(folder / f"{stem}_traj.json", trajectory)
    if setting == "coop":
        write_json_atomic(folder / "conversation.json", conversation or [])
    copied = logs or {}
    records = {
        slot.agent_id: agent_record(slot, r, setting, copied.get(slot.agent_id))
        for slot, r in results
    }
    document = dict(header)
    if setting == "solo":
        document["agent"] = next(iter(records.values()))
    else:
        document["agents"] = records
    document.update(
        {
            "total_cost": round(sum(r.cost for _, r in results), 6),
            "total_steps": sum(r.steps for _, r in results),
            "messages_sent": len(conversation or []),
            "log_dir": str(folder),
        }
    )
    write_json_atomic(folder / RESULT_FILE, document)
    return document


def write_summary(log_dir: Path, run_name: str) -> dict[str, Any]:
    """Recompute summary.json from every result.json of the run and write it."""
    statuses: dict[str, int] = {}
    rows = []
    total_cost, total_steps, messages = 0.0, 0, 0
    for pair in discover(log_dir, run_name):
        if pair.flat:
            continue
        try:
            result = pair.result()
        except LogsError as exc:  # another pair's broken file must not end this run
            rows.append(_unreadable_row(pair.key, pair.setting, str(exc)))
            continue
        agents = agent_entries(result)
        for entry in agents:
            status = str(entry.get("status"))
            statuses[status] = statuses.get(status, 0) + 1
        total_cost += float(result.get("total_cost") or 0)
        total_steps += int(result.get("total_steps") or 0)
        messages += int(result.get("messages_sent") or 0)
        rows.append(
            {
                "run": pair.key,
                "setting": pair.setting,
                "statuses": [entry.get("status") for entry in agents],
                "finished": not infrastructure_errors(result)
                and all(entry.get("status") != ERROR for entry in agents),
            }
        )
    summary = {
        "run_name": run_name,
        "total_pairs": len(rows),
        "finished_pairs": sum(1 for row in rows if row["finished"]),
        "pairs_with_errors": sum(1 for row in rows if not row["finished"]),
        "by_setting": {s: sum(1 for r in rows if r["setting"] == s) for s in ("coop", "solo")},
        "agent_statuses": dict(sorted(statuses.items())),
        "total_cost": round(total_cost, 6),
        "total_steps": total_steps,
        "messages_sent": messages,
        "pairs": rows,
    }
    write_json_atomic(log_dir / run_name / SUMMARY_FILE, summary)
    return summary


def _unreadable_row(key: str, setting: str, error: str) -> dict[str, Any]:
    """A summary row for a pair whose result.json cannot be read (it runs again)."""
    return {"run": key, "setting": setting, "statuses": [], "finished": False, "error": error}


def write_config(run_dir: Path, invocation: Mapping[str, Any]) -> None:
    """Write config.json: this invocation's settings plus the earlier ones in ``history``."""
    path = run_dir / CONFIG_FILE
    history: list[Any] = []
    try:
        earlier = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        earlier = None
    if isinstance(earlier, dict):
        history = list(earlier.get("history") or [])
        history.append({k: v for k, v in earlier.items() if k != "history"})
    write_json_atomic(path, {**invocation, "history": history})
