# shellcheck shell=bash
# Shell helpers shared by the bench/*.sh scripts: `source bench/lib.sh` (bash, after set -euo pipefail).
# Sets root (the repository), work (a scratch directory removed on exit unless BENCH_KEEP names a copy) and pids (every process started, stopped on
# exit newest first); bin, install_missing and stop come from deploy/local/lib.sh.
source "$(dirname "${BASH_SOURCE[0]}")/../deploy/local/lib.sh"
install_missing python3 curl # free_port, wait_http, metric

work=$(mktemp -d)
pids=()
# Stops every process started so far, newest first: gateways before silos before Redis, so nothing shuts down
# against a dependency already gone.
stop_all() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop "${pids[$i]}"; done
  pids=()
}
# BENCH_KEEP=DIR keeps the scratch directory's raw records (per-second timelines, counters, process logs) in DIR.
cleanup() {
  stop_all
  if [[ -n ${BENCH_KEEP:-} ]]; then mkdir -p "$BENCH_KEEP" && cp -r "$work"/. "$BENCH_KEEP"/; fi
  rm -rf "$work"
}
trap cleanup EXIT

# A free loopback port not handed out before in this run: the kernel may offer a just-released port again, and two
# calls in a row once gave a gateway the same public and admin port. (A file, as callers run it in a subshell.)
free_port() {
  local port
  while :; do
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
    if ! grep -qx "$port" "$work/ports" 2>/dev/null; then echo "$port" >>"$work/ports"; echo "$port"; return; fi
  done
}
wait_http() {
  for _ in $(seq 1 200); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.25; done
  echo "$(basename "$0"): $1 never answered" >&2; tail -n 20 "$work"/*.log >&2 2>/dev/null || true; exit 1
}
# start NAME DIR COMMAND...: runs it in the background; its pid is in $started (not printed: a command substitution
# would run start in a subshell and the cleanup would never learn the pid).
start() { local name=$1 dir=$2; shift 2; (cd "$dir" && exec "$@") >"$work/$name.log" 2>&1 & started=$!; pids+=("$started"); }
rss_mb() { awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$1/status" 2>/dev/null || echo "-"; }
# metric NAME URL...: a Prometheus metric summed over its series and over the processes at URL... (their /metrics).
metric() {
  local name=$1; shift
  for url in "$@"; do curl -fsS "$url/metrics"; done | awk -v name="$name" '$1 ~ "^"name"(\\{|$)" {sum += $2} END {printf "%.0f", sum}'
}
# start_echo_backends: the three demo backends every proxy benchmark forwards to (ids b1-b3). Sets backend_ports,
# backends (their URLs, comma-separated) and pool_args: a gateway's pool "web" over them, keyed by X-Session-Id, with
# no budget of new sessions per client (one load generator stands for many clients).
start_echo_backends() {
  backend_ports=($(free_port) $(free_port) $(free_port))
  for i in 0 1 2; do
    start "echo$i" "$(bin samples/EchoBackend)" dotnet Distributed.EchoBackend.dll --urls "http://127.0.0.1:${backend_ports[$i]}" --Echo:Id "b$((i + 1))"
  done
  for port in "${backend_ports[@]}"; do wait_http "http://127.0.0.1:$port/healthz"; done
  backends=$(printf "http://127.0.0.1:%s," "${backend_ports[@]}"); backends=${backends%,}
  pool_args=(--Balancer:Pools:web:SessionKey Header:X-Session-Id --Balancer:NewSessions:PerClientPerSecond 0)
  for i in 0 1 2; do pool_args+=(--Balancer:Pools:web:Backends:b$((i + 1)):Address "http://127.0.0.1:${backend_ports[$i]}"); done
}
