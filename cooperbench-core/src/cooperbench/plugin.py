"""Everything a backend plugin author needs, in one import.

A backend plugin imports only from here::

    from cooperbench.plugin import BackendStatus, SandboxBase, SandboxRequest, hookimpl

The hooks themselves (what each receives, when it is called, an example of each) are
documented in :mod:`cooperbench.hookspecs` and ``docs/plugins.md``. The names below are
the stable plugin API: they keep their meaning across minor versions of
``cooperbench-core``. Run :class:`cooperbench.testing.SandboxConformance` (needs
``cooperbench-core[testing]``) to check a backend against the sandbox contract. A
batch backend that cannot exec step by step scores pairs with :func:`pair_steps`,
:func:`batch_bundle` (the same steps as one script) and :func:`score_outputs` (the
same verdict rules), never with steps of its own.
"""

from __future__ import annotations

from cooperbench import labels
from cooperbench.backend_options import BackendOption, option_values, parse_size
from cooperbench.backend_status import BackendStatus
from cooperbench.errors import (
    AgentError,
    BackendUnavailableError,
    CooperbenchError,
    DatasetError,
    InfrastructureError,
    LogsError,
    MessagingConnectionError,
    MessagingError,
    PatchError,
    PluginConflictError,
    PluginLoadError,
    SandboxError,
    SandboxFileNotFoundError,
    SandboxIsADirectoryError,
    SandboxPermissionError,
    SandboxTerminatedError,
    SandboxTimeoutError,
    UnknownAgentError,
    UnknownBackendError,
    UsageError,
)
from cooperbench.evaluation.batch import sandbox_lifetime
from cooperbench.evaluation.batch import sandbox_request as eval_sandbox_request
from cooperbench.evaluation.batch_script import batch_bundle, output_names, score_outputs
from cooperbench.evaluation.pipeline import error_result, evaluate_pair
from cooperbench.evaluation.steps import EvalStep, PairSteps, pair_steps
from cooperbench.evaluation.types import (
    INFRASTRUCTURE_ERROR,
    EvalContext,
    EvalRequest,
    EvalResult,
    FeatureResult,
    MergeResult,
    TestCaseResult,
)
from cooperbench.exec_kill import EXEC_TOKEN_VAR, KILL_SCRIPT, KILLED_STATUS, exec_wrapper
from cooperbench.exec_output import DEFAULT_OUTPUT_LIMIT, CappedOutput, truncation_marker
from cooperbench.labels import owner_is_alive, owner_labels
from cooperbench.local.sandbox import LocalSandbox
from cooperbench.markers import hookimpl
from cooperbench.messaging.resp import connect as connect_redis
from cooperbench.messaging.types import (
    DEFAULT_MESSAGING_LIFETIME,
    MessagingRequest,
    MessagingSession,
)
from cooperbench.messaging.url import RedisUrl
from cooperbench.progress import StepEvent, report_step
from cooperbench.sandbox import (
    DEFAULT_SANDBOX_TIMEOUT,
    DEFAULT_WORKDIR,
    ExecResult,
    Sandbox,
    SandboxBase,
    SandboxRequest,
)

__all__ = [
    "DEFAULT_MESSAGING_LIFETIME",
    "DEFAULT_OUTPUT_LIMIT",
    "DEFAULT_SANDBOX_TIMEOUT",
    "DEFAULT_WORKDIR",
    "EXEC_TOKEN_VAR",
    "INFRASTRUCTURE_ERROR",
    "KILLED_STATUS",
    "KILL_SCRIPT",
    "AgentError",
    "BackendOption",
    "BackendStatus",
    "BackendUnavailableError",
    "CappedOutput",
    "CooperbenchError",
    "DatasetError",
    "EvalContext",
    "EvalRequest",
    "EvalResult",
    "EvalStep",
    "ExecResult",
    "FeatureResult",
    "InfrastructureError",
    "LocalSandbox",
    "LogsError",
    "MergeResult",
    "MessagingConnectionError",
    "MessagingError",
    "MessagingRequest",
    "MessagingSession",
    "PairSteps",
    "PatchError",
    "PluginConflictError",
    "PluginLoadError",
    "RedisUrl",
    "Sandbox",
    "SandboxBase",
    "SandboxError",
    "SandboxFileNotFoundError",
    "SandboxIsADirectoryError",
    "SandboxPermissionError",
    "SandboxRequest",
    "SandboxTerminatedError",
    "SandboxTimeoutError",
    "StepEvent",
    "TestCaseResult",
    "UnknownAgentError",
    "UnknownBackendError",
    "UsageError",
    "batch_bundle",
    "connect_redis",
    "error_result",
    "eval_sandbox_request",
    "evaluate_pair",
    "exec_wrapper",
    "hookimpl",
    "labels",
    "option_values",
    "output_names",
    "owner_is_alive",
    "owner_labels",
    "pair_steps",
    "parse_size",
    "report_step",
    "sandbox_lifetime",
    "score_outputs",
    "truncation_marker",
]
