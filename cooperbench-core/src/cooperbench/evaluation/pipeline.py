"""Score one pair inside one sandbox.

Steps, as the published scorer defines them: drop the agents' test-file edits; put each
agent's patch on its own branch from the base commit (``git apply``, then 3-way);
merge (plain, then the ``union`` driver); then, for each feature, run the task's
runner with that feature's hidden tests on the merged code. Patches travel as files,
so their size does not matter.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone
from importlib import resources

from cooperbench.errors import InfrastructureError
from cooperbench.evaluation import testresults
from cooperbench.evaluation.hidden_tests import added_tests
from cooperbench.evaluation.patches import drop_test_files
from cooperbench.evaluation.protected import pathspec_file
from cooperbench.evaluation.types import (
    INFRASTRUCTURE_ERROR,
    EvalRequest,
    EvalResult,
    FeatureResult,
    MergeResult,
)
from cooperbench.evaluation.verdict import Evidence, judge, never_started
from cooperbench.sandbox import Sandbox
from cooperbench.sandbox_paths import PATCHES_DIR, REPO_DIR, SCRATCH_DIR

MERGED_PATCH = "merged.patch"
PLUGIN = "cooperbench_report"
PLUGIN_DIR = f"{SCRATCH_DIR}/pytest"
PATHSPECS = f"{SCRATCH_DIR}/protected.pathspec"
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


def now_iso() -> str:
    """The current UTC time in ISO 8601."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def evaluate_pair(sandbox: Sandbox, request: EvalRequest) -> EvalResult:
    """Evaluate ``request`` in ``sandbox`` (already created from the task image).

    The result's ``timings`` has ``patch_setup`` (staging the patches, branching and
    merging) and ``tests`` (running every feature's tests and collecting the reports).
    """
    started = time.monotonic()
    timings: dict[str, float] = {}
    pair = request.pair
    try:
        names, patch_files = _stage_patches(sandbox, request)
        apply_status, merge, protected = _prepare(
            sandbox, names, patch_files, solo=pair.setting == "solo"
        )
        # A failed patch leaves its branch at the base: the published scorer still
        # merges and tests the rest (reporting missing_input), and so does this one.
        ready = (merge is None and all(s != "failed" for s in apply_status.values())) or (
            merge is not None and merge.status != "error"
        )
        timings["patch_setup"] = time.monotonic() - started
        tests_started = time.monotonic()
        if ready:
            features = _run_features(sandbox, request)
        else:
            reason = _not_run_reason(merge)
            features = tuple(
                FeatureResult(f, False, None, test_output=reason) for f in pair.features
            )
        timings["tests"] = time.monotonic() - tests_started
    except InfrastructureError as exc:
        return _error(request, str(exc), exc.kind, started, timings=timings)
    except Exception as exc:  # noqa: BLE001 - any backend failure is infrastructure
        message = f"{type(exc).__name__}: {exc}"
        return _error(request, message, INFRASTRUCTURE_ERROR, started, timings=timings)
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


def _stage_patches(sandbox: Sandbox, request: EvalRequest) -> tuple[list[str], list[str]]:
    pair = request.pair
    script = resources.files("cooperbench.evaluation").joinpath("prepare.sh").read_bytes()
    plugin = resources.files("cooperbench.evaluation").joinpath(f"{PLUGIN}.py").read_bytes()
    files: dict[str, bytes | str] = {
        f"{SCRATCH_DIR}/prepare.sh": script,
        f"{PLUGIN_DIR}/{PLUGIN}.py": plugin,
        PATHSPECS: pathspec_file(),
    }
    for feature_id in pair.features:
        tests = request.task.feature(feature_id).tests_patch_path.read_bytes()
        files[f"{PATCHES_DIR}/tests{feature_id}.patch"] = tests
    if pair.setting == "solo":
        sources: list[tuple[str, int | None]] = [("solo", None)]
    else:
        sources = [(f"agent{index}", fid) for index, fid in enumerate(pair.features, start=1)]
    names, paths = [], []
    for name, owner in sources:
        patch, _dropped = drop_test_files(pair.read_patch(owner) or "")
        path = f"{PATCHES_DIR}/{name}.patch"
        files[path] = patch
        names.append(name)
        paths.append(path)
    # One call, so backends that pay per transfer (Docker's archive API) pay once.
    sandbox.write_files(files)
    return names, paths


