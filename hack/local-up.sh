#!/usr/bin/env bash
# Runs the whole system on this machine: builds, starts every server on the embedded store
# (or on a local etcd with --etcd), writes .local/kubeconfig and .local/apinet.kubeconfig,
# waits until all are ready, prints what to do next, and stops everything on Ctrl-C.
#
#   hack/local-up.sh            # embedded stores in .local/data and .local/apinet-data
#   hack/local-up.sh --etcd     # a local etcd in .local/etcd (Debian's etcd-server)
#   PORT=8443 APINET_PORT=8444 hack/local-up.sh   # choose the API ports
#   PUBLIC_PREFIXES=198.51.100.0/24 hack/local-up.sh  # apinet public IP pools (comma-separated)
#   APINET_NAMESPACE=x CONTROLLER_MANAGER_PORT=8090 APINETLET_PORT=8092 hack/local-up.sh  # controllers
#   APINET_MANAGER_PORT=8094 NODES="node-a node-b" NETLET_PORT=8096 hack/local-up.sh  # apinet side
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
local_dir="$root/.local"
use_etcd=false
for arg in "$@"; do
  case "$arg" in
    --etcd) use_etcd=true ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done
port=${PORT:-8443}
apinet_port=${APINET_PORT:-8444}
# Documentation ranges (RFC 5737, RFC 3849): never routed, safe for a local pool.
public_prefixes=${PUBLIC_PREFIXES:-203.0.113.0/24,2001:db8::/120}
etcd_port=${ETCD_PORT:-2379}
mkdir -p "$local_dir/logs"

echo "building..."
cargo build --bins --quiet

