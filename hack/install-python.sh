#!/usr/bin/env bash
# Create (once per requirements set) a venv with moto, the Helm engine (helm-python-sdk),
# a Lua interpreter (lupa) and pytest, and print its path.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REQ="$ROOT/hack/requirements-test.txt"
KEY=$(sha256sum "$REQ" | cut -c1-12)
VENV="${XDG_CACHE_HOME:-$HOME/.cache}/eventbridge-integration-controller/python-$KEY"
# The cache is shared by every checkout on the machine: one creator at a time, or a second
# one deletes the venv the first is still installing into.
mkdir -p "$(dirname "$VENV")"
exec 9>"$VENV.lock"
flock 9
if [[ ! -x "$VENV/bin/moto_server" || ! -f "$VENV/.complete" ]]; then
  echo "[install-python] creating $VENV" >&2
  rm -rf "$VENV"
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQ" >&2
  touch "$VENV/.complete"
fi
echo "$VENV"
