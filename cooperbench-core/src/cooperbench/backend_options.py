"""Options a backend declares (name, type, default, help), and checking users' values.

A backend lists its options through the ``backend_options`` hook. Users set them with
``--backend-option KEY=VALUE`` (values arrive as text) or from Python (values arrive
typed); either way :func:`resolve_options` turns them into checked, typed values before
any work starts, and an unknown or ill-typed option is one readable line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from cooperbench.errors import UsageError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_TYPE_NAMES = {int: "int", float: "float", bool: "bool", str: "str", dict: "KEY=VALUE,..."}


@attrs.frozen
class BackendOption:
    """One option of a backend.

    ``type`` is ``int``, ``float``, ``bool``, ``str`` or ``dict`` (text form
    ``KEY=VALUE,KEY=VALUE``). ``parse`` replaces the built-in conversion for values
    with their own syntax (sizes such as ``4g``): it takes the raw value (text or
    Python) and returns the typed one, raising ``ValueError`` with the reason.
    ``check`` looks at a parsed value against the host (more CPUs than it has) and
    returns the problem as one line, or ``None``.
    """

    name: str
    type: type
    default: Any = None
    help: str = ""
    parse: Callable[[Any], Any] | None = attrs.field(default=None, eq=False)
    check: Callable[[Any], str | None] | None = attrs.field(default=None, eq=False)

    @property
    def type_name(self) -> str:
        """The type as ``cooperbench backends --options`` shows it."""
        return _TYPE_NAMES.get(self.type, self.type.__name__)

    def convert(self, value: Any) -> Any:
        """The typed value of ``value``; a bad one raises ``ValueError`` saying why."""
        if self.parse is not None:
            return self.parse(value)
        return _BUILTIN[self.type](value)

    def to_json(self) -> dict[str, Any]:
        """The option as ``cooperbench backends --options NAME --json`` prints it."""
        default = self.default
        if not isinstance(default, (str, int, float, bool, dict, type(None))):
            default = str(default)
        return {"name": self.name, "type": self.type_name, "default": default, "help": self.help}


def resolve_options(
    backend: str, declared: Sequence[BackendOption], given: Mapping[str, Any]
) -> dict[str, Any]:
    """Check ``given`` against the options ``backend`` declares; return typed values.

    ``None`` means "not set" and is dropped. An unknown name or a value of the wrong
    type raises :class:`~cooperbench.errors.UsageError` naming the option.
    """
    by_name = {option.name: option for option in declared}
    resolved: dict[str, Any] = {}
    for name, value in given.items():
        option = by_name.get(name)
        if option is None:
            known = ", ".join(sorted(by_name)) or "none"
            raise UsageError(
                f"backend '{backend}' has no option '{name}' (its options: {known}); "
                f"see 'cooperbench backends --options {backend}'"
            )
        if value is None:
            continue
        try:
            resolved[name] = option.convert(value)
        except (TypeError, ValueError) as exc:
            raise UsageError(
                f"backend option {name}={value!r}: {exc} (expected {option.type_name})"
            ) from None
    return resolved


def option_value(declared: Sequence[BackendOption], options: Mapping[str, Any], name: str) -> Any:
    """The value of option ``name``: from ``options`` (converted) or its default."""
    option = next(option for option in declared if option.name == name)
    value = options.get(name)
    return option.default if value is None else option.convert(value)


def option_values(declared: Sequence[BackendOption], options: Mapping[str, Any]) -> dict[str, Any]:
    """Every declared option's value: the given one converted, else the converted default.

    Conversion runs again here because sandboxes may be requested directly from Python,
    past :func:`resolve_options`; a bad value is one :class:`UsageError` line.
    """
    values: dict[str, Any] = {}
    for option in declared:
        given = options.get(option.name)
        if given is None:
            values[option.name] = (
                option.convert(option.default) if option.default is not None else None
            )
            continue
        try:
            values[option.name] = option.convert(given)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"backend option {option.name}={given!r}: {exc}") from None
    return values


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)i?b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(value: str | int) -> int:
    """Bytes in ``value``: an integer, or a string like ``"512m"``, ``"4g"``, ``"1.5GiB"``."""
    if isinstance(value, bool):
        raise UsageError("not a size such as 4g")
    if isinstance(value, int):
        return value
    match = _SIZE.match(str(value))
    if match is None:
        raise UsageError("not a size such as 4g or 512m")
    number, unit = match.groups()
    return int(float(number) * _UNITS[unit.lower()])


def parse_assignments(values: Sequence[str], flag: str) -> dict[str, str]:
    """``KEY=VALUE`` pairs of a repeated flag, e.g. ``--backend-option cpus=2``."""
    parsed = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"bad {flag} {item!r}: expected KEY=VALUE")
        parsed[key.strip()] = value
    return parsed


def _to_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise UsageError("not an integer")
    try:
        return int(value)
    except ValueError:
        raise UsageError("not an integer") from None


def _to_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise UsageError("not a number")
    try:
        return float(value)
    except ValueError:
        raise UsageError("not a number") from None


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise UsageError("not true or false")


def _to_str(value: Any) -> str:
    if not isinstance(value, str):
        raise UsageError("not text")
    return value


def _to_dict(value: Any) -> dict[str, str]:
    if isinstance(value, Mapping):
        return {str(key): str(item) for key, item in value.items()}
    if not isinstance(value, str):
        raise UsageError("not a mapping")
    pairs = [part for part in value.split(",") if part.strip()]
    return parse_assignments(pairs, "value") if pairs else {}


_BUILTIN: dict[type, Callable[[Any], Any]] = {
    int: _to_int,
    float: _to_float,
    bool: _to_bool,
    str: _to_str,
    dict: _to_dict,
}
