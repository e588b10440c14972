"""Options shared by commands, with the published tool's flag names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from cooperbench.dataset import parse_features
from cooperbench.errors import UsageError
from cooperbench.evaluation.types import DEFAULT_TEST_TIMEOUT

F = TypeVar("F", bound=Callable[..., Any])


def _features(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> tuple[int, ...] | None:
    try:
        return parse_features(value)
    except UsageError as exc:
        raise click.BadParameter(str(exc).removeprefix("bad --features "), ctx, param) from None


def selection_options(func: F) -> F:
    """``-s/--subset``, ``-r/--repo``, ``-t/--task``, ``-f/--features``."""
    for option in reversed(
        [
            click.option("-s", "--subset", help="Subset name (subsets/<name>.json)."),
            click.option("-r", "--repo", help="Only this repository, e.g. pallets_click_task."),
            click.option(
                "-t", "--task", type=click.IntRange(min=0), help="Only this task id (0 works)."
            ),
            click.option(
                "-f", "--features", callback=_features, help="Only this feature set, e.g. 1,2."
            ),
        ]
    ):
        func = option(func)
    return func


def location_options(func: F) -> F:
    """``--dataset-dir`` and ``--log-dir``."""
    func = click.option(
        "--log-dir", type=click.Path(file_okay=False), help="Logs folder [default: ./logs]."
    )(func)
    func = click.option(
        "--dataset-dir",
        type=click.Path(file_okay=False),
        envvar="COOPERBENCH_DATASET",
        help="Dataset folder [default: ./dataset; env COOPERBENCH_DATASET].",
    )(func)
    return func


def backend_option(func: F) -> F:
    """``--backend NAME`` (default ``local``)."""
    return click.option(
        "--backend", default="local", show_default=True, help="Backend to run sandboxes on."
    )(func)


def image_template_option(func: F) -> F:
    """``--image-template`` (env ``COOPERBENCH_IMAGE_TEMPLATE``)."""
    return click.option(
        "--image-template",
        envvar="COOPERBENCH_IMAGE_TEMPLATE",
        help="Task image naming, e.g. 'myreg/{repo_slug}:task{task_id}'.",
    )(func)


def test_timeout_option(flag: str) -> Callable[[F], F]:
    """``flag`` (``--timeout`` or ``--eval-timeout``): seconds for one feature's tests."""
    return click.option(
        flag,
        type=click.IntRange(min=1),
        default=DEFAULT_TEST_TIMEOUT,
        show_default=True,
        help="Seconds allowed for one feature's test run.",
    )


def build_arg_option(func: F) -> F:
    """``--build-arg KEY=VALUE`` (repeatable), given to backends as ``{"build_args": ...}``."""
    return click.option(
        "--build-arg",
        "build_args",
        multiple=True,
        metavar="KEY=VALUE",
        callback=_build_args,
        help="Build argument for task images a backend builds (repeatable).",
    )(func)


def _build_args(
    ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
) -> dict[str, Any]:
    """The sandbox options the ``--build-arg`` values make (empty when none)."""
    try:
        return {"build_args": parse_key_values(value, "--build-arg")} if value else {}
    except UsageError as exc:
        raise click.BadParameter(str(exc).removeprefix("bad --build-arg "), ctx, param) from None


def parse_key_values(values: tuple[str, ...], flag: str) -> dict[str, str]:
    """``KEY=VALUE`` pairs from a repeated flag."""
    parsed = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"bad {flag} {item!r}: expected KEY=VALUE")
        parsed[key] = value
    return parsed
