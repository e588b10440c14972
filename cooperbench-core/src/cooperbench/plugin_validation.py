"""Checking a backend plugin module against the hook specifications, before it is used.

pluggy accepts a misspelled hook name silently (an optional hook then quietly falls back
to core's default) and reports a wrong signature only as it registers, half-way. Here a
module is checked as a whole first, so a mistake marks that one plugin broken with a
message naming the hook, and the others keep working.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable

import pluggy

from cooperbench import hookspecs
from cooperbench.markers import PROJECT_NAME


def hook_names() -> list[str]:
    """The names of every hook in :mod:`cooperbench.hookspecs`, in definition order."""
    marker = f"{PROJECT_NAME}_spec"  # the attribute pluggy's HookspecMarker sets
    return [name for name, value in vars(hookspecs).items() if hasattr(value, marker)]


def spec_signature(name: str) -> str:
    """``name(arg: Type, ...) -> Result`` of the hook ``name``, as the docs show it."""
    function = getattr(hookspecs, name)
    signature = inspect.signature(function)
    params = ", ".join(f"{p.name}: {p.annotation}" for p in signature.parameters.values())
    return f"{name}({params}) -> {signature.return_annotation}"


def implementations(pm: pluggy.PluginManager, plugin: object) -> dict[str, Callable[..., object]]:
    """The hook implementations ``plugin`` marks with ``@hookimpl``, by hook name."""
    found: dict[str, Callable[..., object]] = {}
    for attribute in dir(plugin):
        opts = pm.parse_hookimpl_opts(plugin, attribute)
        if opts is not None:
            found[opts.get("specname") or attribute] = getattr(plugin, attribute)
    return found


def check_plugin(pm: pluggy.PluginManager, plugin: object) -> tuple[tuple[str, ...], str | None]:
    """The hooks ``plugin`` implements, and the first problem with them (``None`` if none).

    A problem is: no hook at all, a name that is not a hook, or an argument the hook
    does not pass (an implementation may take fewer arguments than the hook, never
    others).
    """
    known = hook_names()
    found = implementations(pm, plugin)
    if not found:
        return (), (
            "implements no cooperbench hook; mark its hook functions with @hookimpl "
            "(from cooperbench.plugin import hookimpl)"
        )
    for name, function in sorted(found.items()):
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            return tuple(sorted(found)), (
                f"'{name}' is not a cooperbench hook{hint}; the hooks are {', '.join(known)}"
            )
        spec_args = set(inspect.signature(getattr(hookspecs, name)).parameters)
        extra = [arg for arg in _required_args(function) if arg not in spec_args]
        if extra:
            return tuple(sorted(found)), (
                f"hook '{name}' takes {', '.join(extra)}, which the hook does not pass; "
                f"the hook is {spec_signature(name)}"
            )
    return tuple(sorted(found)), None


def _required_args(function: Callable[..., object]) -> list[str]:
    """Arguments pluggy would pass by name: every named parameter without a default."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return []
    named = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p.name for p in parameters if p.kind in named and p.default is p.empty]
