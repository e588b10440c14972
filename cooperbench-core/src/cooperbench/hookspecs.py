"""Hook specifications: the contract between cooperbench and its backend plugins.

A backend plugin is a module of ``@hookimpl`` functions registered under the entry-point
group ``cooperbench``; the entry-point name is the backend name users type
(``--backend NAME``). Core calls only the *selected* backend's implementations (and
core's own defaults), so an implementation never compares backend names: it may leave
out the ``backend`` argument altogether, as it may leave out any argument it does not
use. Implementing a hook that is not listed here, or taking an argument a hook does not
pass, marks the plugin broken at discovery.

Everything an author needs is importable from :mod:`cooperbench.plugin`. Each hook's
example below is tested as written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from cooperbench.markers import hookspec

if TYPE_CHECKING:
    from cooperbench.backend_options import BackendOption
    from cooperbench.backend_status import BackendStatus
    from cooperbench.evaluation.types import EvalContext, EvalRequest, EvalResult
    from cooperbench.messaging.types import MessagingRequest, MessagingSession
    from cooperbench.sandbox import Sandbox, SandboxRequest


@hookspec(firstresult=True)
def create_sandbox(backend: str, request: SandboxRequest) -> Sandbox | None:
    """Create a sandbox for ``request``.

    Called whenever cooperbench needs an isolated place to run commands: one per
    evaluated pair, one per agent in a run, and by ``Backend.create_sandbox``. The
    request names the image, the lifetime cap (``timeout`` seconds, after which the
    backend must stop the sandbox by itself), the working directory, the dataset task
    folder when there is one (to build or materialize the task image), labels naming the
    owning run, whether network access is wanted, and the backend's checked options.

    Returns a started :class:`~cooperbench.sandbox.Sandbox`. Raise a
    :class:`~cooperbench.errors.CooperbenchError` subclass with an actionable message
    when the sandbox cannot be created. Example (a sandbox that is a host directory)::

        from cooperbench.plugin import LocalSandbox, SandboxRequest, hookimpl

        @hookimpl
        def create_sandbox(request: SandboxRequest) -> LocalSandbox:
            return LocalSandbox.create(request)
    """


@hookspec(firstresult=True)
def check_backend(backend: str) -> BackendStatus | None:
    """Say whether the backend can work on this machine right now.

    Called by ``cooperbench backends`` and before a command starts work, so a user
    learns that the daemon is down or credentials are missing before anything runs.
    Must be cheap and must not create resources. Without an implementation the backend
    counts as usable. Example::

        import shutil

        from cooperbench.plugin import BackendStatus, hookimpl

        @hookimpl
        def check_backend() -> BackendStatus:
            if shutil.which("sh") is None:
                return BackendStatus(False, "no POSIX shell on PATH; install one")
            return BackendStatus(True, "runs commands with the host's shell")
    """


@hookspec(firstresult=True)
def backend_options(backend: str) -> Sequence[BackendOption] | None:
    """Declare the options users may set for this backend.

    Called before any work, to check ``--backend-option KEY=VALUE`` values and options
    given from Python (an unknown name or a bad value is one clear error), and by
    ``cooperbench backends --options NAME``. The checked values reach
    :func:`create_sandbox` in ``request.options``. Example::

        from cooperbench.plugin import BackendOption, hookimpl

        @hookimpl
        def backend_options() -> list[BackendOption]:
            return [
                BackendOption("namespace", str, "default", "Namespace the pods run in."),
                BackendOption("gpus", int, 0, "GPUs per sandbox."),
            ]
    """


@hookspec(firstresult=True)
def setup_messaging(backend: str, request: MessagingRequest) -> MessagingSession | None:
    """Start the message bus (and, if requested, the shared git remote) for one pair.

    Called by ``cooperbench run`` in the coop setting once per pair (each pair has its
    own namespace in ``request.run_id``), before that pair's agent sandboxes are
    created. The endpoints returned must be reachable from inside the sandboxes this
    backend creates; ``request.redis_url`` is the user's own server (``--redis``) when
    given. Returns a :class:`~cooperbench.messaging.types.MessagingSession` (endpoints
    plus their teardown). Example (only the user's own server)::

        from cooperbench.plugin import (
            MessagingError,
            MessagingRequest,
            MessagingSession,
            RedisUrl,
            hookimpl,
        )

        @hookimpl
        def setup_messaging(request: MessagingRequest) -> MessagingSession:
            if request.redis_url is None or request.git:
                raise MessagingError("this backend needs --redis URL and cannot serve --git")
            url = RedisUrl.parse(request.redis_url).with_run(request.run_id)
            return MessagingSession(redis_url=str(url))
    """


@hookspec(firstresult=True)
def evaluate_patch(
    backend: str, requests: Sequence[EvalRequest], context: EvalContext
) -> Sequence[EvalResult] | None:
    """Evaluate a batch of pairs: every pair evaluation one command wants.

    Called once per ``cooperbench eval`` (and by auto-evaluation during a run) with all
    the pairs to score. Implementations report each result through
    ``context.report(result)`` as soon as it is known (so progress shows and results
    are saved even if the batch is interrupted), stop starting pairs once
    ``context.cancel`` is set, and return all results in the order of ``requests``.

    Core ships a ``trylast`` default that runs the generic pipeline concurrently, one
    sandbox per pair, on top of :func:`create_sandbox`; a backend implements this hook
    only when it can do better (for example one cloud batch job per task image).
    Example (one pair at a time, with core's pipeline)::

        from cooperbench.plugin import evaluate_pair, eval_sandbox_request, hookimpl

        @hookimpl
        def evaluate_patch(requests, context):
            results = []
            for request in requests:
                if context.cancel.is_set():
                    break
                sandbox_request = eval_sandbox_request(request, context)
                with context.create_sandbox(sandbox_request) as sandbox:
                    result = evaluate_pair(sandbox, request)
                context.report(result)
                results.append(result)
            return results
    """


@hookspec(firstresult=True)
def cleanup_resources(backend: str, dry_run: bool) -> Sequence[str] | None:
    """Remove what crashed or killed runs left behind.

    Called by ``cooperbench cleanup``. Only resources that cooperbench created (found
    by their labels) and whose owning process is gone may be removed: never those of a
    live run, never anything cooperbench did not create. With ``dry_run`` nothing is
    removed. Returns one line per resource (removed, or that would be removed).
    Example (sandbox folders labelled with :func:`~cooperbench.labels.owner_labels`)::

        import json
        import shutil
        import tempfile
        from pathlib import Path

        from cooperbench.plugin import hookimpl, owner_is_alive

        @hookimpl
        def cleanup_resources(dry_run: bool) -> list[str]:
            removed = []
            for folder in Path(tempfile.gettempdir()).glob("my-backend-*"):
                labels = json.loads((folder / "labels.json").read_text())
                if not owner_is_alive(labels):
                    if not dry_run:
                        shutil.rmtree(folder)
                    removed.append(str(folder))
            return removed
    """


@hookspec(firstresult=True)
def configure_backend(backend: str, settings: Mapping[str, str], interactive: bool) -> str | None:
    """Set the backend up for this user and save its settings: ``cooperbench config NAME``.

    Called by ``cooperbench config NAME``. ``settings`` holds the values the user gave
    (``--set KEY=VALUE``); with ``interactive`` the wizard may ask for the others
    (``click.prompt``), offering defaults, and without it it must not ask: it takes
    the given, current or default values, or raises a
    :class:`~cooperbench.errors.UsageError` naming the ``--set`` to pass. A wizard
    checks what it can (credentials, access) and writes its settings atomically.
    Returns the path of the file written. Example::

        import json
        import os
        import tempfile
        from pathlib import Path

        from cooperbench.plugin import UsageError, hookimpl

        @hookimpl
        def configure_backend(settings, interactive):
            namespace = settings.get("namespace")
            if namespace is None and interactive:
                import click

                namespace = click.prompt("Namespace", default="default")
            if namespace is None:
                raise UsageError("pass --set namespace=NAME")
            path = Path(tempfile.gettempdir()) / "my-backend.json"
            handle, staged = tempfile.mkstemp(dir=path.parent)
            with os.fdopen(handle, "w") as file:
                json.dump({"namespace": namespace}, file)
            os.replace(staged, path)
            return str(path)
    """
