"""The one definition of how a pair is scored: the files, the commands, and their reading.

Every backend scores a pair with the same steps, whether it runs them one by one in a
sandbox (core's pipeline) or hands them to a batch system as one script
(:func:`batch_script`): stage the files of :attr:`PairSteps.files`, run ``prepare``
(branches, merge, protected paths), then, when it says the tests can run, one step per
feature (the task's runner with that feature's hidden tests on the merged code).
:func:`score` turns the steps' outputs into the pair's :class:`EvalResult`, wherever
they came from, so a batch backend cannot reach other verdicts than the pipeline.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from importlib import resources

import attrs

from cooperbench.errors import InfrastructureError
from cooperbench.evaluation import testresults
from cooperbench.evaluation.hidden_tests import added_tests
from cooperbench.evaluation.patches import drop_test_files
from cooperbench.evaluation.protected import pathspec_file
from cooperbench.evaluation.types import EvalRequest, EvalResult, FeatureResult, MergeResult
from cooperbench.evaluation.verdict import Evidence, judge, never_started
from cooperbench.sandbox import ExecResult
from cooperbench.sandbox_paths import PATCHES_DIR, REPO_DIR, SCRATCH_DIR

MERGED_PATCH = "merged.patch"
PLUGIN = "cooperbench_report"
PLUGIN_DIR = f"{SCRATCH_DIR}/pytest"
PATHSPECS = f"{SCRATCH_DIR}/protected.pathspec"
PREPARE_SCRIPT = f"{SCRATCH_DIR}/prepare.sh"
#: Seconds the prepare step (staging, branching, merging) may take.
PREPARE_TIMEOUT = 300
#: The name of the prepare step; feature steps are ``feature<ID>``.
PREPARE = "prepare"
# Runs the task's runner with the report plugin, then appends the report to the output
# after a random boundary line, so it comes back in the same transfer. The report file
# is deleted before the runner starts: the test process holds only a descriptor, and no
# report path exists in its environment or on disk. Arguments: plugin directory,
# boundary, then the runner's own arguments.
_RUN_TESTS = (
    "plugins=$1; boundary=$2; shift 2; report=$(mktemp) || exit 125; "
    'exec 3>"$report" 4<"$report"; rm -f "$report"; '
    'COOPERBENCH_REPORT_FD=3 COOPERBENCH_REPORT_DIR="$plugins" '
    'PYTHONPATH="$plugins${PYTHONPATH:+:$PYTHONPATH}" '
    f'PYTEST_ADDOPTS="-p {PLUGIN}${{PYTEST_ADDOPTS:+ $PYTEST_ADDOPTS}}" '
    'runner.sh "$@" 4<&-; rc=$?; exec 3>&-; '
    'printf "\\n%s\\n" "$boundary"; cat <&4; exit $rc'
)
# Keep the end of long runner logs: failures are reported last.
OUTPUT_LIMIT = 64 * 1024
# The line prepare.sh prints when the tests can run on what it prepared.
_READY = "tests run"


@attrs.frozen
class EvalStep:
    """One command of a pair's evaluation: its argv, time limit and working directory."""

    name: str
    argv: tuple[str, ...]
    timeout: int
    cwd: str | None = None


@attrs.frozen
class PairSteps:
    """Everything one pair's evaluation runs: files to stage, then ``prepare``, then tests."""

    request: EvalRequest
    #: Sandbox path -> content, staged before any step runs.
    files: Mapping[str, bytes]
    #: The branch names, one per patch (``solo``, or ``agent1``, ``agent2``, ...).
    agents: tuple[str, ...]
    prepare: EvalStep
    features: tuple[EvalStep, ...]
    boundary: str

    @property
    def steps(self) -> tuple[EvalStep, ...]:
        """Every step in order: ``prepare``, then one per feature."""
        return (self.prepare, *self.features)


def now_iso() -> str:
    """The current UTC time in ISO 8601."""
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def pair_steps(request: EvalRequest) -> PairSteps:
    """The files and commands that score ``request`` (agents' test-file edits dropped)."""
    pair = request.pair
    package = resources.files("cooperbench.evaluation")
    files: dict[str, bytes] = {
        PREPARE_SCRIPT: package.joinpath("prepare.sh").read_bytes(),
        f"{PLUGIN_DIR}/{PLUGIN}.py": package.joinpath(f"{PLUGIN}.py").read_bytes(),
        PATHSPECS: pathspec_file().encode(),
    }
    for feature_id in pair.features:
        tests = request.task.feature(feature_id).tests_patch_path.read_bytes()
        files[f"{PATCHES_DIR}/tests{feature_id}.patch"] = tests
    if pair.setting == "solo":
        sources: list[tuple[str, int | None]] = [("solo", None)]
    else:
        sources = [(f"agent{index}", fid) for index, fid in enumerate(pair.features, start=1)]
    specs = []
    for name, owner in sources:
        patch, _dropped = drop_test_files(pair.read_patch(owner) or "")
        path = f"{PATCHES_DIR}/{name}.patch"
        files[path] = patch.encode()
        specs.append(f"{name}={path}")
    prepare = EvalStep(
        PREPARE,
        ("sh", PREPARE_SCRIPT, REPO_DIR, f"{PATCHES_DIR}/{MERGED_PATCH}", PATHSPECS, *specs),
        PREPARE_TIMEOUT,
    )
    boundary = f"cooperbench-report-{uuid.uuid4().hex}"
    features = tuple(
        EvalStep(
            f"feature{feature_id}",
            (
                "sh",
                "-c",
                _RUN_TESTS,
                "runner.sh",
                PLUGIN_DIR,
                boundary,
                f"tests{feature_id}.patch",
                MERGED_PATCH,
            ),
            request.timeout,
            REPO_DIR,
        )
        for feature_id in pair.features
    )
    return PairSteps(request, files, tuple(n for n, _ in sources), prepare, features, boundary)


