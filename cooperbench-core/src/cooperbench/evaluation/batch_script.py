"""A pair's steps as one shell script, for batch systems that cannot exec step by step.

A batch backend (one cloud job whose tasks each score one pair) cannot run the steps
of :mod:`cooperbench.evaluation.steps` one exec at a time. :func:`batch_bundle` renders
the very same steps, argv for argv and time limit for time limit, as a script plus the
files it stages, all under flat names (object stores and their mounts need no
directories). The task runs ``sh <IN>run.sh <IN> <OUT>``; every step leaves
``<OUT><step>.out``, ``.err`` and ``.status`` behind, and :func:`score_outputs` reads
them with the same :func:`~cooperbench.evaluation.steps.score` the pipeline uses.

The script needs only ``sh``, ``cp``, ``mkdir``, ``mktemp``, ``sleep`` and
``/proc/uptime``. A step past its time limit is killed with its whole process group
when the image has ``setsid`` (util-linux, busybox), else the step's own process.
"""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Callable, Mapping

import attrs

from cooperbench.errors import InfrastructureError
from cooperbench.evaluation.pipeline import error_result
from cooperbench.evaluation.steps import (
    MERGED_PATCH,
    EvalStep,
    PairSteps,
    score,
)
from cooperbench.evaluation.types import EvalResult
from cooperbench.exec_output import DEFAULT_OUTPUT_LIMIT, CappedOutput
from cooperbench.sandbox import ExecResult
from cooperbench.sandbox_paths import PATCHES_DIR, WORKSPACE_DIR

#: The script's name in the bundle.
SCRIPT = "run.sh"
#: The output written last, once every step has run (its content: :func:`pair_identity`).
DONE = "done"
#: The merged diff as the runner applied it, copied out for readers cut by the output limit.
MERGED = MERGED_PATCH

_STEP_FUNCTION = r"""
now() { read -r up _ < /proc/uptime && echo "$up"; }
# step NAME LIMIT DIR ARGV...: run ARGV in DIR, killed after LIMIT seconds.
step() {
  name=$1 limit=$2 dir=$3
  shift 3
  begin=$(now)
  if command -v setsid >/dev/null 2>&1; then
    (cd "$dir" && exec setsid "$@") >"$tmp/$name.out" 2>"$tmp/$name.err" </dev/null &
  else
    (cd "$dir" && exec "$@") >"$tmp/$name.out" 2>"$tmp/$name.err" </dev/null &
  fi
  pid=$!
  (sleep "$limit"; : >"$tmp/$name.killed"; kill -KILL -"$pid" || kill -KILL "$pid") \
    >/dev/null 2>&1 &
  dog=$!
  wait "$pid"
  rc=$?
  kill "$dog" 2>/dev/null
  end=$(now)
  timed=0
  [ -e "$tmp/$name.killed" ] && timed=1
  cp "$tmp/$name.out" "$out$name.out" && cp "$tmp/$name.err" "$out$name.err" \
    && echo "$rc $timed $begin $end" >"$out$name.status" || exit 1
  [ "$rc" = 0 ] && [ "$timed" = 0 ]
}
"""


def output_names(steps: PairSteps) -> tuple[str, ...]:
    """Every output name the script writes (under its ``OUT`` prefix)."""
    names = [f"{step.name}.{kind}" for step in steps.steps for kind in ("out", "err", "status")]
    return (*names, MERGED, DONE)


