#!/usr/bin/env bash
# Provide kube-apiserver + etcd binaries for the local test environment and print
# the folder that holds them (envtest layout: $DIR/kube-apiserver, $DIR/etcd).
#
# Order of preference:
#   1. $KUBEBUILDER_ASSETS, when it already holds both binaries (envtest convention);
#   2. the cache under ${XDG_CACHE_HOME:-~/.cache}/eventbridge-integration-controller;
#   3. build kube-apiserver 1.20.2 from Debian 12's `kubernetes` source package.
# No registry ships a kube-apiserver binary; Debian's source package builds in ~4 min
# with Debian's Go. See ../shared/notes/test-environment.md for why each step exists.
set -euo pipefail

if [[ -n "${KUBEBUILDER_ASSETS:-}" && -x "$KUBEBUILDER_ASSETS/kube-apiserver" && -x "$KUBEBUILDER_ASSETS/etcd" ]]; then
  echo "$KUBEBUILDER_ASSETS"; exit 0
fi

CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/eventbridge-integration-controller/k8s-1.20.2"
log() { echo "[build-kube-apiserver] $*" >&2; }

need_pkgs=()
command -v go >/dev/null 2>&1 || need_pkgs+=(golang-go)
[[ -x /usr/bin/etcd ]] || need_pkgs+=(etcd-server)
command -v rsync >/dev/null 2>&1 || need_pkgs+=(rsync)
command -v openssl >/dev/null 2>&1 || need_pkgs+=(openssl)
dpkg -s golang-github-modern-go-reflect2-dev >/dev/null 2>&1 || need_pkgs+=(golang-github-modern-go-reflect2-dev)
if ((${#need_pkgs[@]})); then
  log "installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "${need_pkgs[@]}" >&2
fi

mkdir -p "$CACHE"
ln -sf /usr/bin/etcd "$CACHE/etcd"
if [[ -x "$CACHE/kube-apiserver" ]]; then echo "$CACHE"; exit 0; fi

WORK="$CACHE/build"; rm -rf "$WORK"; mkdir -p "$WORK/lists/partial" "$WORK/archives/partial"
cd "$WORK"
# A private deb-src list, so the machine's own apt configuration is left untouched.
MIRROR=$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -n1)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
echo "deb-src $MIRROR bookworm main" > sources.list
APT_OPTS=(-o Dir::Etc::SourceList="$WORK/sources.list" -o Dir::Etc::SourceParts=/dev/null
          -o Dir::State::Lists="$WORK/lists" -o Dir::Cache::Archives="$WORK/archives")
log "fetching Debian's kubernetes source package from $MIRROR"
apt-get "${APT_OPTS[@]}" update -qq >&2
apt-get "${APT_OPTS[@]}" source --download-only kubernetes >&2
tar xzf kubernetes_*.orig.tar.gz
SRC=$(find . -maxdepth 1 -type d -name 'kubernetes*' | head -n1)
cd "$SRC"

# kube 1.20 vendors reflect2 1.0.1, which segfaults under Go >= 1.18; use Debian's 1.0.2.
R2=$(dpkg -L golang-github-modern-go-reflect2-dev | grep -E '/github.com/modern-go/reflect2$' | head -n1)
rm -rf vendor/github.com/modern-go/reflect2
cp -r "$R2" vendor/github.com/modern-go/reflect2
rm -f vendor/github.com/modern-go/reflect2/go.mod

mkdir -p .go/src/k8s.io && ln -sfn ../../.. .go/src/k8s.io/kubernetes
log "building kube-apiserver (a few minutes, once)"
(cd .go/src/k8s.io/kubernetes && GOPATH="$PWD/../../../.go" GO111MODULE=off CGO_ENABLED=0 \
   make WHAT=cmd/kube-apiserver >&2)
cp _output/bin/kube-apiserver "$CACHE/kube-apiserver.tmp"
mv "$CACHE/kube-apiserver.tmp" "$CACHE/kube-apiserver"
cd "$CACHE" && rm -rf "$WORK"
echo "$CACHE"
