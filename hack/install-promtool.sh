#!/usr/bin/env bash
# Print the path of a `promtool` (Prometheus's rule checker and rule unit-test runner), for
# the tests of the chart's alert rules; fetch it once, cached, if the machine has none.
#
# Debian's `prometheus` package ships /usr/bin/promtool, but installing the package also
# adds a system user, a web UI's JavaScript libraries, and a Prometheus server that its
# postinst starts and enables (invoke-rc.d, or deb-systemd-invoke under systemd): a test
# machine would be left running one. So the package is only downloaded (`apt-get
# download`) and promtool alone extracted from it (`dpkg-deb`; a Go binary needing only
# libc) into the cache: no package is installed and no service exists; at most apt's
# package lists are refreshed. A promtool on PATH, or $PROMTOOL, is used as it is.
# Exit status 3: there is none and it cannot be fetched (the caller skips, printing why).
set -euo pipefail
log() { echo "[install-promtool] $*" >&2; }

if [[ -n "${PROMTOOL:-}" ]]; then
  [[ -x "$PROMTOOL" ]] || { log "PROMTOOL=$PROMTOOL is not an executable"; exit 3; }
  echo "$PROMTOOL"; exit 0
fi
if command -v promtool >/dev/null 2>&1; then command -v promtool; exit 0; fi

CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/eventbridge-integration-controller/promtool"
mkdir -p "$(dirname "$CACHE")"
# Shared by every checkout on the machine: one fetcher at a time.
exec 9>"$CACHE.lock"
flock 9
if [[ ! -x "$CACHE/promtool" || ! -f "$CACHE/.complete" ]]; then
  if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then
    log "no promtool, and no apt-get/dpkg-deb to take Debian's"; exit 3
  fi
  rm -rf "$CACHE"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  # apt downloads as its own user where it can write the folder (no "unsandboxed" warning).
  if [[ $(id -u) == 0 ]] && id _apt >/dev/null 2>&1; then chown _apt "$work"; fi
  fetch() { (cd "$work" && apt-get download -q prometheus) >>"$CACHE.log" 2>&1; }
  : >"$CACHE.log"
  if ! fetch; then
    # A fresh machine (or container) may have no package lists yet.
    if [[ $(id -u) == 0 ]]; then
      log "apt-get update (no package lists, or old ones)"
      apt-get update -qq >>"$CACHE.log" 2>&1 || true
    fi
    fetch || { log "apt-get download prometheus failed: $(tail -n 2 "$CACHE.log" | tr '\n' ' ')"; exit 3; }
  fi
  deb=$(ls "$work"/prometheus_*.deb)
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work" ./usr/bin/promtool
  mkdir -p "$CACHE"
  mv "$work/usr/bin/promtool" "$CACHE/promtool"
  if ! "$CACHE/promtool" --version >"$CACHE/version" 2>&1; then
    log "the extracted promtool does not run: $(head -n 2 "$CACHE/version")"; exit 3
  fi
  log "promtool $(dpkg-deb -f "$deb" Version) from Debian's prometheus package, in $CACHE"
  touch "$CACHE/.complete"
fi
echo "$CACHE/promtool"