def batch_bundle(steps: PairSteps) -> dict[str, bytes]:
    """The script (:data:`SCRIPT`) and the staged files, by flat name (``file0``, ...)."""
    bundle: dict[str, bytes] = {}
    lines = [
        "#!/bin/sh",
        f"# Scores pair {steps.request.key} with cooperbench's pair steps.",
        "# Usage: sh run.sh IN OUT (path prefixes: staged files IN<name>, outputs OUT<name>)",
        "in=$1 out=$2",
        "tmp=$(mktemp -d) || exit 1",
        # A retried attempt must not leave an earlier attempt's outputs behind.
        "rm -f " + " ".join(f'"$out"{shlex.quote(n)}' for n in output_names(steps)),
    ]
    folders = sorted({posixpath.dirname(path) for path in steps.files})
    lines.append("mkdir -p " + " ".join(shlex.quote(f) for f in folders) + " || exit 1")
    for index, (path, content) in enumerate(sorted(steps.files.items())):
        name = f"file{index}"
        bundle[name] = content
        lines.append(f'cp "$in"{name} {shlex.quote(path)} || exit 1')
    lines.append(_STEP_FUNCTION)
    lines.append(_step_line(steps.prepare) + " && {")
    # The same readiness the verdict rules read: prepare.sh's "tests run" line.
    lines.append("  ready=0")
    lines.append("  while IFS= read -r line; do")
    lines.append('    [ "$line" = merged-diff ] && break')
    lines.append('    [ "$line" = "tests run" ] && ready=1')
    lines.append('  done <"$tmp/prepare.out"')
    lines.append('  if [ "$ready" = 1 ]; then')
    lines.extend(f"    {_step_line(step)}" for step in steps.features)
    lines.append("    :")
    lines.append("  fi")
    lines.append("}")
    lines.append(f'cp {shlex.quote(PATCHES_DIR + "/" + MERGED)} "$out"{MERGED} 2>/dev/null')
    lines.append(f'echo {shlex.quote(pair_identity(steps))} >"$out"{DONE} || exit 1')
    lines.append('rm -rf "$tmp"')
    lines.append("exit 0")
    bundle[SCRIPT] = ("\n".join(lines) + "\n").encode()
    return bundle


def pair_identity(steps: PairSteps) -> str:
    """What the script writes to :data:`DONE`: the pair's setting and key."""
    pair = steps.request.pair
    return f"{pair.setting} {pair.key}"


def _step_line(step: EvalStep) -> str:
    words = [step.name, str(step.timeout), step.cwd or WORKSPACE_DIR, *step.argv]
    return "step " + " ".join(shlex.quote(word) for word in words)


def step_output(outputs: Mapping[str, bytes], step: EvalStep) -> ExecResult | None:
    """What ``step`` printed, from the script's outputs; ``None`` if it did not finish."""
    status = outputs.get(f"{step.name}.status")
    if status is None:
        return None
    try:
        rc, timed, begin, end = status.decode().split()
        returncode, timed_out, duration = int(rc), timed == "1", float(end) - float(begin)
    except ValueError as exc:
        raise InfrastructureError(f"bad status of step {step.name}: {status[:100]!r}") from exc
    streams = []
    for kind in ("out", "err"):
        capped = CappedOutput(DEFAULT_OUTPUT_LIMIT)
        capped.append(outputs.get(f"{step.name}.{kind}", b""))
        streams.append(capped)
    return ExecResult(
        returncode,
        streams[0].render(),
        streams[1].render(),
        timed_out=timed_out,
        duration=max(0.0, duration),
        stdout_dropped=streams[0].dropped,
        stderr_dropped=streams[1].dropped,
    )


def score_outputs(
    steps: PairSteps,
    outputs: Mapping[str, bytes],
    unfinished: Callable[[EvalStep], ExecResult] | None = None,
) -> EvalResult:
    """The pair's result from the script's ``outputs`` (output name -> content).

    A step without output is an infrastructure error (the task was lost), unless
    ``unfinished`` says what it amounts to (a task killed at its maximum run duration:
    a step that timed out). Scoring is :func:`~cooperbench.evaluation.steps.score`.
    """
    done, identity = outputs.get(DONE), pair_identity(steps)
    if done is not None and done.decode(errors="replace").strip() != identity:
        message = f"the outputs are of another pair ({done[:200]!r}), not {identity}"
        return error_result(steps.request, message)

    def run(step: EvalStep) -> ExecResult:
        found = step_output(outputs, step)
        if found is not None:
            return found
        if unfinished is not None:
            return unfinished(step)
        raise InfrastructureError(f"the batch task left no output of step {step.name}")

    def read_file(path: str) -> bytes:
        if path == f"{PATCHES_DIR}/{MERGED}" and MERGED in outputs:
            return outputs[MERGED]
        raise InfrastructureError(f"the batch task left no copy of {path}")

    try:
        result = score(steps, run, read_file)
    except InfrastructureError as exc:
        return error_result(steps.request, str(exc), exc.kind)
    # The phases took place in the task, not while its outputs were read here.
    ran = {step.name: step_output(outputs, step) for step in steps.steps}
    seconds = {name: output.duration for name, output in ran.items() if output is not None}
    tests = sum(seconds.get(step.name, 0.0) for step in steps.features)
    timings = {"patch_setup": seconds.get(steps.prepare.name, 0.0), "tests": tests}
    return attrs.evolve(result, timings=timings, duration_seconds=sum(timings.values()))
