#!/usr/bin/env bash
# Prepare a machine for the test suite: Debian packages, a running Docker
# engine and the local base image. Each step is idempotent and a fast no-op
# when already done.
set -euo pipefail

SCRIPT="$(basename "$0" .sh)"
log() { echo "[$SCRIPT] $*" >&2; }

HERE="$(cd "$(dirname "$0")" && pwd)"
summary=()
now() { echo "${EPOCHREALTIME/,/.}"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }
total0=$(now)

run_step() {
    local step="$1" t0 rc=0
    t0=$(now)
    log "=== $step"
    bash "$HERE/$step" || rc=$?
    summary+=("$(printf '%-22s %7s  %s' "$step" "$(elapsed "$t0")" "$([ "$rc" -eq 0 ] && echo ok || echo "FAILED (exit $rc)")")")
    if [ "$rc" -ne 0 ]; then
        log "$step failed (exit $rc)"
        print_summary
        exit "$rc"
    fi
}

print_summary() {
    log "timing:"
    local line
    for line in "${summary[@]}"; do log "  $line"; done
    log "  $(printf '%-22s %7s' total "$(elapsed "$total0")")"
}

run_step setup-system.sh
run_step start-docker.sh
run_step build-base-image.sh
print_summary
