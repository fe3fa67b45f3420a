#!/usr/bin/env bash
# Create (once) a venv with the pinned moto server and print its path.
# The pin matters: tests rely on moto's exact behaviour (see ../shared/notes/test-environment.md).
set -euo pipefail
MOTO_VERSION=5.2.5
VENV="${XDG_CACHE_HOME:-$HOME/.cache}/eventbridge-integration-controller/moto-$MOTO_VERSION"
if [[ ! -x "$VENV/bin/moto_server" ]]; then
  echo "[install-moto] creating $VENV" >&2
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION" boto3 >&2
fi
echo "$VENV"
