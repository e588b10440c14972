"""Finding the image a sandbox starts from: local, else pulled, else built from the task.

An image that is present locally is used as is and never rebuilt. A missing one is
pulled (registries may be unreachable, so a pull that makes no progress gives up
quickly) and, failing that, built from the task folder's ``Dockerfile``. Builds use the
API's classic builder, which takes a local-only base image (``FROM ${BASE_IMAGE}`` with
``BASE_IMAGE=cooperbench/base:bookworm``) as is and never asks a registry for it.
A per-image lock makes concurrent sandboxes of one task build it once.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cooperbench.plugin import SandboxError, StepEvent, report_step
from cooperbench_docker.client import connect, docker_errors, explain, is_not_found

logger = logging.getLogger(__name__)

#: Seconds a pull may go without any progress before we give up on the registry.
PULL_STALL_TIMEOUT = 20
#: Seconds between two progress events of one pull (the daemon sends many per second).
PULL_REPORT_INTERVAL = 0.5

_BUILD_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def image_lock(image: str) -> threading.Lock:
    """The lock serialising pulls and builds of ``image`` in this process."""
    with _locks_guard:
        return _locks.setdefault(image, threading.Lock())


def local_image(api: Any, image: str) -> dict[str, Any] | None:
    """What the daemon knows of ``image`` (``docker image inspect``), or ``None``."""
    with docker_errors(f"inspecting image {image}"):
        try:
            return dict(api.inspect_image(image))
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise


def local_image_id(api: Any, image: str) -> str | None:
    """The id of ``image`` when the daemon has it, else ``None``."""
    found = local_image(api, image)
    return str(found["Id"]) if found is not None else None


def runs_as_root(image: Mapping[str, Any]) -> bool:
    """True when containers of the inspected ``image`` run commands as root (the usual case)."""
    user = str((image.get("Config") or {}).get("User") or "")
    return user.partition(":")[0] in ("", "root", "0")


def ensure_image(
    api: Any,
    image: str,
    task_dir: Path | None,
    build_args: Mapping[str, str],
    pull: bool = True,
) -> dict[str, Any]:
    """Make ``image`` available on the daemon and return what it knows of it (inspect).

    Raises :class:`~cooperbench.errors.SandboxError` saying what to do when the image
    is neither local, nor pullable, nor buildable.
    """
    found = local_image(api, image)
    if found is not None:
        return found
    with image_lock(image):
        found = local_image(api, image)  # another thread may have made it meanwhile
        if found is not None:
            return found
        pull_failure = try_pull(image) if pull else "pulling disabled by the pull option"
        found = local_image(api, image)
        if found is not None:
            return found
        dockerfile = task_dir / "Dockerfile" if task_dir is not None else None
        if dockerfile is None or not dockerfile.is_file():
            where = f" in {task_dir}" if task_dir is not None else ""
            raise SandboxError(
                f"image {image} not found locally, could not be pulled ({pull_failure}), "
                f"and no Dockerfile{where} to build it; build or load it first "
                f"(docker build -t {image} <dir>), or run on a task folder that has a Dockerfile"
            )
        assert task_dir is not None
        return build_image(api, image, task_dir, build_args)


def try_pull(image: str) -> str | None:
    """Pull ``image``; return ``None`` on success, else why it failed (one line)."""
    from docker.utils import parse_repository_tag

    repository, tag = parse_repository_tag(image)
    logger.info("pulling image %s", image)
    try:
        # A separate client whose read timeout bounds how long a pull may stall: an
        # unreachable registry fails fast, a slow but progressing pull goes on.
        puller = connect(timeout=PULL_STALL_TIMEOUT)
    except SandboxError as exc:
        return str(exc)
    report_step(StepEvent("pull", image, "started"))
    failure: str | None
    try:
        with docker_errors(f"pulling image {image}"):
            events = puller.pull(repository, tag=tag or "latest", stream=True, decode=True)
            failure = _pull_error(image, events)
    except SandboxError as exc:
        failure = _strip_action(str(exc))
    except Exception as exc:  # noqa: BLE001 - any failure just means "not pulled"
        failure = explain(exc)
    finally:
        puller.close()
    if failure is None:
        report_step(StepEvent("pull", image, "finished"))
    else:
        report_step(StepEvent("pull", image, "failed", detail=failure))
    return failure


def build_image(
    api: Any, image: str, task_dir: Path, build_args: Mapping[str, str]
) -> dict[str, Any]:
    """Build ``image`` from ``task_dir/Dockerfile`` (context ``task_dir``); return its inspect."""
    logger.info("building image %s from %s", image, task_dir / "Dockerfile")
    report_step(StepEvent("build", image, "started"))
    try:
        with docker_errors(f"building image {image} from {task_dir}/Dockerfile"):
            events = api.build(
                path=str(task_dir),
                tag=image,
                buildargs=dict(build_args),
                rm=True,
                forcerm=True,
                pull=False,
                decode=True,
                timeout=None,  # builds may run silently for minutes (dependency installs)
            )
            error = _build_error(image, events)
        if error is not None:
            raise SandboxError(f"building image {image} from {task_dir}/Dockerfile failed: {error}")
        built = local_image(api, image)
        if built is None:
            raise SandboxError(f"building image {image} from {task_dir}/Dockerfile left no image")
    except BaseException as exc:
        report_step(StepEvent("build", image, "failed", detail=_strip_action(str(exc))[:200]))
        raise
    report_step(StepEvent("build", image, "finished"))
    return built


def _pull_error(image: str, events: Iterable[Mapping[str, Any]]) -> str | None:
    """Follow a pull's events: report bytes downloaded over every layer; return its error."""
    error: str | None = None
    layers: dict[str, tuple[int, int]] = {}
    last_report = 0.0
    for event in events:
        if "error" in event:
            error = str(event["error"]).strip().splitlines()[0]
            continue
        detail = event.get("progressDetail") or {}
        if event.get("status") == "Downloading" and detail.get("total"):
            layers[str(event.get("id"))] = (int(detail.get("current", 0)), int(detail["total"]))
        elif event.get("status") in ("Download complete", "Already exists", "Pull complete"):
            done = layers.get(str(event.get("id")))
            if done is not None:
                layers[str(event.get("id"))] = (done[1], done[1])
        now = time.monotonic()
        if layers and now - last_report >= PULL_REPORT_INTERVAL:
            last_report = now
            current = sum(c for c, _ in layers.values())
            total = sum(t for _, t in layers.values())
            report_step(StepEvent("pull", image, "advanced", current, total, "bytes"))
    return error


def _build_error(image: str, events: Iterable[Mapping[str, Any]]) -> str | None:
    """Follow a build's events: report each ``Step N/M``; return the build's error."""
    for event in events:
        if "error" in event:
            return str(event["error"]).strip().splitlines()[0]
        text = str(event.get("stream", "")).rstrip()
        if text:
            logger.debug("build: %s", text)
            step = _BUILD_STEP.match(text)
            if step is not None:
                number, total, instruction = step.groups()
                report_step(
                    StepEvent("build", image, "advanced", int(number), int(total), instruction[:80])
                )
    return None


def _strip_action(message: str) -> str:
    _, _, reason = message.partition(" failed: ")
    return reason or message
