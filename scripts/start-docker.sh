#!/usr/bin/env bash
# Start the Docker engine (dockerd from Debian's docker.io) in the background
# if it is not already answering.
#
# Idempotent: exits 0 at once when `docker info` works.
#
# Flags: on this machine kind (Debian 12 in a VM, kernel with overlayfs,
# bridge, veth, netfilter/nf_tables built in, cgroup v1 controllers mounted)
# dockerd runs with its defaults: storage driver overlay2, iptables on (the
# iptables-nft backend works), default bridge and user-defined bridge
# networks with embedded DNS. The fallbacks below only kick in on a machine
# where that is not so:
#   * overlay2 fails (e.g. /var/lib/docker on a filesystem overlayfs cannot
#     sit on)             -> retry with --storage-driver=vfs (slower, bigger).
#   * iptables fails with the nftables backend (kernel without nf_tables)
#                         -> retry with the iptables-legacy backend, through a
#     PATH shim given to dockerd only (the system's alternatives are left
#     alone).
#   * iptables still fails (no NAT table in the kernel, no permission)
#                         -> retry with --iptables=false, as a last resort:
#     containers can then still reach each other on a bridge network but
#     have no NAT to the outside (no pip install from inside a container).
# Extra flags can be forced with DOCKERD_EXTRA_ARGS (word-split).
#
# Environment:
#   DOCKERD_LOG         log file (default /var/log/dockerd-cooperbench.log)
#   DOCKERD_EXTRA_ARGS  extra dockerd flags, e.g. "--storage-driver=vfs"
#   DOCKERD_WAIT        seconds to wait for the daemon (default 60)
set -euo pipefail

