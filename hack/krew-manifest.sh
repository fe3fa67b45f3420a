#!/usr/bin/env bash
# Packs a binary as the krew archive of `kubectl ebi` and prints deploy/krew/ebi.yaml with
# the archive's address and sha256 filled in.
#   hack/krew-manifest.sh VERSION BINARY URL [ARCHIVE]
# ARCHIVE (default: .tmp/kubectl-ebi-VERSION-linux-amd64.tar.gz) is written; upload it to URL.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
version=${1:?VERSION}; binary=${2:?BINARY}; url=${3:?URL}
archive=${4:-$ROOT/.tmp/kubectl-ebi-$version-linux-amd64.tar.gz}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cp "$binary" "$work/eventbridge-integration-controller"
mkdir -p "$(dirname "$archive")"
tar -C "$work" -czf "$archive" eventbridge-integration-controller
sha=$(sha256sum "$archive" | cut -d' ' -f1)
sed -e "s|\${VERSION}|$version|" -e "s|\${URI}|$url|" -e "s|\${SHA256}|$sha|" "$ROOT/deploy/krew/ebi.yaml"
