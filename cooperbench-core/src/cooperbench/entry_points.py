"""Entry-point discovery shared by every plugin registry (backends and agents).

This is a bottom module: it imports nothing else of cooperbench but the errors, so the
backend plugin manager and the agent registry both build on it without importing each
other. The rules it implements are the same for every plugin kind:

- the entry-point name is the name users type; the distribution providing it is
  recorded for messages;
- ``COOPERBENCH_DISABLED_PLUGINS`` blocks a name everywhere (``docker``) or one
  distribution's registration of it (``cooperbench-docker:docker``), before import;
- a plugin that fails to import or validate is *broken* and never stops the others;
- two distributions registering the same name are a *conflict*: neither is imported,
  and choosing the name says how to resolve it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from importlib import metadata
from typing import TypeVar

import attrs

from cooperbench.errors import PluginConflictError, PluginLoadError

DISABLED_ENV_VAR = "COOPERBENCH_DISABLED_PLUGINS"

#: The states of a discovered plugin, as ``cooperbench backends`` and ``agents`` show them.
LOADED = "loaded"
BROKEN = "broken"
DISABLED = "disabled"
CONFLICT = "conflict"
PLUGIN_STATES = (LOADED, BROKEN, DISABLED, CONFLICT)

T = TypeVar("T")


@attrs.frozen
class PluginInfo:
    """One discovered plugin and how loading it went.

    ``hooks`` lists the hooks a loaded backend implements; ``conflicts_with`` names the
    other distributions registering the same name (state :data:`CONFLICT`).
    """

    name: str
    value: str
    dist_name: str | None
    dist_version: str | None
    state: str
    error: str | None = None
    hooks: tuple[str, ...] = ()
    conflicts_with: tuple[str, ...] = ()

    @property
    def loaded(self) -> bool:
        """True when the plugin module imported, validated and is registered."""
        return self.state == LOADED

    @property
    def source(self) -> str:
        """``cooperbench-docker 0.1.0``, or the entry point's value without a distribution."""
        if self.dist_name is None:
            return self.value
        return f"{self.dist_name} {self.dist_version}" if self.dist_version else self.dist_name


def disabled_from_env(environ: Mapping[str, str] | None = None) -> set[str]:
    """The entries of ``COOPERBENCH_DISABLED_PLUGINS`` (comma separated).

    An entry is a plugin name (``docker``) or ``<distribution>:<name>``.
    """
    raw = (environ if environ is not None else os.environ).get(DISABLED_ENV_VAR, "")
    return {part.strip() for part in raw.split(",") if part.strip()}


def is_blocked(name: str, dist_name: str | None, blocked: set[str]) -> bool:
    """True when ``blocked`` names the plugin, or this distribution's registration of it."""
    return name in blocked or (dist_name is not None and f"{dist_name}:{name}" in blocked)


def info_for(entry_point: metadata.EntryPoint) -> PluginInfo:
    """The record of ``entry_point`` before anything is imported."""
    dist = entry_point.dist
    return PluginInfo(
        entry_point.name,
        entry_point.value,
        dist.metadata["Name"] if dist is not None else None,
        dist.version if dist is not None else None,
        LOADED,
    )


def grouped_entry_points(group: str) -> dict[str, list[metadata.EntryPoint]]:
    """The entry points of ``group`` by name, one per distribution, sorted by name.

    A distribution found twice on ``sys.path`` (an editable install beside a regular
    one) counts once: only different distributions registering a name conflict.
    """
    by_name: dict[str, list[metadata.EntryPoint]] = {}
    seen: set[tuple[str, str | None]] = set()
    for entry_point in sorted(metadata.entry_points(group=group), key=lambda ep: ep.name):
        dist = entry_point.dist
        key = (entry_point.name, dist.metadata["Name"] if dist is not None else entry_point.value)
        if key in seen:
            continue
        seen.add(key)
        by_name.setdefault(entry_point.name, []).append(entry_point)
    return by_name


def load_group(
    group: str, blocked: set[str], load: Callable[[PluginInfo, object], tuple[PluginInfo, T | None]]
) -> list[tuple[PluginInfo, T | None]]:
    """Discover ``group`` and load each name by the shared rules.

    ``load`` turns an imported entry point into the registry's object (and may mark the
    info broken, e.g. after validation); an exception from the import or from ``load``
    marks only that plugin broken.
    """
    loaded: list[tuple[PluginInfo, T | None]] = []
    for entry_points in grouped_entry_points(group).values():
        infos = [info_for(ep) for ep in entry_points]
        active = [
            (info, ep)
            for info, ep in zip(infos, entry_points, strict=True)
            if not is_blocked(info.name, info.dist_name, blocked)
        ]
        for info in infos:
            if is_blocked(info.name, info.dist_name, blocked):
                loaded.append((attrs.evolve(info, state=DISABLED), None))
        if len(active) > 1:
            for info, _ in active:
                others = tuple(other.source for other, _ in active if other is not info)
                loaded.append((attrs.evolve(info, state=CONFLICT, conflicts_with=others), None))
            continue
        for info, entry_point in active:
            loaded.append(_load_one(info, entry_point, load))
    return loaded


def _load_one(
    info: PluginInfo,
    entry_point: metadata.EntryPoint,
    load: Callable[[PluginInfo, object], tuple[PluginInfo, T | None]],
) -> tuple[PluginInfo, T | None]:
    try:
        return load(info, entry_point.load())
    except Exception as exc:  # noqa: BLE001 - any failure marks only this plugin broken
        return attrs.evolve(info, state=BROKEN, error=f"{type(exc).__name__}: {exc}"), None


def ensure_loaded(kind: str, infos: Iterable[PluginInfo]) -> None:
    """Raise the error that says why the ``kind`` plugin ``infos`` name cannot be used.

    ``infos`` are every record discovered under one name (several in a conflict).
    """
    records = list(infos)
    if any(info.loaded for info in records):
        return
    conflicting = [info for info in records if info.state == CONFLICT]
    if conflicting:
        raise _conflict_error(kind, conflicting)
    info = records[0]
    name = info.name
    source = f" (from {info.source})" if info.dist_name else ""
    if info.state == DISABLED:
        raise PluginLoadError(
            f"{kind} '{name}'{source} is disabled by {DISABLED_ENV_VAR}; "
            "remove it from that variable to use it"
        )
    dist = info.dist_name or f"the distribution providing '{name}'"
    raise PluginLoadError(
        f"{kind} '{name}'{source} failed to load: {info.error}; "
        f"fix or reinstall it with: pip install --force-reinstall {dist}"
    )


def _conflict_error(kind: str, conflicting: list[PluginInfo]) -> PluginConflictError:
    name = conflicting[0].name
    sources = " and ".join(info.source for info in conflicting)
    dists = [info.dist_name or info.value for info in conflicting]
    return PluginConflictError(
        f"{kind} '{name}' is registered by {sources}; uninstall one "
        f"(pip uninstall {dists[-1]}) or disable one with "
        f"{DISABLED_ENV_VAR}={dists[-1]}:{name}"
    )
