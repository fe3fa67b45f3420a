#!/usr/bin/env bash
# Install (once, cached) the upstream Flux and Argo CD API schemas that tests validate the
# gitops/ documents against, and print the folder. They come from the npm registry:
# @kubernetes-models/flux-cd and @kubernetes-models/argo-cd are generated from the projects'
# CRDs (types, enums, required fields, patterns). Exit status 3: npm is missing or the
# install failed (the caller skips, printing why).
set -euo pipefail
PKGS=(@kubernetes-models/flux-cd@4.0.0 @kubernetes-models/argo-cd@4.0.0)
DIR="${XDG_CACHE_HOME:-$HOME/.cache}/eventbridge-integration-controller/gitops-schemas-$(echo "${PKGS[*]}" | sha256sum | cut -c1-12)"
command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1 || { echo "[gitops-schemas] npm/node not installed" >&2; exit 3; }
mkdir -p "$(dirname "$DIR")"
exec 9>"$DIR.lock"; flock 9
if [[ ! -f "$DIR/.complete" ]]; then
  rm -rf "$DIR"; mkdir -p "$DIR"
  echo '{"name": "ebi-gitops-schemas", "private": true, "type": "module"}' > "$DIR/package.json"
  if ! npm install --prefix "$DIR" --no-audit --no-fund --silent "${PKGS[@]}" >"$DIR/npm.log" 2>&1; then
    echo "[gitops-schemas] npm install ${PKGS[*]} failed: $(tail -n 3 "$DIR/npm.log")" >&2; exit 3
  fi
  touch "$DIR/.complete"
fi
echo "$DIR"
