#!/usr/bin/env bash
# Test entry point of this task.
#
#   runner.sh <tests.patch> [<feature.patch>]
#
# Patch names are relative to the patches directory. The repository is reset
# to its base commit, the feature patch (if given and non-empty) and then the
# tests patch are applied, and the test suite runs. The exit code is pytest's
# (2 when a patch cannot be applied).
#
# SANDBOX_ROOT is only set by a host-process sandbox; inside the task image it
# is unset and the real /workspace/repo and /patches are used.
set -o pipefail

ROOT="${SANDBOX_ROOT:-}"
REPO="$ROOT/workspace/repo"
PATCHES="$ROOT/patches"

if [ "$#" -lt 1 ] || [ "$#" -gt 2 ]; then
    echo "usage: runner.sh <tests.patch> [<feature.patch>]" >&2
    exit 2
fi
TESTS_PATCH="$1"
FEATURE_PATCH="${2:-}"

apply_patch() {
    local file="$PATCHES/$1"
    if [ ! -f "$file" ]; then
        echo "runner: patch not found: $file" >&2
        return 1
    fi
    if [ ! -s "$file" ]; then
        echo "runner: $1 is empty, nothing to apply"
        return 0
    fi
    if git apply "$file" 2>/dev/null; then
        echo "runner: applied $1"
        return 0
    fi
    if git apply --3way "$file"; then
        echo "runner: applied $1 (3-way)"
        return 0
    fi
    echo "runner: could not apply $1" >&2
    return 1
}

cd "$REPO" || { echo "runner: repository not found at $REPO" >&2; exit 2; }
git reset --hard -q || exit 2
git clean -fdxq || exit 2

if [ -n "$FEATURE_PATCH" ] && [ -s "$PATCHES/$FEATURE_PATCH" ]; then
    apply_patch "$FEATURE_PATCH" || exit 2
fi
apply_patch "$TESTS_PATCH" || exit 2

export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
python3 -m pytest -q -p no:cacheprovider tests/
exit $?