SCRIPT="$(basename "$0" .sh)"
log() { echo "[$SCRIPT] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

DOCKERD_LOG="${DOCKERD_LOG:-/var/log/dockerd-cooperbench.log}"
DOCKERD_WAIT="${DOCKERD_WAIT:-60}"
PIDFILE=/var/run/docker.pid

docker_ok() { timeout 20 docker info >/dev/null 2>&1; }

command -v docker >/dev/null 2>&1 || die "docker client not found; run scripts/setup-system.sh"

if docker_ok; then
    log "docker is already running"
    exit 0
fi

[ "$(id -u)" -eq 0 ] || die "must run as root to start dockerd"
command -v dockerd >/dev/null 2>&1 || die "dockerd not found; run scripts/setup-system.sh"

# A dockerd started by someone else that is still coming up: wait for it
# rather than starting a second one.
if [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null \
    && grep -q dockerd "/proc/$(cat "$PIDFILE")/cmdline" 2>/dev/null; then
    pid="$(cat "$PIDFILE")"
    log "dockerd (pid $pid) is running but not answering yet; waiting up to ${DOCKERD_WAIT}s"
    for _ in $(seq 1 "$DOCKERD_WAIT"); do
        docker_ok && { log "docker is up"; exit 0; }
        sleep 1
    done
    die "dockerd (pid $pid) does not answer after ${DOCKERD_WAIT}s; see $DOCKERD_LOG"
fi

# cgroups: dockerd needs a cgroup hierarchy. The machine's init mounts one;
# mount cgroup v2 ourselves only if /sys/fs/cgroup is empty.
if [ -z "$(ls -A /sys/fs/cgroup 2>/dev/null)" ]; then
    log "/sys/fs/cgroup is empty; mounting cgroup2"
    mount -t cgroup2 none /sys/fs/cgroup || log "mounting cgroup2 failed; dockerd may fail"
fi

mkdir -p "$(dirname "$DOCKERD_LOG")"
touch "$DOCKERD_LOG"

# Start dockerd with the given flags; return 0 once `docker info` answers.
# On failure the daemon we started is stopped and 1 is returned; the log
# lines it wrote are in $attempt_log.
attempt_log=""
use_legacy_iptables=0
LEGACY_SHIM=/run/cooperbench-iptables-legacy
make_legacy_shim() {
    local t
    mkdir -p "$LEGACY_SHIM"
    for t in iptables ip6tables; do
        ln -sf "/usr/sbin/$t-legacy" "$LEGACY_SHIM/$t"
        ln -sf "/usr/sbin/$t-legacy-save" "$LEGACY_SHIM/$t-save"
        ln -sf "/usr/sbin/$t-legacy-restore" "$LEGACY_SHIM/$t-restore"
    done
}
start_dockerd() {
    local start_line pid
    start_line=$(( $(wc -l <"$DOCKERD_LOG") + 1 ))
    log "starting: dockerd ${*:-(default flags)} (log: $DOCKERD_LOG)"
    echo "=== $(date -u '+%Y-%m-%dT%H:%M:%SZ') [$SCRIPT] dockerd $*" >>"$DOCKERD_LOG"
    # setsid: own session, so the daemon outlives this script and its
    # caller's process group.
    if [ "$use_legacy_iptables" -eq 1 ]; then
        PATH="$LEGACY_SHIM:$PATH" nohup setsid dockerd "$@" >>"$DOCKERD_LOG" 2>&1 </dev/null &
    else
        nohup setsid dockerd "$@" >>"$DOCKERD_LOG" 2>&1 </dev/null &
    fi
    pid=$!
    for i in $(seq 1 "$DOCKERD_WAIT"); do
        if docker_ok; then
            log "docker is up after ${i}s (dockerd pid $pid)"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            log "dockerd exited during startup"
            break
        fi
        sleep 1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "dockerd did not answer within ${DOCKERD_WAIT}s; stopping it"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 15); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    attempt_log="$(tail -n +"$start_line" "$DOCKERD_LOG" 2>/dev/null || true)"
    return 1
}

read -r -a flags <<<"${DOCKERD_EXTRA_ARGS:-}"

for attempt in 1 2 3 4; do
    if start_dockerd "${flags[@]}"; then
        docker info --format 'storage driver: {{.Driver}}, cgroup: {{.CgroupDriver}} v{{.CgroupVersion}}, server {{.ServerVersion}}' 2>/dev/null \
            | sed "s/^/[$SCRIPT] /" >&2 || true
        exit 0
    fi
    errors="$(grep -iE 'level=(fatal|error)|failed to start daemon' <<<"$attempt_log" || true)"
    [ -n "$errors" ] && log "dockerd errors:" && sed "s/^/[$SCRIPT]   /" <<<"$errors" >&2
    if [[ " ${flags[*]:-} " != *"--storage-driver"* ]] \
        && grep -qiE 'overlay|graphdriver|storage.driver|driver not supported' <<<"$errors"; then
        log "overlay2 storage driver failed; falling back to --storage-driver=vfs"
        flags+=(--storage-driver=vfs)
        continue
    fi
    iptables_failed=0
    grep -qiE 'iptables|nf_tables|nftables|NAT chain|xtables' <<<"$errors" && iptables_failed=1
    if [ "$iptables_failed" -eq 1 ] && [ "$use_legacy_iptables" -eq 0 ] \
        && [[ " ${flags[*]:-} " != *"--iptables=false"* ]] && [ -x /usr/sbin/iptables-legacy ]; then
        log "dockerd failed on iptables; retrying with the iptables-legacy backend"
        make_legacy_shim
        use_legacy_iptables=1
        continue
    fi
    if [ "$iptables_failed" -eq 1 ] && [[ " ${flags[*]:-} " != *"--iptables=false"* ]]; then
        log "dockerd failed on iptables; falling back to --iptables=false (no NAT for containers)"
        flags+=(--iptables=false)
        continue
    fi
    break
done

log "last dockerd log lines:"
tail -n 30 "$DOCKERD_LOG" | sed "s/^/[$SCRIPT]   /" >&2 || true
die "could not start dockerd (attempts: $attempt); see $DOCKERD_LOG"
