#!/usr/bin/env bash
# Build the local base image cooperbench/base:bookworm (also tagged
# cooperbench/base:latest) without any image registry: a Debian bookworm
# rootfs made by debootstrap from the Debian package mirror, imported with
# `docker import`.
#
# Idempotent: exits 0 at once when the image exists (pass --verify to run the
# checks anyway). The rootfs tarball is cached and reused, so a machine that
# lost its images but kept the cache re-imports in seconds.
#
# The image stands in for python:3.11-slim as a task Dockerfile's base:
#   ARG BASE_IMAGE=python:3.11-slim
#   FROM ${BASE_IMAGE}
# built with --build-arg BASE_IMAGE=cooperbench/base:bookworm. It has
# Debian's python3 (3.11), pip, venv, pytest, git, ca-certificates, procps;
# `python`/`pip` symlinks as in the python images; pip may install into the
# system Python (Debian's EXTERNALLY-MANAGED marker is removed, as that image
# has none); apt sources for bookworm, bookworm-updates and security.
#
# Builder: build such Dockerfiles with the legacy builder (DOCKER_BUILDKIT=0).
# The docker client here has no buildx plugin, so `docker build` already
# falls back to the legacy builder (printing a deprecation notice), but
# DOCKER_BUILDKIT=1 would make it fail ("BuildKit is enabled but the buildx
# component is missing or broken"), and with BuildKit a FROM may try to
# resolve the image in a registry. The legacy builder uses the local image
# as is and never contacts a registry for it.
#
# Environment:
#   COOPERBENCH_CACHE  cache dir (default $HOME/.cache/cooperbench)
#   DEBIAN_MIRROR      default http://deb.debian.org/debian
#   BASE_IMAGE_NAME    default cooperbench/base
set -euo pipefail

