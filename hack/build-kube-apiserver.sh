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
log() { echo "[build-kube-apiserver] $*" >&2; }

# The Debian archive this machine is configured with (never a hard-coded one): the first
# enabled entry for suite `bookworm`, else the first entry that is not a security or
# backports suite, read from deb822 `*.sources` files and classic `sources.list`/`*.list`.
# EBI_APT_ETC replaces /etc/apt (tests use it).
debian_mirror() {
  local etc=${EBI_APT_ETC:-/etc/apt} files=() f
  [[ -f $etc/sources.list ]] && files+=("$etc/sources.list")
  for f in "$etc"/sources.list.d/*.list "$etc"/sources.list.d/*.sources; do [[ -f $f ]] && files+=("$f"); done
  local found=""
  ((${#files[@]})) && found=$(awk '
    function consider(uri, suites,   n, i, s) {
      n = split(suites, s, /[ \t]+/)
      for (i = 1; i <= n; i++) {
        if (s[i] == "bookworm" && exact == "") exact = uri
        if (s[i] != "" && s[i] !~ /-(security|backports)$/ && s[i] !~ /\/updates$/ && other == "") other = uri
      }
    }
    function flush() { if (uris != "" && enabled && types ~ /deb/) { split(uris, u, /[ \t]+/); consider(u[1], suites) } uris = ""; suites = ""; types = ""; enabled = 1 }
    FNR == 1 { flush(); deb822 = (FILENAME ~ /\.sources$/) }
    deb822 && /^[ \t]*$/ { flush(); next }
    deb822 && /^[ \t]*#/ { next }
    deb822 { line = $0; key = tolower(line); sub(/:.*/, "", key); val = line; sub(/^[^:]*:[ \t]*/, "", val)
             if (key == "uris") uris = val; else if (key == "suites") suites = val; else if (key == "types") types = val
             else if (key == "enabled" && tolower(val) == "no") enabled = 0; next }
    /^[ \t]*deb(-src)?[ \t]/ { sub(/\[[^]]*\]/, ""); consider($2, $3) }
    END { flush(); print (exact != "" ? exact : other) }
    BEGIN { enabled = 1 }
  ' "${files[@]}")
  if [[ -z $found ]]; then
    log "no Debian archive in this machine's apt sources ($etc/sources.list, $etc/sources.list.d/*.sources|*.list)."
    log "Add one (e.g. a 'deb <your Debian mirror> bookworm main' line), or set KUBEBUILDER_ASSETS to a folder holding kube-apiserver and etcd."
    return 1
  fi
  echo "$found"
}
if [[ ${1:-} == --print-mirror ]]; then debian_mirror; exit; fi

if [[ -n "${KUBEBUILDER_ASSETS:-}" && -x "$KUBEBUILDER_ASSETS/kube-apiserver" && -x "$KUBEBUILDER_ASSETS/etcd" ]]; then
  echo "$KUBEBUILDER_ASSETS"; exit 0
fi

CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/eventbridge-integration-controller/k8s-1.20.2"

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
MIRROR=$(debian_mirror) || exit 1
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
