"""Hook specifications: the contract between cooperbench and its backend plugins.

A backend plugin is a module of ``@hookimpl`` functions registered under the entry-point
group ``cooperbench``; the entry-point name is the backend name users type
(``--backend NAME``). Every hook receives that selected name as ``backend`` and is
``firstresult``: an implementation returns ``None`` when ``backend`` is not its own, so
the first plugin that owns the name answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from cooperbench.markers import hookspec

if TYPE_CHECKING:
    from cooperbench.backend_status import BackendStatus
    from cooperbench.evaluation.types import EvalContext, EvalRequest, EvalResult
    from cooperbench.messaging.types import MessagingRequest, MessagingSession
    from cooperbench.sandbox import Sandbox, SandboxRequest


@hookspec(firstresult=True)
def create_sandbox(backend: str, request: SandboxRequest) -> Sandbox | None:
    """Create a sandbox for ``request`` on ``backend``.

    Called whenever cooperbench needs an isolated place to run commands: one per
    evaluated pair, one per agent in a run, and by ``Backend.create_sandbox``. The
    request names the image, the lifetime cap (``timeout`` seconds, after which the
    backend must stop the sandbox by itself), the working directory, the dataset task
    folder when there is one (to build or materialize the task image), labels naming the
    owning run, and whether network access is wanted.

    Returns a started :class:`~cooperbench.sandbox.Sandbox`, or ``None`` when
    ``backend`` is not this plugin's. Raise a :class:`~cooperbench.errors.CooperbenchError`
    subclass with an actionable message when the sandbox cannot be created.
    """


@hookspec(firstresult=True)
def setup_messaging(backend: str, request: MessagingRequest) -> MessagingSession | None:
    """Start the message bus (and, if requested, the shared git remote) for one run.

    Called by ``cooperbench run`` in the coop setting once per pair (each pair has its
    own namespace in ``request.run_id``), before that pair's agent sandboxes are
    created. The endpoints returned must be reachable from inside the sandboxes this
    backend creates for that run.

    Returns a :class:`~cooperbench.messaging.types.MessagingSession` (endpoints plus
    their teardown), or ``None`` when ``backend`` is not this plugin's.
    """


@hookspec(firstresult=True)
def evaluate_patch(
    backend: str, requests: Sequence[EvalRequest], context: EvalContext
) -> Sequence[EvalResult] | None:
    """Evaluate a batch of pairs: every pair evaluation one command wants.

    Called once per ``cooperbench eval`` (and by auto-evaluation during a run) with all
    the pairs to score. Implementations report each result through
    ``context.report(result)`` as soon as it is known (so progress shows and results
    are saved even if the batch is interrupted) and return all results in the order of
    ``requests``.

    Core ships a ``trylast`` default that runs the generic pipeline concurrently, one
    sandbox per pair, on top of :func:`create_sandbox`; a backend implements this hook
    only when it can do better (for example one cloud batch job per task image).
    Returns ``None`` when ``backend`` is not this plugin's.
    """


@hookspec(firstresult=True)
def check_backend(backend: str) -> BackendStatus | None:
    """Say whether ``backend`` can work on this machine right now.

    Called by ``cooperbench backends`` and before a command starts work, so a user
    learns that the daemon is down or credentials are missing before anything runs.
    Must be cheap and must not create resources. Returns a
    :class:`~cooperbench.backend_status.BackendStatus`, or ``None`` when ``backend`` is
    not this plugin's.
    """


@hookspec(firstresult=True)
def cleanup_resources(backend: str, dry_run: bool) -> Sequence[str] | None:
    """Remove what crashed or killed runs left behind on ``backend``.

    Called by ``cooperbench cleanup``. Only resources that cooperbench created (found
    by their labels) and whose owning process is gone may be removed: never those of a
    live run, never anything cooperbench did not create. With ``dry_run`` nothing is
    removed. Returns one line per resource (removed, or that would be removed), or
    ``None`` when ``backend`` is not this plugin's.
    """