# A local client CA (the servers trust it: --client-ca-file) and client certificates for the
# identities that talk to the servers: user = CN, groups = O. The kubeconfigs use the admin's
# (O=system:masters); components use .local/pki/<name>.{crt,key}.
pki_dir="$local_dir/pki"
command -v openssl >/dev/null || { echo "openssl not found: apt-get install openssl" >&2; exit 1; }
mkdir -p "$pki_dir"
if [ ! -f "$pki_dir/ca.crt" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj "/CN=ironcore-local-client-ca" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$pki_dir/ca.key" -out "$pki_dir/ca.crt" 2>/dev/null
fi
# client_cert NAME CN [ORGANIZATION...]: an X.509 v3 client certificate signed by the local CA.
client_cert() {
  local name=$1 cn=$2 subj="" o
  shift 2
  for o in "$@"; do subj="$subj/O=$o"; done
  [ -f "$pki_dir/$name.crt" ] && return 0
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$subj/CN=$cn" \
    -keyout "$pki_dir/$name.key" -out "$pki_dir/$name.csr" 2>/dev/null
  openssl x509 -req -in "$pki_dir/$name.csr" -CA "$pki_dir/ca.crt" -CAkey "$pki_dir/ca.key" \
    -CAcreateserial -days 365 -out "$pki_dir/$name.crt" \
    -extfile <(printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n') 2>/dev/null
  rm -f "$pki_dir/$name.csr"
}
client_cert admin admin system:masters
# The controllers' own identities (a CN is at most 64 characters, so not the ServiceAccount
# names they have in a cluster).
client_cert ironcore-controller-manager ironcore:controller-manager ironcore:controllers
client_cert apinetlet ironcore:apinetlet ironcore:controllers
client_cert apinet-controller-manager apinet:controller-manager ironcore:controllers
client_cert netlet apinet:netlet ironcore:netlets
auth_args=(--client-ca-file "$pki_dir/ca.crt")

pids=()
cleanup() {
  echo
  echo "stopping..."
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

storage_args=(--data-dir "$local_dir/data")
apinet_storage_args=(--data-dir "$local_dir/apinet-data")
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
  # Same etcd, its own key prefix (/registry/apinet.ironcore.dev by default).
  apinet_storage_args=(--etcd-servers "http://127.0.0.1:$etcd_port")
fi

"$root/target/debug/ironcore-apiserver" --bind-address 127.0.0.1 --secure-port "$port" \
  --cert-dir "$local_dir/certs" "${storage_args[@]}" "${auth_args[@]}" \
  >"$local_dir/logs/ironcore-apiserver.log" 2>&1 &
pids+=($!)
"$root/target/debug/apinet-apiserver" --bind-address 127.0.0.1 --secure-port "$apinet_port" \
  --cert-dir "$local_dir/apinet-certs" "${apinet_storage_args[@]}" "${auth_args[@]}" \
  --public-prefix "$public_prefixes" >"$local_dir/logs/apinet-apiserver.log" 2>&1 &
pids+=($!)

# wait_ready NAME PORT CERT_DIR
wait_ready() {
  local ready=false
  for _ in $(seq 1 100); do
    if [ -f "$3/ca.crt" ] && \
       curl -sf --cacert "$3/ca.crt" "https://127.0.0.1:$2/readyz" >/dev/null 2>&1; then
      ready=true; break
    fi
    sleep 0.2
  done
  if [ "$ready" != true ]; then
    echo "$1 did not become ready; see $local_dir/logs/$1.log" >&2
    exit 1
  fi
}

# write_kubeconfig FILE NAME PORT CERT_DIR [IDENTITY]: IDENTITY (default admin) names the
# client certificate in .local/pki.
write_kubeconfig() {
  local who=${5:-admin}
  cat >"$1" <<KCFG
apiVersion: v1
kind: Config
clusters:
- name: $2
  cluster:
    server: https://127.0.0.1:$3
    certificate-authority: $4/ca.crt
users:
- name: admin
  user:
    client-certificate: $pki_dir/$who.crt
    client-key: $pki_dir/$who.key
contexts:
- name: $2
  context:
    cluster: $2
    user: admin
    namespace: default
current-context: $2
KCFG
}

wait_ready ironcore-apiserver "$port" "$local_dir/certs"
wait_ready apinet-apiserver "$apinet_port" "$local_dir/apinet-certs"
write_kubeconfig "$local_dir/kubeconfig" ironcore "$port" "$local_dir/certs"
write_kubeconfig "$local_dir/apinet.kubeconfig" apinet "$apinet_port" "$local_dir/apinet-certs"

# The controllers, each with kubeconfigs of its own client certificate; probes and metrics on
# loopback.
for who in ironcore-controller-manager apinetlet; do
  write_kubeconfig "$local_dir/$who.kubeconfig" ironcore "$port" "$local_dir/certs" "$who"
done
write_kubeconfig "$local_dir/apinetlet.apinet.kubeconfig" apinet "$apinet_port" "$local_dir/apinet-certs" apinetlet
apinet_namespace=${APINET_NAMESPACE:-ironcore-net-system}
cm_port=${CONTROLLER_MANAGER_PORT:-8090}   # health; metrics on +1
apinetlet_port=${APINETLET_PORT:-8092}      # health; metrics on +1
"$root/target/debug/ironcore-controller-manager" --kubeconfig "$local_dir/ironcore-controller-manager.kubeconfig" \
  --health-probe-bind-address "127.0.0.1:$cm_port" --metrics-bind-address "127.0.0.1:$((cm_port + 1))" \
  >"$local_dir/logs/ironcore-controller-manager.log" 2>&1 &
pids+=($!)
"$root/target/debug/apinetlet" --kubeconfig "$local_dir/apinetlet.kubeconfig" \
  --apinet-kubeconfig "$local_dir/apinetlet.apinet.kubeconfig" --apinet-namespace "$apinet_namespace" \
  --health-probe-bind-address "127.0.0.1:$apinetlet_port" \
  --metrics-bind-address "127.0.0.1:$((apinetlet_port + 1))" \
  >"$local_dir/logs/apinetlet.log" 2>&1 &
pids+=($!)
# wait_http_ready NAME PORT: until http://127.0.0.1:PORT/readyz answers 200.
wait_http_ready() {
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$2/readyz" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "$1 did not become ready; see $local_dir/logs/$1.log" >&2
  exit 1
}

# The apinet side: apinet-controller-manager and one netlet per node (recording dataplane,
# served at /dataplane on its metrics port).
write_kubeconfig "$local_dir/apinet-controller-manager.kubeconfig" apinet "$apinet_port" "$local_dir/apinet-certs" apinet-controller-manager
write_kubeconfig "$local_dir/netlet.kubeconfig" apinet "$apinet_port" "$local_dir/apinet-certs" netlet
acm_port=${APINET_MANAGER_PORT:-8094}       # health; metrics on +1
"$root/target/debug/apinet-controller-manager" --kubeconfig "$local_dir/apinet-controller-manager.kubeconfig" \
  --health-probe-bind-address "127.0.0.1:$acm_port" --metrics-bind-address "127.0.0.1:$((acm_port + 1))" \
  >"$local_dir/logs/apinet-controller-manager.log" 2>&1 &
pids+=($!)
netlet_port=${NETLET_PORT:-8096}            # per node: health, metrics (+ /dataplane) on +1
netlet_ports=()
for node in ${NODES:-node-a}; do
  "$root/target/debug/netlet" --kubeconfig "$local_dir/netlet.kubeconfig" --node-name "$node" \
    --node-label "topology.core.apinet.ironcore.dev/zone=$node" \
    --health-probe-bind-address "127.0.0.1:$netlet_port" \
    --metrics-bind-address "127.0.0.1:$((netlet_port + 1))" \
    >"$local_dir/logs/netlet-$node.log" 2>&1 &
  pids+=($!)
  netlet_ports+=("$node:$netlet_port")
  netlet_port=$((netlet_port + 2))
done

wait_http_ready ironcore-controller-manager "$cm_port"
wait_http_ready apinetlet "$apinetlet_port"
wait_http_ready apinet-controller-manager "$acm_port"
for np in "${netlet_ports[@]}"; do wait_http_ready "netlet-${np%%:*}" "${np##*:}"; done

cat <<MSG
IronCore networking API is up (storage: $($use_etcd && echo "etcd on 127.0.0.1:$etcd_port" || echo "embedded, $local_dir/data")).

  export KUBECONFIG=$local_dir/kubeconfig
  kubectl api-resources --api-group=networking.ironcore.dev
  kubectl apply -f docs/examples/network.yaml
  kubectl get networks

apinet API (core.apinet.ironcore.dev) on 127.0.0.1:$apinet_port, public prefixes $public_prefixes:

  export KUBECONFIG=$local_dir/apinet.kubeconfig
  kubectl api-resources --api-group=core.apinet.ironcore.dev
  kubectl get networks,networkids,ips,ipaddresses

Controllers: ironcore-controller-manager (health 127.0.0.1:$cm_port, metrics :$((cm_port + 1))),
apinetlet (apinet namespace $apinet_namespace; health 127.0.0.1:$apinetlet_port, metrics :$((apinetlet_port + 1))),
apinet-controller-manager (health 127.0.0.1:$acm_port, metrics :$((acm_port + 1))),
netlets $(for np in "${netlet_ports[@]}"; do printf '%s (health 127.0.0.1:%s) ' "${np%%:*}" "${np##*:}"; done)
What a node's dataplane holds: curl http://127.0.0.1:<netlet health port + 1>/dataplane

Logs: $local_dir/logs/. Press Ctrl-C to stop everything.
MSG
wait "${pids[@]}"
