#!/usr/bin/env bash
# Install the Debian packages the project and its tests need.
#
# Idempotent: packages already installed are skipped; when nothing is
# missing the script exits at once without touching apt.
#
# Packages:
#   docker.io      dockerd + containerd + runc (the engine; see start-docker.sh)
#   redis-server   tests start their own redis-server on a free loopback port;
#                  the system service is neither enabled nor started here
#   git            also provides `git daemon` (/usr/lib/git-core/git-daemon)
#   debootstrap    builds the local base image (see build-base-image.sh)
#   iproute2, procps
#   chromium       headless browser the HTML report test opens the report in
#
# Environment:
#   APT_LOCK_WAIT  seconds to wait for another apt/dpkg run to finish (default 900)
set -euo pipefail

SCRIPT="$(basename "$0" .sh)"
log() { echo "[$SCRIPT] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root"

PACKAGES=(docker.io redis-server git debootstrap iproute2 procps chromium)
GIT_DAEMON=/usr/lib/git-core/git-daemon
APT_LOCK_WAIT="${APT_LOCK_WAIT:-900}"

is_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
done
# On Debian `git daemon` ships in the git package itself. Should git be
# installed but the daemon binary be absent, pull the package that carries it.
if is_installed git && [ ! -x "$GIT_DAEMON" ]; then
    missing+=(git-daemon-sysvinit)
fi

if [ "${#missing[@]}" -eq 0 ]; then
    log "all packages present (${PACKAGES[*]}); nothing to do"
    exit 0
fi

log "missing packages: ${missing[*]}"

# Wait while another apt/dpkg run holds the locks. fuser (psmisc) may be
# absent on a fresh machine; apt's own DPkg::Lock::Timeout and the retries
# below cover that case.
wait_for_apt() {
    local waited=0 locks=(/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock)
    command -v fuser >/dev/null 2>&1 || return 0
    while fuser "${locks[@]}" >/dev/null 2>&1; do
        if [ "$waited" -ge "$APT_LOCK_WAIT" ]; then
            die "apt/dpkg still locked after ${APT_LOCK_WAIT}s"
        fi
        [ $((waited % 30)) -eq 0 ] && log "apt/dpkg is busy (another install running); waiting..."
        sleep 5
        waited=$((waited + 5))
    done
}

# Run an apt-get command, retrying when it fails (lock contention, a
# transient mirror error).
apt_retry() {
    local attempt
    for attempt in 1 2 3 4 5; do
        wait_for_apt
        if apt-get -o DPkg::Lock::Timeout="$APT_LOCK_WAIT" "$@"; then
            return 0
        fi
        log "apt-get $1 failed (attempt $attempt/5); retrying in 10s"
        sleep 10
    done
    die "apt-get $* failed"
}

# Keep package maintainer scripts from starting services (redis-server,
# docker) during the install: tests start their own redis-server, and
# start-docker.sh starts dockerd with the flags this machine needs. Only a
# policy-rc.d created here is removed again.
POLICY=/usr/sbin/policy-rc.d
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$POLICY"
    chmod 755 "$POLICY"
    trap 'rm -f "$POLICY"' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
export NEEDRESTART_SUSPEND=1  # no service-restart scan after the install
log "apt-get update"
apt_retry update -qq
log "apt-get install ${missing[*]}"
apt_retry install -y -qq --no-install-recommends "${missing[@]}"

# Verify.
for pkg in "${PACKAGES[@]}"; do
    is_installed "$pkg" || die "package $pkg is still not installed"
done
[ -x "$GIT_DAEMON" ] || die "$GIT_DAEMON missing after install"
case "$("$GIT_DAEMON" --help 2>&1 || true)" in
    *"usage: git daemon"*) ;;
    *) die "git daemon does not run" ;;
esac
command -v dockerd >/dev/null || die "dockerd not found after installing docker.io"
command -v redis-server >/dev/null || die "redis-server not found"
command -v debootstrap >/dev/null || die "debootstrap not found"
command -v chromium >/dev/null || die "chromium not found"
log "done"