def _prepare(
    sandbox: Sandbox, names: list[str], files: list[str], *, solo: bool
) -> tuple[dict[str, str], MergeResult | None, tuple[str, ...]]:
    specs = [f"{name}={path}" for name, path in zip(names, files, strict=True)]
    done = sandbox.exec(
        "sh",
        f"{SCRATCH_DIR}/prepare.sh",
        REPO_DIR,
        f"{PATCHES_DIR}/{MERGED_PATCH}",
        PATHSPECS,
        *specs,
        timeout=300,
    )
    if done.returncode in (90, 91):
        raise InfrastructureError(f"no git repository at {REPO_DIR} in the task image")
    if not done.ok:
        raise InfrastructureError(f"preparing the branches failed: {done.stderr_read()[-500:]}")
    report, marker, diff = done.stdout.partition(b"merged-diff\n")
    apply_status: dict[str, str] = {}
    merge = None
    protected = []
    for line in report.decode("utf-8", "replace").splitlines():
        parts = line.split()
        if line.startswith("protected "):
            protected.append(line[len("protected ") :])
        elif len(parts) == 3 and parts[0] == "apply":
            apply_status[parts[1]] = parts[2]
        elif len(parts) == 3 and parts[0] == "merge":
            merge = MergeResult(parts[1], None if parts[2] == "-" else parts[2])
    if set(apply_status) != set(names) or (merge is None and not solo):
        raise InfrastructureError(f"unexpected output while preparing: {done.stdout_read()[:500]}")
    if solo or merge is None:
        return apply_status, None, tuple(protected)
    if marker:
        if done.stdout_dropped:
            # The output cap cut the diff; the file the runner applies is whole.
            diff = sandbox.read_file(f"{PATCHES_DIR}/{MERGED_PATCH}")
        merge = MergeResult(merge.status, merge.strategy, diff.decode("utf-8", "replace"))
    return apply_status, merge, tuple(protected)


def _run_features(sandbox: Sandbox, request: EvalRequest) -> tuple[FeatureResult, ...]:
    return tuple(_run_feature(sandbox, request, f) for f in request.pair.features)


def _run_feature(sandbox: Sandbox, request: EvalRequest, feature_id: int) -> FeatureResult:
    boundary = f"cooperbench-report-{uuid.uuid4().hex}".encode()
    result = sandbox.exec(
        "sh",
        "-c",
        _RUN_TESTS,
        "runner.sh",
        PLUGIN_DIR,
        boundary.decode(),
        f"tests{feature_id}.patch",
        MERGED_PATCH,
        timeout=request.timeout,
        cwd=REPO_DIR,
    )
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


def _error(
    request: EvalRequest,
    message: str,
    kind: str,
    started: float,
    apply_status: dict[str, str] | None = None,
    merge: MergeResult | None = None,
    features: tuple[FeatureResult, ...] = (),
    timings: dict[str, float] | None = None,
) -> EvalResult:
    return EvalResult(
        pair=request.pair,
        apply_status=apply_status or {},
        merge=merge,
        features=features,
        error=message,
        error_kind=kind,
        evaluated_at=now_iso(),
        duration_seconds=time.monotonic() - started,
        timings=timings or {},
    )


def infrastructure_error(request: EvalRequest, message: str, started: float) -> EvalResult:
    """An error result for a pair whose sandbox could not even be created."""
    return _error(request, message, INFRASTRUCTURE_ERROR, started)
