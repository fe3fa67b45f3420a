#!/usr/bin/env bash
# Build the controller's container image from the Dockerfile, without a Docker daemon
# (buildah, vfs storage), and print its reference on stdout.
#
#   hack/image.sh build     install the OCI tools if needed, build, print the image reference
#   hack/image.sh podman …  run podman against the same private image store
#   hack/image.sh size      print the image size in bytes
#
# No container registry is reachable here, so the Dockerfile's base images are supplied as
# build arguments with local equivalents:
#   BINARY_FROM   an image holding the project's release binary where the Dockerfile's build
#                 stage leaves it (built here with `cargo build --release --locked`);
#   RUNTIME_IMAGE the equivalent of distroless/cc-debian12:nonroot, made from this Debian
#                 machine: glibc and libgcc (the libraries `ldd` names), CA certificates,
#                 /etc/passwd with `nonroot` (65532), /tmp. No shell, no package manager.
# Tool output goes to $LOG. Exit status 3: the tools cannot be installed or run here (the
# caller skips, printing why).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${EBI_IMAGE_DIR:-$ROOT/.tmp/image}
LOG=$WORK/image.log
IMAGE=localhost/eventbridge-integration-controller:dev
BIN_NAME=eventbridge-integration-controller
mkdir -p "$WORK"
log() { echo "[image] $*" >&2; }

# A private image store: nothing of the machine's own container storage is touched.
STORE=(--root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs)
buildah_() { buildah "${STORE[@]}" "$@"; }
podman_() {
  podman "${STORE[@]}" --cgroup-manager cgroupfs --runtime runc --events-backend file \
    --tmpdir "$WORK/podman-tmp" "$@"
}

ensure_tools() {
  local missing=()
  for t in buildah podman runc; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
  ((${#missing[@]})) || return 0
  if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    log "missing ${missing[*]} and cannot install them (needs root and apt-get)"; return 3
  fi
  log "installing buildah, podman, runc (Debian packages; log: $LOG)"
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends buildah podman runc \
           uidmap fuse-overlayfs slirp4netns containernetworking-plugins; } >>"$LOG" 2>&1; then
    log "apt-get could not install buildah/podman/runc (see $LOG)"; return 3
  fi
}

release_binary() {
  log "cargo build --release (log: $LOG)"
  (cd "$ROOT" && cargo build --locked --release --bin "$BIN_NAME") >>"$LOG" 2>&1 \
    || { log "cargo build --release failed; its output is in $LOG"; tail -n 20 "$LOG" >&2; return 1; }
  # What the Dockerfile's build stage does after compiling.
  cp "$ROOT/target/release/$BIN_NAME" "$WORK/$BIN_NAME"
  strip "$WORK/$BIN_NAME"
}

# distroless/cc-debian12:nonroot, from this machine's Debian files.
runtime_base() {
  local fs=$WORK/runtime-rootfs
  rm -rf "$fs"; mkdir -p "$fs"/{etc/ssl/certs,tmp,home/nonroot,usr/share/zoneinfo}
  chmod 1777 "$fs/tmp"; chown 65532:65532 "$fs/home/nonroot"
  # The shared libraries the binary links, as ldd resolves them (glibc, libgcc_s, the loader).
  ldd "$WORK/$BIN_NAME" | awk '/=> \//{print $3} /^\t\/[^ ]+ \(/{print $1}' | sort -u | while read -r lib; do
    install -D -m 0755 "$(readlink -f "$lib")" "$fs$lib"
  done
  [[ -f /etc/ssl/certs/ca-certificates.crt ]] || { log "no CA bundle: apt-get install ca-certificates"; return 1; }
  cp /etc/ssl/certs/ca-certificates.crt "$fs/etc/ssl/certs/"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$fs/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' > "$fs/etc/group"
  printf 'hosts: files dns\n' > "$fs/etc/nsswitch.conf"
  local c; c=$(buildah_ from scratch)
  buildah_ copy "$c" "$fs" / >/dev/null
  buildah_ config --user 65532:65532 --workingdir /home/nonroot --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt "$c"
  buildah_ commit -q --rm "$c" localhost/ebi-runtime-base:debian12 >/dev/null
}

binary_image() {
  local c; c=$(buildah_ from scratch)
  buildah_ copy "$c" "$WORK/$BIN_NAME" "/src/target/release/$BIN_NAME" >/dev/null
  buildah_ commit -q --rm "$c" localhost/ebi-release-binary:dev >/dev/null
}

build() {
  ensure_tools || return $?
  buildah_ info >>"$LOG" 2>&1 || { log "buildah cannot run here (see $LOG)"; return 3; }
  release_binary
  # A fresh store each time: vfs keeps full copies of every layer, so old ones add up.
  rm -rf "$WORK/storage" "$WORK/run"
  log "base images from Debian files, then the Dockerfile (buildah, log: $LOG)"
  { runtime_base && binary_image; } >>"$LOG" 2>&1 || { log "base images failed (see $LOG)"; return 1; }
  (cd "$ROOT" && buildah_ bud --layers=false --pull-never \
      --build-arg BINARY_FROM=localhost/ebi-release-binary:dev \
      --build-arg RUNTIME_IMAGE=localhost/ebi-runtime-base:debian12 \
      -f Dockerfile -t "$IMAGE" .) >>"$LOG" 2>&1 || { log "buildah bud failed (see $LOG)"; tail -n 20 "$LOG" >&2; return 1; }
  echo "$IMAGE"
}

case "${1:-build}" in
  build) build ;;
  podman) shift; mkdir -p "$WORK/podman-tmp"; podman_ "$@" ;;
  buildah) shift; buildah_ "$@" ;;
  size) podman_ image inspect --format '{{.Size}}' "$IMAGE" ;;
  *) echo "usage: $0 build|podman ARGS…|buildah ARGS…|size" >&2; exit 2 ;;
esac
