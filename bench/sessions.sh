#!/usr/bin/env bash
# The "1,000,000 pinned sessions" benchmark: one real silo, sessions pinned through it by bench/Sessions (an Orleans
# client, as a gateway on cache misses), the silo's resident memory read before, right after, and once idle session
# grains were collected. Production configuration first (Redis clustering + Redis grain storage), then the embedded
# default (localhost clustering + memory storage). Writes bench/results/sessions.md (not in smoke mode).
#   bench/sessions.sh                     1,000,000 sessions, both storages (about 6 minutes each)
#   bench/sessions.sh --sessions 200000   fewer sessions
#   bench/sessions.sh --storage redis     one storage only (redis | memory)
#   bench/sessions.sh --smoke             2,000 sessions, seconds; run by ./test.sh-style checks so the script cannot rot
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
sessions=1000000; storages="redis memory"; settle=240; smoke=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    --smoke) smoke=true; sessions=2000; settle=5; shift ;;
    --sessions) sessions=$2; shift 2 ;;
    --storage) storages=$2; shift 2 ;;
    --settle) settle=$2; shift 2 ;;
    *) echo "usage: bench/sessions.sh [--smoke] [--sessions N] [--storage redis|memory] [--settle seconds]" >&2; exit 2 ;;
  esac
done

command -v redis-server >/dev/null 2>&1 || { export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq redis-server >/dev/null; }
dotnet build src/Silo -c Release -nologo -clp:ErrorsOnly >/dev/null
dotnet build bench/Sessions -c Release -nologo -clp:ErrorsOnly >/dev/null

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_http() { for _ in $(seq 1 200); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.25; done; echo "sessions: $1 never answered" >&2; tail -20 "$work"/*.log >&2; exit 1; }
start() { local name=$1; shift; "$@" >"$work/$name.log" 2>&1 & started=$!; pids+=("$started"); }
stop() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

results=()
for storage in $storages; do
  http_port=$(free_port); silo_port=$(free_port); gateway_port=$(free_port)
  orleans=(--Orleans:SiloPort "$silo_port" --Orleans:GatewayPort "$gateway_port")
  redis_pid=""
  if [[ "$storage" == redis ]]; then
    redis_port=$(free_port)
    start redis redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no
    redis_pid=$started
    for _ in $(seq 1 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    orleans+=(--Orleans:Clustering Redis --Orleans:Redis "127.0.0.1:$redis_port")
  fi
  start "silo-$storage" dotnet "$root/src/Silo/bin/Release/net10.0/Distributed.Silo.dll" --urls "http://127.0.0.1:$http_port" "${orleans[@]}"
  silo_pid=$started
  wait_http "http://127.0.0.1:$http_port/readyz"

  echo "== $storage storage: $sessions sessions"
  began=$(date +%s)
  dotnet "$root/bench/Sessions/bin/Release/net10.0/Distributed.Bench.Sessions.dll" --silo-pid "$silo_pid" \
    --silo-url "http://127.0.0.1:$http_port" --sessions "$sessions" --settle "$settle" "${orleans[@]}" | tee "$work/bench-$storage.out"
  line=$(tail -1 "$work/bench-$storage.out")
  [[ -n "$redis_pid" ]] && line="$line redis_used_memory_mb=$(redis-cli -p "$redis_port" info memory | awk -F: '/^used_memory:/ {printf "%.0f", $2/1048576}')"
  results+=("storage=$storage $line wall_seconds=$(( $(date +%s) - began ))")
  stop "$silo_pid"
  [[ -n "$redis_pid" ]] && stop "$redis_pid"
done

echo
printf '%s\n' "${results[@]}"
if ! $smoke; then
  {
    echo "# Pinned sessions: silo memory per session ($(date -u +%Y-%m-%d), $(nproc) cores)"
    echo
    echo "bench/sessions.sh --sessions $sessions: one silo, sessions pinned by bench/Sessions (Orleans client, 256 in flight)."
    echo "bytes_per_session = (silo RSS once idle session grains were collected - RSS before) / sessions;"
    echo "bytes_per_session_after = the same right after pinning (activations still resident)."
    echo
    printf '    %s\n' "${results[@]}"
  } >bench/results/sessions.md
fi