SCRIPT="$(basename "$0" .sh)"
log() { echo "[$SCRIPT] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE_DIR="${COOPERBENCH_CACHE:-$HOME/.cache/cooperbench}"
TARBALL="$CACHE_DIR/base-bookworm.tar"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
NAME="${BASE_IMAGE_NAME:-cooperbench/base}"
IMAGE="$NAME:bookworm"
LATEST="$NAME:latest"
SUITE=bookworm
INCLUDE=python3,python3-pip,python3-pytest,python3-venv,git,ca-certificates,procps

VERIFY=0
[ "${1:-}" = "--verify" ] && VERIFY=1

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# Locally added CA certificates of the host (see the CA layer below).
HOST_CA_DIR=/usr/local/share/ca-certificates
CA_LABEL=cooperbench.host-ca-sha256
host_ca_files() { find "$HOST_CA_DIR" -type f -name '*.crt' 2>/dev/null | LC_ALL=C sort; }
host_ca_hash() {
    local f
    host_ca_files | while IFS= read -r f; do cat "$f"; done | sha256sum | cut -d' ' -f1
}
image_ca_hash() {
    docker image inspect -f "{{index .Config.Labels \"$CA_LABEL\"}}" "$IMAGE" 2>/dev/null || true
}
WANT_CA="$(host_ca_hash)"

if ! docker info >/dev/null 2>&1; then
    "$HERE/start-docker.sh"
fi

if have_image "$IMAGE" && [ "$(image_ca_hash)" = "$WANT_CA" ] && [ "$VERIFY" -eq 0 ]; then
    have_image "$LATEST" || docker tag "$IMAGE" "$LATEST"
    log "image $IMAGE already exists; nothing to do"
    exit 0
fi

verify() {
    local out dir
    log "verify: python3 -m pytest --version"
    out="$(docker run --rm "$IMAGE" python3 -m pytest --version 2>&1)" || die "pytest does not run in $IMAGE: $out"
    log "  $out"
    log "verify: git --version"
    out="$(docker run --rm "$IMAGE" git --version 2>&1)" || die "git does not run in $IMAGE: $out"
    log "  $out"
    log "verify: docker build FROM \${BASE_IMAGE} with the legacy builder"
    dir="$(mktemp -d)"
    printf 'ARG BASE_IMAGE=python:3.11-slim\nFROM ${BASE_IMAGE}\nRUN python3 --version\n' >"$dir/Dockerfile"
    if ! out="$(DOCKER_BUILDKIT=0 docker build --pull=false --no-cache -q \
            --build-arg BASE_IMAGE="$IMAGE" -t cooperbench/base-buildcheck:tmp "$dir" 2>&1)"; then
        rm -rf "$dir"
        die "docker build from $IMAGE failed: $out"
    fi
    rm -rf "$dir"
    docker image rm cooperbench/base-buildcheck:tmp >/dev/null 2>&1 || true
    log "  build ok"
}

if have_image "$IMAGE" && [ "$(image_ca_hash)" = "$WANT_CA" ]; then
    have_image "$LATEST" || docker tag "$IMAGE" "$LATEST"
    verify
    log "image $IMAGE verified"
    exit 0
fi

if have_image "$IMAGE"; then
    log "the host's CA certificates changed since $IMAGE was built; rebuilding it"
fi

mkdir -p "$CACHE_DIR"

ROOTFS=""
cleanup() {
    if [ -n "$ROOTFS" ] && [ -d "$ROOTFS" ]; then
        # debootstrap mounts proc/sys (and may bind /dev) inside the target;
        # unmount everything below it before deleting.
        awk -v r="$ROOTFS" '$2 == r || index($2, r "/") == 1 {print $2}' /proc/mounts \
            | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
        rm -rf --one-file-system "$ROOTFS"
    fi
    rm -f "$TARBALL.tmp"
}
trap cleanup EXIT

if [ -s "$TARBALL" ]; then
    log "reusing cached rootfs tarball $TARBALL ($(du -h "$TARBALL" | cut -f1))"
else
    [ "$(id -u)" -eq 0 ] || die "debootstrap needs root"
    command -v debootstrap >/dev/null 2>&1 || die "debootstrap not found; run scripts/setup-system.sh"
    ROOTFS="$(mktemp -d "$CACHE_DIR/rootfs.XXXXXX")"
    t0=$SECONDS
    log "debootstrap --variant=minbase $SUITE from $MIRROR into $ROOTFS (a few minutes)"
    if ! debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$ROOTFS" "$MIRROR" \
            >"$CACHE_DIR/debootstrap.log" 2>&1; then
        tail -n 30 "$CACHE_DIR/debootstrap.log" | sed "s/^/[$SCRIPT]   /" >&2
        [ -f "$ROOTFS/debootstrap/debootstrap.log" ] \
            && tail -n 30 "$ROOTFS/debootstrap/debootstrap.log" | sed "s/^/[$SCRIPT]   /" >&2
        die "debootstrap failed (full log: $CACHE_DIR/debootstrap.log)"
    fi
    log "debootstrap took $((SECONDS - t0))s"

    log "configuring and cleaning the rootfs"
    # apt sources: the same mirror host serves updates and security.
    base="${MIRROR%/debian}"
    cat >"$ROOTFS/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $base/debian-security $SUITE-security main
EOF
    # Keep images small: no recommends, no docs; as Debian's docker images do.
    cat >"$ROOTFS/etc/apt/apt.conf.d/90cooperbench" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
EOF
    cat >"$ROOTFS/etc/dpkg/dpkg.cfg.d/90cooperbench-nodoc" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
    # `pip install` into the system Python, as in the python images.
    rm -f "$ROOTFS"/usr/lib/python3*/EXTERNALLY-MANAGED
    ln -sf /usr/bin/python3 "$ROOTFS/usr/local/bin/python"
    ln -sf /usr/bin/pip3 "$ROOTFS/usr/local/bin/pip"
    # Drop caches, package lists, logs, docs and message translations.
    rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin \
        "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/cache/apt/archives/partial/* \
        "$ROOTFS"/var/cache/debconf/*-old "$ROOTFS"/var/lib/dpkg/*-old \
        "$ROOTFS"/var/log/*.log "$ROOTFS"/var/log/apt/* \
        "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* \
        "$ROOTFS"/usr/share/locale/*/ \
        "$ROOTFS"/tmp/* "$ROOTFS"/root/.cache
    find "$ROOTFS/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
    find "$ROOTFS/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
    : >"$ROOTFS/etc/hostname"
    rm -f "$ROOTFS/etc/resolv.conf"  # docker provides it at run time

    log "packing $TARBALL"
    tar --numeric-owner --xattrs -C "$ROOTFS" \
        --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
        -cf "$TARBALL.tmp" .
    mv "$TARBALL.tmp" "$TARBALL"
    log "rootfs tarball: $(du -h "$TARBALL" | cut -f1)"
fi

old_id="$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
t0=$SECONDS
log "docker import $TARBALL"
raw_id="$(docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]' \
    --message "debootstrap --variant=minbase $SUITE ($INCLUDE)" \
    "$TARBALL")"
log "import took $((SECONDS - t0))s"

# Second layer: the host's locally added CA certificates and the CA bundle
# environment, so TLS from inside a container (pip install from PyPI, apt
# over https) verifies the same way as on the host. It is not part of the
# cached tarball: those certificates may differ from one machine to the next,
# so the image records their hash and is re-layered when they change.
t0=$SECONDS
ctx="$(mktemp -d)"
trap 'cleanup; rm -rf "$ctx"' EXIT
mkdir -p "$ctx/extra-ca"
{
    echo "FROM $raw_id"
    if [ -n "$(host_ca_files)" ]; then
        i=0
        while IFS= read -r f; do
            i=$((i + 1)); cp "$f" "$ctx/extra-ca/host-ca-$i.crt"
        done < <(host_ca_files)
        log "adding $i CA certificate(s) from $HOST_CA_DIR"
        echo "COPY extra-ca/ /usr/local/share/ca-certificates/"
        echo "RUN update-ca-certificates >/dev/null"
    fi
    echo "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \\"
    echo "    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \\"
    echo "    PIP_CERT=/etc/ssl/certs/ca-certificates.crt"
    echo "LABEL $CA_LABEL=$WANT_CA"
} >"$ctx/Dockerfile"
if ! out="$(DOCKER_BUILDKIT=0 docker build --pull=false -q -t "$IMAGE" "$ctx" 2>&1)"; then
    die "building the CA layer failed: $out"
fi
docker tag "$IMAGE" "$LATEST"
if [ -n "$old_id" ] && [ "$old_id" != "$(docker image inspect -f '{{.Id}}' "$IMAGE")" ]; then
    docker image rm "$old_id" >/dev/null 2>&1 || true  # the replaced image, now untagged
fi
log "CA layer took $((SECONDS - t0))s; image $IMAGE size $(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}')"

verify
log "done: $IMAGE and $LATEST"
