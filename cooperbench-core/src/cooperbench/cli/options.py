"""Options shared by commands, with the published tool's flag names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from cooperbench.backend_options import parse_assignments
from cooperbench.dataset import DATASET_ENV_VAR, IMAGE_TEMPLATE_ENV_VAR, parse_features
from cooperbench.errors import UsageError
from cooperbench.evaluation.types import DEFAULT_TEST_TIMEOUT
from cooperbench.logs import LOG_DIR_ENV_VAR

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
        "--log-dir",
        type=click.Path(file_okay=False),
        help=f"Logs folder [default: ./logs; env {LOG_DIR_ENV_VAR}].",
    )(func)
    func = click.option(
        "--dataset-dir",
        type=click.Path(file_okay=False),
        envvar=DATASET_ENV_VAR,
        help=f"Dataset folder [default: ./dataset; env {DATASET_ENV_VAR}].",
    )(func)
    return func


def backend_name_option(func: F) -> F:
    """``--backend NAME`` (default ``local``)."""
    return click.option(
        "--backend", default="local", show_default=True, help="Backend to run sandboxes on."
    )(func)


def image_template_option(func: F) -> F:
    """``--image-template`` (env ``COOPERBENCH_IMAGE_TEMPLATE``)."""
    return click.option(
        "--image-template",
        envvar=IMAGE_TEMPLATE_ENV_VAR,
        help="Task image naming, e.g. 'myreg/{repo_slug}:task{task_id}' "
        f"[default: the published naming; env {IMAGE_TEMPLATE_ENV_VAR}].",
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


def backend_option_flags(func: F) -> F:
    """``--backend-option KEY=VALUE`` and ``--build-arg KEY=VALUE`` (both repeatable).

    The command receives both as one ``backend_options`` mapping, checked later against
    what the selected backend declares; ``--build-arg`` fills its ``build_args`` option.
    """
    func = click.option(
        "--build-arg",
        "build_args",
        multiple=True,
        metavar="KEY=VALUE",
        help="Build argument for task images a backend builds (repeatable).",
    )(func)
    return click.option(
        "--backend-option",
        "backend_option",
        multiple=True,
        metavar="KEY=VALUE",
        help="Backend option (repeatable; see 'cooperbench backends --options NAME').",
    )(func)


def collect_backend_options(
    backend_option: tuple[str, ...], build_args: tuple[str, ...]
) -> dict[str, Any]:
    """The ``backend_options`` mapping that ``--backend-option`` and ``--build-arg`` make."""
    options: dict[str, Any] = dict(parse_assignments(backend_option, "--backend-option"))
    if build_args:
        options["build_args"] = parse_assignments(build_args, "--build-arg")
    return options