def score(
    steps: PairSteps,
    run: Callable[[EvalStep], ExecResult],
    read_file: Callable[[str], bytes],
    timings: dict[str, float] | None = None,
    *,
    started: float | None = None,
) -> EvalResult:
    """Score the pair of ``steps``, running each step with ``run``.

    ``run`` executes a step (or, for a batch backend, returns what the step printed);
    ``read_file`` reads a sandbox file (only the merged diff, when the output limit cut
    it). Phase times go to ``timings`` (``patch_setup``, ``tests``), counted from
    ``started`` (a ``time.monotonic()`` value; now by default). Raises
    :class:`InfrastructureError` when the sandbox or task image cannot score the pair.
    """
    timings = {} if timings is None else timings
    pair = steps.request.pair
    started = time.monotonic() if started is None else started
    apply_status, merge, protected, ready = _read_prepare(
        steps, run(steps.prepare), read_file, solo=pair.setting == "solo"
    )
    timings["patch_setup"] = time.monotonic() - started
    tests_started = time.monotonic()
    if ready:
        features = tuple(
            _read_feature(steps, feature_id, run(step))
            for feature_id, step in zip(pair.features, steps.features, strict=True)
        )
    else:
        # A failed patch leaves its branch at the base: the published scorer still
        # merges and tests the rest (reporting missing_input); prepare.sh says when
        # nothing is left to test.
        reason = _not_run_reason(merge)
        features = tuple(FeatureResult(f, False, None, test_output=reason) for f in pair.features)
    timings["tests"] = time.monotonic() - tests_started
    # A run killed at its timeout is a failure of that feature (the code under test
    # may be what hangs), recorded with timed_out: it is a verdict, not retried.
    return EvalResult(
        pair=pair,
        apply_status=apply_status,
        merge=merge,
        features=features,
        evaluated_at=now_iso(),
        duration_seconds=time.monotonic() - started,
        timings=timings,
        protected_paths=protected,
    )


def _read_prepare(
    steps: PairSteps, done: ExecResult, read_file: Callable[[str], bytes], *, solo: bool
) -> tuple[dict[str, str], MergeResult | None, tuple[str, ...], bool]:
    if done.returncode in (90, 91):
        raise InfrastructureError(f"no git repository at {REPO_DIR} in the task image")
    if not done.ok:
        raise InfrastructureError(f"preparing the branches failed: {done.stderr_read()[-500:]}")
    report, marker, diff = done.stdout.partition(b"merged-diff\n")
    apply_status: dict[str, str] = {}
    merge = None
    protected = []
    ready = False
    for line in report.decode("utf-8", "replace").splitlines():
        parts = line.split()
        if line.startswith("protected "):
            protected.append(line[len("protected ") :])
        elif line == _READY:
            ready = True
        elif len(parts) == 3 and parts[0] == "apply":
            apply_status[parts[1]] = parts[2]
        elif len(parts) == 3 and parts[0] == "merge":
            merge = MergeResult(parts[1], None if parts[2] == "-" else parts[2])
    if set(apply_status) != set(steps.agents) or (merge is None and not solo):
        raise InfrastructureError(f"unexpected output while preparing: {done.stdout_read()[:500]}")
    if solo or merge is None:
        return apply_status, None, tuple(protected), ready
    if marker:
        if done.stdout_dropped:
            # The output cap cut the diff; the file the runner applies is whole.
            diff = read_file(f"{PATCHES_DIR}/{MERGED_PATCH}")
        merge = MergeResult(merge.status, merge.strategy, diff.decode("utf-8", "replace"))
    return apply_status, merge, tuple(protected), ready


def _read_feature(steps: PairSteps, feature_id: int, result: ExecResult) -> FeatureResult:
    request = steps.request
    boundary = steps.boundary.encode()
    stdout, marker, report = result.stdout.rpartition(b"\n" + boundary + b"\n")
    if not marker:
        stdout, report = result.stdout, b""
    started, _, junit_xml = report.partition(b"\n")
    text = stdout.decode("utf-8", "replace")
    output = text + result.stderr_read()
    if result.returncode == 127 and "runner.sh" in output and "not found" in output:
        raise InfrastructureError("runner.sh is not on PATH in the task image")
    tests_patch = request.task.feature(feature_id).tests_patch_path.read_text(errors="replace")
    evidence = Evidence(
        exit_code=result.returncode,
        output=output,
        stdout=text,
        started=started == b"started",
        report=testresults.parse_junit(junit_xml) if junit_xml.strip() else None,
        hidden=added_tests(tests_patch),
    )
    if result.timed_out:
        return FeatureResult(
            feature_id,
            False,
            result.returncode,
            test_output=output[-OUTPUT_LIMIT:],
            duration_seconds=result.duration,
            timed_out=True,
            reason=f"tests killed at the {request.timeout}s timeout",
        )
    missing_runner = never_started(evidence)
    if missing_runner is not None:
        raise InfrastructureError(f"feature {feature_id}: {missing_runner}")
    verdict = judge(evidence)
    passed, failed = testresults.count(list(verdict.cases))
    return FeatureResult(
        feature_id,
        verdict.passed,
        result.returncode,
        tests_passed=passed,
        tests_failed=failed,
        tests_total=len(verdict.cases),
        test_output=output[-OUTPUT_LIMIT:],
        test_results=verdict.cases,
        duration_seconds=result.duration,
        results_source=verdict.source,
        reason=verdict.suspicious,
        suspicious=verdict.suspicious,
    )


def _not_run_reason(merge: MergeResult | None) -> str:
    if merge is None:
        return "tests not run: the patch did not apply"
    return "tests not run: the branches could not be merged"
