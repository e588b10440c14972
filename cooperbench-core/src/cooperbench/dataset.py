"""The benchmark dataset: tasks, their features, subsets, and pair selection.

Layout (the published one)::

    <dataset>/subsets/<name>.json
    <dataset>/<repo>_task/task<id>/{Dockerfile,runner.sh,feature<n>/{feature.md,feature.patch,tests.patch}}
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs

from cooperbench.errors import DatasetError, UsageError

DATASET_ENV_VAR = "COOPERBENCH_DATASET"
DEFAULT_DATASET_DIR = "dataset"
IMAGE_TEMPLATE_ENV_VAR = "COOPERBENCH_IMAGE_TEMPLATE"
#: The published benchmark's image naming; ``{repo_slug}`` is the repo without
#: ``_task`` and with ``_`` turned into ``-``.
DEFAULT_IMAGE_TEMPLATE = "akhatua/cooperbench-{repo_slug}:task{task_id}"

_TASK_DIR = re.compile(r"^task(\d+)$")
_FEATURE_DIR = re.compile(r"^feature(\d+)$")


@attrs.frozen
class Feature:
    """One feature of a task: its spec, gold patch and hidden tests."""

    feature_id: int
    path: Path

    @property
    def spec_path(self) -> Path:
        """The natural-language spec given to the agent."""
        return self.path / "feature.md"

    @property
    def gold_patch_path(self) -> Path:
        """The reference implementation."""
        return self.path / "feature.patch"

    @property
    def tests_patch_path(self) -> Path:
        """The hidden tests for this feature."""
        return self.path / "tests.patch"

    def spec(self) -> str:
        """The spec text."""
        return self.spec_path.read_text(encoding="utf-8")


@attrs.frozen
class Task:
    """A repository at a fixed commit plus its features."""

    repo: str
    task_id: int
    path: Path
    features: dict[int, Feature] = attrs.field(eq=False)

    @property
    def repo_slug(self) -> str:
        """``pallets_click_task`` -> ``pallets-click``, as in the published image names."""
        return self.repo.removesuffix("_task").replace("_", "-")

    def image(self, template: str | None = None) -> str:
        """The task image name from ``template`` (default: the published naming)."""
        chosen = template or os.environ.get(IMAGE_TEMPLATE_ENV_VAR) or DEFAULT_IMAGE_TEMPLATE
        try:
            return chosen.format(repo=self.repo, repo_slug=self.repo_slug, task_id=self.task_id)
        except (KeyError, IndexError, ValueError) as exc:
            raise UsageError(
                f"bad image template {chosen!r}: use the fields {{repo}}, {{repo_slug}}, {{task_id}}"
            ) from exc

    def feature(self, feature_id: int) -> Feature:
        """The feature ``feature_id`` or a :class:`DatasetError` naming the ones that exist."""
        try:
            return self.features[feature_id]
        except KeyError:
            known = ", ".join(str(f) for f in sorted(self.features)) or "none"
            raise DatasetError(
                f"{self.repo} task {self.task_id} has no feature {feature_id} (features: {known})"
            ) from None

    def all_pairs(self) -> list[tuple[int, ...]]:
        """Every 2-combination of the feature ids, sorted."""
        return [tuple(pair) for pair in itertools.combinations(sorted(self.features), 2)]


@attrs.frozen
class SubsetEntry:
    """One task of a subset, optionally restricted to some pairs."""

    repo: str
    task_id: int
    pairs: tuple[tuple[int, ...], ...] | None


@attrs.frozen
class Selection:
    """One unit of work: a task and the features its agents implement together."""

    task: Task
    features: tuple[int, ...]


def resolve_dataset_dir(path: str | Path | None) -> Path:
    """The dataset folder: ``path``, else ``$COOPERBENCH_DATASET``, else ``./dataset``."""
    chosen = Path(path or os.environ.get(DATASET_ENV_VAR) or DEFAULT_DATASET_DIR)
    if not chosen.is_dir():
        raise DatasetError(
            f"dataset folder {chosen} not found; pass --dataset-dir PATH or set {DATASET_ENV_VAR}"
        )
    return chosen.resolve()


class Dataset:
    """Reads tasks and subsets from a dataset folder."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = resolve_dataset_dir(root)

    def tasks(self) -> list[Task]:
        """Every task in the dataset, sorted by repo then id."""
        found = []
        for repo_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            if repo_dir.name == "subsets" or repo_dir.name.startswith("."):
                continue
            for task_dir in sorted(p for p in repo_dir.iterdir() if p.is_dir()):
                match = _TASK_DIR.match(task_dir.name)
                if match:
                    found.append(self._load_task(repo_dir.name, int(match.group(1)), task_dir))
        return sorted(found, key=lambda task: (task.repo, task.task_id))

    def task(self, repo: str, task_id: int) -> Task:
        """The task ``repo``/``task_id`` or a :class:`DatasetError` saying what exists."""
        task_dir = self.root / repo / f"task{task_id}"
        if not task_dir.is_dir():
            raise DatasetError(f"no task {repo}/task{task_id} in {self.root}")
        return self._load_task(repo, task_id, task_dir)

    def find_task(self, task_id: int) -> Task:
        """The only task with id ``task_id`` across repos (for logs that omit the repo)."""
        matches = [task for task in self.tasks() if task.task_id == task_id]
        if len(matches) != 1:
            where = "no repo" if not matches else f"{len(matches)} repos"
            raise DatasetError(f"task id {task_id} is in {where} of {self.root}")
        return matches[0]

    def subset_names(self) -> list[str]:
        """Names of the subsets under ``subsets/``."""
        folder = self.root / "subsets"
        return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []

    def subset(self, name: str) -> list[SubsetEntry]:
        """The tasks (and pairs, where given) of subset ``name``."""
        path = self.root / "subsets" / f"{name}.json"
        if not path.is_file():
            known = ", ".join(self.subset_names()) or "none"
            raise DatasetError(f"no subset '{name}' in {self.root / 'subsets'} (subsets: {known})")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DatasetError(f"subset file {path} is not readable JSON: {exc}") from None
        tasks = data.get("tasks") if isinstance(data, dict) else None
        if not isinstance(tasks, list):
            raise DatasetError(f'subset file {path} is malformed: expected {{"tasks": [...]}}')
        entries = []
        for index, item in enumerate(tasks):
            try:
                entries.append(_subset_entry(item))
            except DatasetError as exc:
                raise DatasetError(
                    f"subset file {path} is malformed: tasks[{index}] {exc}"
                ) from None
        return entries

    def _load_task(self, repo: str, task_id: int, task_dir: Path) -> Task:
        features = {}
        for child in task_dir.iterdir():
            match = _FEATURE_DIR.match(child.name)
            if match and child.is_dir():
                features[int(match.group(1))] = Feature(int(match.group(1)), child)
        return Task(repo, task_id, task_dir, dict(sorted(features.items())))

    def check_features(
        self, features: Sequence[int], repo: str | None = None, task: int | None = None
    ) -> None:
        """Raise :class:`DatasetError` unless a task the filters allow has all ``features``."""
        tasks = [
            t
            for t in self.tasks()
            if (repo is None or t.repo == repo) and (task is None or t.task_id == task)
        ]
        if not tasks:
            raise DatasetError(f"no task in {self.root} matches {_describe(None, repo, task)}")
        if any(all(f in t.features for f in features) for t in tasks):
            return
        wanted = ",".join(str(f) for f in features)
        if len(tasks) == 1:
            tasks[0].feature(next(f for f in features if f not in tasks[0].features))
        raise DatasetError(f"no task in {self.root} has features {wanted}; check -f")

    def select(
        self,
        subset: str | None = None,
        repo: str | None = None,
        task: int | None = None,
        features: Sequence[int] | None = None,
    ) -> list[Selection]:
        """Pick the units of work the filters describe.

        Pair precedence: explicit ``features``, else the subset's pairs, else every
        2-combination of the task's features. ``task=0`` selects task 0.
        """
        if subset is not None:
            entries = self.subset(subset)
            candidates = [(self.task(e.repo, e.task_id), e.pairs) for e in entries]
        else:
            candidates = [(t, None) for t in self.tasks()]
        candidates = [
            (t, pairs)
            for t, pairs in candidates
            if (repo is None or t.repo == repo) and (task is None or t.task_id == task)
        ]
        if not candidates:
            raise DatasetError(f"no task in {self.root} matches {_describe(subset, repo, task)}")
        selections: list[Selection] = []
        for chosen_task, pairs in candidates:
            if features:
                for feature_id in features:
                    chosen_task.feature(feature_id)
                combos: Iterable[tuple[int, ...]] = [tuple(sorted(features))]
            else:
                combos = pairs if pairs is not None else chosen_task.all_pairs()
            selections.extend(Selection(chosen_task, tuple(c)) for c in combos)
        return selections


