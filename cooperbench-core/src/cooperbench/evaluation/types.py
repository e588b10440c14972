"""Value types of evaluation: requests, per-test and per-feature results, eval.json."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from cooperbench.dataset import Task
from cooperbench.errors import INFRASTRUCTURE
from cooperbench.logs import PairRun

if TYPE_CHECKING:
    from cooperbench.sandbox import Sandbox, SandboxRequest

#: ``EvalResult.error_kind`` of a failure of the harness or backend, not of the agents.
#: Such results are retried by the next ``cooperbench eval``.
INFRASTRUCTURE_ERROR = INFRASTRUCTURE
#: ``error_kind`` older versions gave a pair whose tests timed out. Such pairs are
#: evaluated again; a timeout is now a failed feature with ``timed_out`` set.
TIMEOUT_ERROR = "timeout"

PASSED = "passed"
FAILED = "failed"
ERROR = "error"
SKIPPED = "skipped"
#: The statuses that are a verdict on the agents' work (an error is not: it is retried).
VERDICTS = (PASSED, FAILED)


#: Seconds one feature's test run may take unless the user says otherwise.
DEFAULT_TEST_TIMEOUT = 900


@attrs.frozen
class EvalRequest:
    """One pair to evaluate: its logs, its dataset task and the image to run it in."""

    pair: PairRun
    task: Task
    image: str
    timeout: int = DEFAULT_TEST_TIMEOUT

    @property
    def key(self) -> str:
        """The pair's summary key."""
        return self.pair.key


@attrs.frozen
class TestCaseResult:
    """The outcome of one test."""

    test_name: str
    status: str  # passed | failed | error | skipped
    duration: float = 0.0
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The eval.json form."""
        return attrs.asdict(self)


@attrs.frozen
class FeatureResult:
    """One feature's hidden tests run on the merged code."""

    feature_id: int
    passed: bool
    exit_code: int | None
    tests_passed: int = 0
    tests_failed: int = 0
    tests_total: int = 0
    test_output: str = ""
    test_results: tuple[TestCaseResult, ...] = ()
    duration_seconds: float = 0.0
    timed_out: bool = False
    results_source: str = "none"  # junit | go | cargo | jest | none
    #: Why the feature failed when its tests do not say it: a timeout or a suspicion.
    reason: str | None = None
    #: How the run's evidence disagreed (report, exit status, summary, hidden tests).
    suspicious: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The eval.json form (published fields plus per-test detail)."""
        return {
            "feature_id": self.feature_id,
            "passed": self.passed,
            "success": self.passed,
            "exit_code": self.exit_code,
            "tests_passed": self.tests_passed,
            "tests_failed": self.tests_failed,
            "tests_total": self.tests_total,
            "test_results": [case.to_json() for case in self.test_results],
            "results_source": self.results_source,
            "timed_out": self.timed_out,
            "reason": self.reason,
            "suspicious": self.suspicious,
            "duration_seconds": round(self.duration_seconds, 3),
            "test_output": self.test_output,
        }


@attrs.frozen
class MergeResult:
    """How the agents' branches merged."""

    status: str  # clean | conflicts | missing_input | error
    strategy: str | None  # naive | union | None
    diff: str = ""

    def to_json(self) -> dict[str, Any]:
        """The eval.json form."""
        return {"status": self.status, "strategy": self.strategy, "diff": self.diff}


@attrs.frozen
class EvalResult:
    """Everything eval.json says about one pair."""

    pair: PairRun
    apply_status: Mapping[str, str] = attrs.field(factory=dict)
    merge: MergeResult | None = None
    features: tuple[FeatureResult, ...] = ()
    error: str | None = None
    error_kind: str | None = None
    evaluated_at: str = ""
    duration_seconds: float = 0.0
    #: Seconds per phase: ``image``, ``sandbox_start``, ``patch_setup``, ``tests``,
    #: ``teardown`` (those the evaluation got to; backends may add their own).
    timings: Mapping[str, float] = attrs.field(factory=dict)
    #: Where the verdict came from: ``backend``, ``image``, ``image_id`` (where the
    #: backend knows it), ``test_timeout`` and ``cooperbench_version``.
    provenance: Mapping[str, Any] = attrs.field(factory=dict)
    #: Paths the agents changed that the hidden tests ran without (reverted to the base
    #: commit or removed): tests, test configuration, import hooks, runner shadows.
    protected_paths: tuple[str, ...] = ()

    @property
    def timed_out(self) -> bool:
        """True when some feature's tests were killed at the timeout."""
        return any(f.timed_out for f in self.features)

    @property
    def suspicious(self) -> bool:
        """True when some feature's evidence disagreed (see ``FeatureResult.suspicious``)."""
        return any(f.suspicious for f in self.features)

    @property
    def both_passed(self) -> bool:
        """True when every feature passed and nothing went wrong."""
        return self.error is None and bool(self.features) and all(f.passed for f in self.features)

    @property
    def status(self) -> str:
        """``passed``, ``failed`` or ``error`` (harness or backend failure)."""
        if self.error_kind is not None:
            return ERROR
        return PASSED if self.both_passed else FAILED

    def to_json(self) -> dict[str, Any]:
        """The eval.json document: the published schema plus per-test detail."""
        pair = self.pair
        document: dict[str, Any] = {
            "repo": pair.repo,
            "task_id": pair.task_id,
            "features": list(pair.features),
            "setting": pair.setting,
            "apply_status": dict(self.apply_status),
            "merge": self.merge.to_json() if self.merge is not None else None,
            "protected_paths": list(self.protected_paths),
        }
        for index, feature in enumerate(self.features, start=1):
            document[f"feature{index}"] = feature.to_json()
        document.update(
            {
                "both_passed": self.both_passed,
                "status": self.status,
                "timed_out": self.timed_out,
                "suspicious": self.suspicious,
                "error": self.error,
                "error_kind": self.error_kind,
                "evaluated_at": self.evaluated_at,
                "duration_seconds": round(self.duration_seconds, 3),
                "timings": {phase: round(t, 3) for phase, t in self.timings.items()},
                **self.provenance,
            }
        )
        return document


@attrs.define
class EvalContext:
    """What an ``evaluate_patch`` implementation gets besides the requests.

    ``create_sandbox`` creates a sandbox on the selected backend (through its own
    ``create_sandbox`` hook). ``report`` must be called once per finished pair (from any
    thread); it saves the result and advances progress. ``cancel`` is set when the user
    interrupts: stop starting new pairs and tear down running sandboxes.
    ``sandbox_options`` are the backend's checked options, for every sandbox request.
    ``start_ahead`` lets core's default pipeline start a worker's next sandbox while its
    current pair is evaluated (up to two sandboxes per worker); when False, ``concurrency``
    is also the most sandboxes alive at once. A backend chooses it by declaring the
    boolean option ``start_ahead`` (its default, or the user's value, applies); backends
    that do not declare it keep the overlap.
    """

    create_sandbox: Callable[[SandboxRequest], Sandbox]
    concurrency: int = 10
    report: Callable[[EvalResult], None] = lambda result: None
    cancel: threading.Event = attrs.field(factory=threading.Event)
    labels: Mapping[str, str] = attrs.field(factory=dict)
    sandbox_options: Mapping[str, Any] = attrs.field(factory=dict)
    start_ahead: bool = True
