#!/usr/bin/env bash
# Runs the whole system on this machine: builds, starts every server on the embedded store
# (or on a local etcd with --etcd), writes .local/kubeconfig, waits until all are ready,
# prints what to do next, and stops everything on Ctrl-C.
#
#   hack/local-up.sh            # embedded store in .local/data
#   hack/local-up.sh --etcd     # a local etcd in .local/etcd (Debian's etcd-server)
#   PORT=8443 hack/local-up.sh  # choose the IronCore API port
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
local_dir="$root/.local"
use_etcd=false
for arg in "$@"; do
  case "$arg" in
    --etcd) use_etcd=true ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done
port=${PORT:-8443}
etcd_port=${ETCD_PORT:-2379}
mkdir -p "$local_dir/logs"

echo "building..."
cargo build --bins --quiet

pids=()
cleanup() {
  echo
  echo "stopping..."
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

storage_args=(--data-dir "$local_dir/data")
if $use_etcd; then
  command -v etcd >/dev/null || { echo "etcd not found: apt-get install etcd-server" >&2; exit 1; }
  etcd --name local --data-dir "$local_dir/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$((etcd_port + 1))" \
    --initial-advertise-peer-urls "http://127.0.0.1:$((etcd_port + 1))" \
    --initial-cluster "local=http://127.0.0.1:$((etcd_port + 1))" \
    >"$local_dir/logs/etcd.log" 2>&1 &
  pids+=($!)
  storage_args=(--etcd-servers "http://127.0.0.1:$etcd_port")
fi

"$root/target/debug/ironcore-apiserver" --bind-address 127.0.0.1 --secure-port "$port" \
  --cert-dir "$local_dir/certs" "${storage_args[@]}" >"$local_dir/logs/ironcore-apiserver.log" 2>&1 &
pids+=($!)

for _ in $(seq 1 100); do
  if [ -f "$local_dir/certs/ca.crt" ] && \
     curl -sf --cacert "$local_dir/certs/ca.crt" "https://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
    ready=true; break
  fi
  sleep 0.2
done
if [ "${ready:-false}" != true ]; then
  echo "ironcore-apiserver did not become ready; see $local_dir/logs/ironcore-apiserver.log" >&2
  exit 1
fi

cat >"$local_dir/kubeconfig" <<KCFG
apiVersion: v1
kind: Config
clusters:
- name: ironcore
  cluster:
    server: https://127.0.0.1:$port
    certificate-authority: $local_dir/certs/ca.crt
users:
- name: admin
  user:
    token: local-admin
contexts:
- name: ironcore
  context:
    cluster: ironcore
    user: admin
    namespace: default
current-context: ironcore
KCFG

cat <<MSG
IronCore networking API is up (storage: $($use_etcd && echo "etcd on 127.0.0.1:$etcd_port" || echo "embedded, $local_dir/data")).

  export KUBECONFIG=$local_dir/kubeconfig
  kubectl api-resources --api-group=networking.ironcore.dev
  kubectl apply -f docs/examples/network.yaml
  kubectl get networks

Logs: $local_dir/logs/. Press Ctrl-C to stop everything.
MSG
wait "${pids[@]}"
