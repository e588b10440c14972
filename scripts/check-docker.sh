#!/usr/bin/env bash
# Smoke-test the Docker engine with the local base image: a container runs,
# two containers on a user-defined bridge network reach each other by name,
# and (with --registry) a container on the default network reaches PyPI.
# Leaves nothing behind.
set -euo pipefail

SCRIPT="$(basename "$0" .sh)"
log() { echo "[$SCRIPT] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

IMAGE="${BASE_IMAGE:-cooperbench/base:bookworm}"
CHECK_REGISTRY=0
[ "${1:-}" = "--registry" ] && CHECK_REGISTRY=1

docker image inspect "$IMAGE" >/dev/null 2>&1 || die "image $IMAGE missing; run scripts/build-base-image.sh"

suffix="$$-$RANDOM"
net="cbcheck-net-$suffix"
server="cbcheck-server-$suffix"
cleanup() {
    docker rm -f "$server" >/dev/null 2>&1 || true
    docker network rm "$net" >/dev/null 2>&1 || true
}
trap cleanup EXIT

log "docker run --rm $IMAGE true"
docker run --rm "$IMAGE" true || die "a container does not run"

log "user-defined network $net: client -> http://$server:8000 by name"
docker network create "$net" >/dev/null
docker run -d --name "$server" --network "$net" "$IMAGE" \
    python3 -m http.server 8000 --bind 0.0.0.0 >/dev/null
docker run --rm -i --network "$net" "$IMAGE" python3 - "$server" <<'PY' || die "containers cannot reach each other by name"
import socket, sys, time, urllib.request
name = sys.argv[1]
for _ in range(50):
    try:
        with urllib.request.urlopen(f"http://{name}:8000/", timeout=2) as r:
            print(f"  {name} -> {socket.gethostbyname(name)}, HTTP {r.status}")
            break
    except OSError:
        time.sleep(0.2)
else:
    sys.exit(1)
PY

if [ "$CHECK_REGISTRY" -eq 1 ]; then
    log "default network: https://pypi.org/simple/pytest/"
    docker run --rm "$IMAGE" python3 -c \
        "import urllib.request; urllib.request.urlopen('https://pypi.org/simple/pytest/', timeout=10); print('  PyPI reachable')" \
        || die "a container cannot reach PyPI"
fi
log "ok"