def parse_features(value: str | None) -> tuple[int, ...] | None:
    """Parse ``-f 1,2`` into ``(1, 2)``; at least two distinct ids."""
    if value is None or value == "":
        return None
    try:
        ids = tuple(sorted({int(part) for part in value.split(",") if part.strip()}))
    except ValueError:
        raise UsageError(f"bad --features {value!r}: expected ids like 1,2") from None
    if len(ids) < 2:
        raise UsageError(f"bad --features {value!r}: name at least two different features")
    return ids


def _subset_entry(item: object) -> SubsetEntry:
    """One entry of a subset's ``tasks``; a malformed one raises :class:`DatasetError`."""
    if not isinstance(item, dict):
        raise DatasetError('must be an object such as {"repo": "...", "task_id": 1}')
    repo, task_id, raw_pairs = item.get("repo"), item.get("task_id"), item.get("pairs")
    if not isinstance(repo, str) or not repo:
        raise DatasetError("needs a repo name")
    if isinstance(task_id, bool) or not isinstance(task_id, (int, str)):
        raise DatasetError("needs an integer task_id")
    try:
        number = int(task_id)
    except ValueError:
        raise DatasetError(f"has task_id {task_id!r}, not an integer") from None
    if raw_pairs is None:
        return SubsetEntry(repo, number, None)
    if not isinstance(raw_pairs, list) or not all(_is_pair(p) for p in raw_pairs):
        raise DatasetError("has pairs that are not lists of feature ids, such as [[1, 2]]")
    return SubsetEntry(repo, number, tuple(tuple(sorted(p)) for p in raw_pairs))


def _is_pair(value: object) -> bool:
    return (
        isinstance(value, list)
        and len(value) >= 2
        and all(isinstance(f, int) and not isinstance(f, bool) for f in value)
    )


def _describe(subset: str | None, repo: str | None, task: int | None) -> str:
    parts = [f"subset={subset}" if subset else "", f"repo={repo}" if repo else ""]
    parts.append(f"task={task}" if task is not None else "")
    return ", ".join(p for p in parts if p) or "the filters"
