#!/usr/bin/env bash
# The unit costs behind docs/scaling.md: one silo in the production configuration (Redis clustering and grain storage)
# and bench/Capacity, an Orleans client that (1) simulates gateways reporting to one pool grain every 200 ms, stepping
# their number up until the reports' p99 exceeds 50 ms twice in a row, with the silo's CPU per report, and (2) pins new
# sessions, with the silo's and Redis's CPU per pin. Writes bench/results/capacity.md (not in smoke mode).
#   bench/capacity.sh                          gateways 25..1600, 10 s a step; 100,000 pins (about 3 minutes)
#   bench/capacity.sh --gateways 50,100 --step-seconds 20 --pins 200000
#   bench/capacity.sh --silo-env VAR=VALUE     environment for the silo (repeatable), e.g. DOTNET_GCConserveMemory=5
#   bench/capacity.sh --smoke                  two small steps of 1 s, 500 pins; keeps the script from rotting
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

gateways=25,50,100,200,400,800,1600; step_seconds=10; pins=100000; smoke=false; silo_env=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --smoke) smoke=true; gateways=5,10; step_seconds=1; pins=500; shift ;;
    --gateways) gateways=$2; shift 2 ;;
    --step-seconds) step_seconds=$2; shift 2 ;;
    --pins) pins=$2; shift 2 ;;
    --silo-env) silo_env+=("$2"); shift 2 ;;
    *) echo "usage: bench/capacity.sh [--smoke] [--gateways N,N...] [--step-seconds S] [--pins N] [--silo-env VAR=VALUE]..." >&2; exit 2 ;;
  esac
done

install_missing redis-server redis-cli
for project in src/Silo bench/Capacity; do dotnet build "$project" -c Release -nologo -clp:ErrorsOnly >/dev/null; done

redis_port=$(free_port); http_port=$(free_port); silo_port=$(free_port); gateway_port=$(free_port)
start redis "$work" redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no
redis_pid=$started
for _ in $(seq 1 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
orleans=(--Orleans:SiloPort "$silo_port" --Orleans:GatewayPort "$gateway_port" --Orleans:ClusterId "capacity-$$" --Orleans:Clustering Redis --Orleans:Redis "127.0.0.1:$redis_port")
start silo "$(bin src/Silo)" env "${silo_env[@]}" dotnet Distributed.Silo.dll --urls "http://127.0.0.1:$http_port" "${orleans[@]}"
silo_pid=$started
wait_http "http://127.0.0.1:$http_port/readyz"

dotnet "$(bin bench/Capacity)/Distributed.Bench.Capacity.dll" --silo-pid "$silo_pid" --redis-pid "$redis_pid" \
  --gateways "$gateways" --step-seconds "$step_seconds" --pins "$pins" --markdown "$work/capacity.md" "${orleans[@]}"
redis_mb=$(redis-cli -p "$redis_port" info memory | awk -F: '/^used_memory:/ {printf "%.1f", $2/1048576}')
echo "redis used_memory after the run: $redis_mb MB"

if ! $smoke; then
  {
    echo "# Capacity: unit costs of one silo ($(date -u +%Y-%m-%d), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
    echo
    echo "bench/capacity.sh --gateways $gateways --step-seconds $step_seconds --pins $pins${silo_env:+ --silo-env ${silo_env[*]}}: one silo with"
    echo "Redis clustering and grain storage; bench/Capacity, one Orleans client on the same machine, plays the gateways."
    echo
    cat "$work/capacity.md"
    echo
    echo "Redis used_memory after the run: $redis_mb MB."
  } >bench/results/capacity.md
  cat bench/results/capacity.md
fi
