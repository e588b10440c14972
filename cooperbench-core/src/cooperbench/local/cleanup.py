"""Removing the folders that killed runs of the ``local`` backend left behind.

Sandboxes (``cooperbench-local-*``) and messaging servers (``cooperbench-redis-*``,
``cooperbench-git-*``) each live in a folder of the temporary directory holding a
labels file. Only folders whose labels say cooperbench made them
(``cooperbench.managed=true``) and whose owner process is gone
(:func:`cooperbench.labels.owner_is_alive`) are removed: a live run's folders and
anything else in the temporary directory are never touched.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from cooperbench.labels import MANAGED, RUN, owner_is_alive
from cooperbench.local.sandbox import LABELS_FILE, ROOT_PREFIX

#: Name patterns of the folders the local backend creates in the temporary directory.
FOLDER_PATTERNS = (f"{ROOT_PREFIX}*", "cooperbench-redis-*", "cooperbench-git-*")


def cleanup_leftovers(dry_run: bool = False, temp_dir: Path | None = None) -> list[str]:
    """Remove (or with ``dry_run`` only list) dead runs' folders; one line per folder."""
    lines = []
    for folder, labels in _labelled_folders(temp_dir or Path(tempfile.gettempdir())):
        if labels.get(MANAGED) != "true" or owner_is_alive(labels):
            continue
        if not dry_run:
            shutil.rmtree(folder, ignore_errors=True)
        run = labels.get(RUN)
        lines.append(f"folder {folder} ({f'run {run}' if run else 'no run'})")
    return lines


def _labelled_folders(temp_dir: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    seen: set[Path] = set()
    for pattern in FOLDER_PATTERNS:
        for folder in sorted(temp_dir.glob(pattern)):
            if folder in seen or folder.is_symlink() or not folder.is_dir():
                continue
            seen.add(folder)
            try:
                labels = json.loads((folder / LABELS_FILE).read_text())
            except (OSError, ValueError):  # not ours, or being written right now
                continue
            if isinstance(labels, dict):
                yield folder, {str(k): str(v) for k, v in labels.items()}
