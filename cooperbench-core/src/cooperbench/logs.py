"""Discover the pair runs of a run's logs folder.

Two layouts are read: the published one,
``<log_dir>/<run>/<setting>/<repo>/<task_id>/f<a>_f<b>/`` with ``result.json`` and
``agent<fid>.patch`` (coop) or ``solo.patch`` (solo), and the flat one of the seed
documents, ``<log_dir>/<run>/task_<id>_feature_<a>_<b>/patch.diff`` (read as solo).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from cooperbench.errors import LogsError, UsageError

DEFAULT_LOG_DIR = "logs"
LOG_DIR_ENV_VAR = "COOPERBENCH_LOG_DIR"
SETTINGS = ("coop", "solo")
RESULT_FILE = "result.json"
EVAL_FILE = "eval.json"

_PAIR_DIR = re.compile(r"^f(\d+)(?:_f(\d+))+$")
_FLAT_DIR = re.compile(r"^task_(\d+)_feature_(\d+(?:_\d+)+)$")


@attrs.frozen
class PairRun:
    """The recorded output of agents on one task and one set of features."""

    run_name: str
    setting: str
    repo: str | None
    task_id: int
    features: tuple[int, ...]
    path: Path
    flat: bool = False

    @property
    def key(self) -> str:
        """``<repo>/<task>/<a>,<b>``: how summaries name this pair."""
        features = ",".join(str(f) for f in self.features)
        return f"{self.repo or '?'}/{self.task_id}/{features}"

    @property
    def eval_path(self) -> Path:
        """Where this pair's eval.json lives."""
        return self.path / EVAL_FILE

    def patch_path(self, feature_id: int | None) -> Path:
        """The patch file of the agent that implemented ``feature_id`` (solo: ``None``)."""
        if self.flat:
            return self.path / "patch.diff"
        if feature_id is None:
            return self.path / "solo.patch"
        return self.path / f"agent{feature_id}.patch"

    def read_patch(self, feature_id: int | None) -> str | None:
        """The patch text, or ``None`` when the agent left no patch file."""
        try:
            return self.patch_path(feature_id).read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return None

    def result(self) -> dict[str, Any]:
        """The pair's result.json (empty for the flat layout, which has none).

        A file that cannot be read, is not JSON or holds no object is a :class:`LogsError`.
        """
        path = self.path / RESULT_FILE
        if not path.is_file():
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise LogsError(f"cannot read {path}: {exc.strerror or exc}") from exc
        except ValueError as exc:
            raise LogsError(f"{path} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise LogsError(f"{path} holds a JSON {type(data).__name__}, not an object")
        return data


def resolve_log_dir(path: str | Path | None) -> Path:
    """The logs folder: ``path``, else ``$COOPERBENCH_LOG_DIR``, else ``./logs``."""
    return Path(path or os.environ.get(LOG_DIR_ENV_VAR) or DEFAULT_LOG_DIR)


def check_run_name(name: str) -> str:
    """A run name must be one plain folder name (never a path: it names a folder of logs)."""
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise UsageError(f"bad run name {name!r}: use a plain folder name such as 'exp1'")
    return name


def run_dir(log_dir: Path, run_name: str) -> Path:
    """The folder of run ``run_name``, or a :class:`LogsError` listing the runs there."""
    folder = log_dir / check_run_name(run_name)
    if not folder.is_dir():
        runs = sorted(p.name for p in log_dir.iterdir() if p.is_dir()) if log_dir.is_dir() else []
        known = ", ".join(runs) or "none"
        raise LogsError(f"no run '{run_name}' in {log_dir} (runs: {known}); check -n and --log-dir")
    return folder


def discover(
    log_dir: Path,
    run_name: str,
    *,
    setting: str | None = None,
    repo: str | None = None,
    task: int | None = None,
    features: Sequence[int] | None = None,
    pairs: set[tuple[str, int, tuple[int, ...]]] | None = None,
) -> list[PairRun]:
    """Every pair run of ``run_name`` that matches the filters, sorted.

    A published-layout folder counts only if it holds ``result.json``. ``pairs``
    restricts to (repo, task, features) triples, as a subset does.
    """
    root = run_dir(log_dir, run_name)
    found = _published(root, run_name) + _flat(root, run_name)
    wanted = tuple(sorted(features)) if features else None

    def keep(pair: PairRun) -> bool:
        if setting is not None and pair.setting != setting:
            return False
        if repo is not None and pair.repo not in (repo, None):
            return False
        if task is not None and pair.task_id != task:
            return False
        if wanted is not None and pair.features != wanted:
            return False
        return pairs is None or (pair.repo or "", pair.task_id, pair.features) in pairs

    return sorted(
        (p for p in found if keep(p)),
        key=lambda p: (p.setting, p.repo or "", p.task_id, p.features),
    )


def _published(root: Path, run_name: str) -> list[PairRun]:
    found = []
    for setting in SETTINGS:
        for result in sorted((root / setting).glob(f"*/*/*/{RESULT_FILE}")):
            pair_dir = result.parent
            match = _PAIR_DIR.match(pair_dir.name)
            task_name = pair_dir.parent.name
            if not match or not task_name.isdigit():
                continue
            ids = tuple(int(part.lstrip("f")) for part in pair_dir.name.split("_"))
            found.append(
                PairRun(
                    run_name, setting, pair_dir.parent.parent.name, int(task_name), ids, pair_dir
                )
            )
    return found


def _flat(root: Path, run_name: str) -> list[PairRun]:
    found = []
    for patch in sorted(root.glob("task_*_feature_*/patch.diff")):
        match = _FLAT_DIR.match(patch.parent.name)
        if match:
            ids = tuple(sorted(int(part) for part in match.group(2).split("_")))
            found.append(
                PairRun(run_name, "solo", None, int(match.group(1)), ids, patch.parent, flat=True)
            )
    return found
