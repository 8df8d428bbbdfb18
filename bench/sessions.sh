#!/usr/bin/env bash
# The "1,000,000 pinned sessions" benchmark: one real silo, sessions pinned through it by bench/Sessions (an Orleans
# client, as a gateway on cache misses), then confirmed once more (as gateways do periodically); the silo's live heap,
# GC-committed memory and RSS after each phase (see bench/Sessions/Program.cs). Then a real gateway in front of the
# same silo, driven with more distinct session keys than its pin cache holds: its cache must stay within
# PinCache:MaxEntries, and its memory per cached pin is reported. Production configuration first (Redis clustering +
# Redis grain storage), then the embedded default (localhost clustering + memory storage).
# Writes bench/results/sessions.md (not in smoke mode).
#   bench/sessions.sh                        1,000,000 sessions, both storages (about 10 minutes each)
#   bench/sessions.sh --sessions 200000      fewer sessions
#   bench/sessions.sh --storage redis        one storage only (redis | memory)
#   bench/sessions.sh --gateway-keys 0       no gateway phase (default 300000 keys, cache capped at 100000)
#   bench/sessions.sh --silo-env VAR=VALUE   environment for the silo (repeatable), e.g. DOTNET_GCConserveMemory=5
#   bench/sessions.sh --smoke                2,000 sessions, collection forced, seconds; keeps the script from rotting
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

sessions=1000000; storages="redis memory"; settle=240; smoke=false; collect_now=()
gateway_keys=300000; gateway_cap=100000; silo_env=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --smoke) smoke=true; sessions=2000; settle=30; collect_now=(--collect-now true); gateway_keys=3000; gateway_cap=1000; shift ;;
    --sessions) sessions=$2; shift 2 ;;
    --storage) storages=$2; shift 2 ;;
    --settle) settle=$2; shift 2 ;;
    --gateway-keys) gateway_keys=$2; shift 2 ;;
    --gateway-cap) gateway_cap=$2; shift 2 ;;
    --silo-env) silo_env+=("$2"); shift 2 ;;
    *) echo "usage: bench/sessions.sh [--smoke] [--sessions N] [--storage redis|memory] [--settle seconds] [--gateway-keys N] [--gateway-cap N] [--silo-env VAR=VALUE]..." >&2; exit 2 ;;
  esac
done

install_missing redis-server redis-cli wrk
projects=(src/Silo bench/Sessions)
if [[ "$gateway_keys" -gt 0 ]]; then projects+=(src/Gateway samples/EchoBackend); fi
for project in "${projects[@]}"; do dotnet build "$project" -c Release -nologo -clp:ErrorsOnly >/dev/null; done

# Distinct session keys through the gateway: thread t of T sends keys offset+t, offset+t+T, ... (mod the key space).
cat >"$work/distinct-keys.lua" <<'LUA'
local threads = 0
function setup(thread) thread:set("id", threads); threads = threads + 1 end
function init(args) keys = tonumber(args[1]); step = tonumber(args[2]); n = tonumber(args[3]) + id end
function request()
  local key = n % keys
  n = n + step
  return wrk.format("GET", "/", { ["X-Session-Id"] = "gw-" .. key })
end
LUA

# gateway_phase STORAGE SILO_GATEWAY_PORT CLUSTER_ARGS...: starts an echo backend and a gateway against the running
# silo, sends gateway_keys distinct keys through it, and checks its pin cache against its cap.
gateway_phase() {
  local storage=$1 silo_gateway_port=$2; shift 2
  local echo_port gw_port gw_admin admin gw_pid sent=0 chunk=0 max_entries=0 entries done_now
  echo_port=$(free_port); gw_port=$(free_port); gw_admin=$(free_port)
  start "echo-$storage" "$(bin samples/EchoBackend)" dotnet Distributed.EchoBackend.dll --urls "http://127.0.0.1:$echo_port" --Echo:Id b1
  local echo_pid=$started
  wait_http "http://127.0.0.1:$echo_port/healthz"
  start "gateway-$storage" "$(bin src/Gateway)" dotnet Distributed.Gateway.dll --urls "http://127.0.0.1:$gw_port" \
    --Balancer:Admin:Url "http://127.0.0.1:$gw_admin" --Orleans:GatewayPort "$silo_gateway_port" "$@" \
    --Balancer:Pools:web:SessionKey Header:X-Session-Id --Balancer:Pools:web:Backends:b1:Address "http://127.0.0.1:$echo_port" \
    --Balancer:PinCache:MaxEntries "$gateway_cap" --Balancer:NewSessions:PerClientPerSecond 0
  gw_pid=$started; admin="http://127.0.0.1:$gw_admin"
  wait_http "$admin/readyz"
  # Warm-up (JIT, connections) with keys outside the measured space, then the baseline.
  wrk -t2 -c32 -d2s -s "$work/distinct-keys.lua" "http://127.0.0.1:$gw_port/" -- $((gateway_cap / 10 < 1000 ? gateway_cap / 10 : 1000)) 2 10000000 >/dev/null 2>&1
  local heap0 rss0 entries0
  heap0=$(metric dotnet_gc_last_collection_heap_size_bytes "$admin"); rss0=$(rss_mb "$gw_pid"); entries0=$(metric distributed_gateway_pin_cache_entries "$admin")
  echo "gateway before: pin_cache_entries=$entries0 live_heap_mb=$((heap0 / 1048576)) rss_mb=$rss0 (cap $gateway_cap)"
  while [[ $sent -lt $gateway_keys && $chunk -lt 30 ]]; do
    wrk -t2 -c64 -d"$($smoke && echo 2 || echo 10)s" -s "$work/distinct-keys.lua" "http://127.0.0.1:$gw_port/" -- "$gateway_keys" 2 "$sent" >"$work/wrk-gw.out" 2>&1
    done_now=$(awk '/requests in/ {print $1}' "$work/wrk-gw.out"); sent=$((sent + ${done_now:-0}))
    chunk=$((chunk + 1))
    entries=$(metric distributed_gateway_pin_cache_entries "$admin")
    [[ $entries -gt $max_entries ]] && max_entries=$entries
    echo "  gateway: $sent requests ($(awk '/Requests\/sec/ {printf "%.0f", $2}' "$work/wrk-gw.out")/s, $(awk '/Non-2xx/ {print $5}' "$work/wrk-gw.out" | grep . || echo 0) non-2xx) pin_cache_entries=$entries rss_mb=$(rss_mb "$gw_pid")"
  done
  local heap1 rss1 distinct=$((sent < gateway_keys ? sent : gateway_keys)) verdict=ok
  heap1=$(metric dotnet_gc_last_collection_heap_size_bytes "$admin"); rss1=$(rss_mb "$gw_pid"); entries=$(metric distributed_gateway_pin_cache_entries "$admin")
  [[ $max_entries -le $gateway_cap && $distinct -gt $gateway_cap ]] || verdict=FAILED
  local per_entry=- per_entry_rss=-
  if [[ $entries -gt $entries0 ]]; then
    per_entry=$(( (heap1 - heap0) / (entries - entries0) )); per_entry_rss=$(( (rss1 - rss0) * 1048576 / (entries - entries0) ))
  fi
  echo "gateway after: distinct_keys=$distinct pin_cache_entries=$entries max_seen=$max_entries cap=$gateway_cap live_heap_mb=$((heap1 / 1048576)) rss_mb=$rss1 live_bytes_per_entry=$per_entry rss_bytes_per_entry=$per_entry_rss"
  echo "check: $([[ $verdict == ok ]] && echo 'ok  ' || echo FAIL) gateway pin cache stays within its cap ($max_entries <= $gateway_cap with $distinct distinct keys)"
  gateway_line="gateway ($storage): $distinct distinct keys, PinCache:MaxEntries $gateway_cap: entries $entries (max seen $max_entries) — check $verdict; live heap $((heap0 / 1048576)) → $((heap1 / 1048576)) MB (last GC, not forced), RSS $rss0 → $rss1 MB; $per_entry live bytes and $per_entry_rss RSS bytes per cached pin."
  stop "$gw_pid"; stop "$echo_pid"
  [[ $verdict == ok ]]
}

status=0; report=()
for storage in $storages; do
  http_port=$(free_port); silo_port=$(free_port); gateway_port=$(free_port)
  orleans=(--Orleans:SiloPort "$silo_port" --Orleans:GatewayPort "$gateway_port" --Orleans:ClusterId "sessions-$$")
  cluster=(--Orleans:ClusterId "sessions-$$")
  redis_port=""
  if [[ "$storage" == redis ]]; then
    redis_port=$(free_port)
    start redis "$work" redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no
    redis_pid=$started
    for _ in $(seq 1 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    orleans+=(--Orleans:Clustering Redis --Orleans:Redis "127.0.0.1:$redis_port")
    cluster+=(--Orleans:Clustering Redis --Orleans:Redis "127.0.0.1:$redis_port")
  fi
  start "silo-$storage" "$(bin src/Silo)" env "${silo_env[@]}" dotnet Distributed.Silo.dll --urls "http://127.0.0.1:$http_port" "${orleans[@]}"
  silo_pid=$started
  wait_http "http://127.0.0.1:$http_port/readyz"

  echo "== $storage storage: $sessions sessions${silo_env:+ (silo environment: ${silo_env[*]})}"
  began=$(date +%s)
  bench_status=0
  dotnet "$(bin bench/Sessions)/Distributed.Bench.Sessions.dll" --silo-pid "$silo_pid" --silo-url "http://127.0.0.1:$http_port" \
    --sessions "$sessions" --settle "$settle" --markdown "$work/bench-$storage.md" "${collect_now[@]}" "${orleans[@]}" \
    | tee "$work/bench-$storage.out" || bench_status=$?
  [[ $bench_status -eq 0 ]] || status=1
  # The silo's CPU over the whole run (pinning, collection, confirmations, GC): what a GC setting costs.
  silo_cpu=$(awk '{printf "%.1f", ($14 + $15) / 100}' "/proc/$silo_pid/stat")
  echo "silo cpu_seconds=$silo_cpu"
  redis_mb=""
  if [[ -n "$redis_port" ]]; then
    redis_mb=$(redis-cli -p "$redis_port" info memory | awk -F: '/^used_memory:/ {printf "%.0f", $2/1048576}')
    echo "redis used_memory_mb=$redis_mb ($(( redis_mb * 1048576 / sessions )) bytes/session, warm-up included)"
  fi
  gateway_line=""
  if [[ "$gateway_keys" -gt 0 ]]; then
    echo "== gateway: $gateway_keys distinct session keys, PinCache:MaxEntries $gateway_cap"
    gateway_phase "$storage" "$gateway_port" "${cluster[@]}" || status=1
  fi
  wall=$(( $(date +%s) - began ))
  report+=("## $storage storage" "" "$(cat "$work/bench-$storage.md" 2>/dev/null || echo "bench/Sessions failed before writing its report")" "")
  if [[ -n "$redis_mb" ]]; then report+=("Redis used_memory after the run: $redis_mb MB ($(( redis_mb * 1048576 / sessions )) bytes/session)." ""); fi
  if [[ -n "$gateway_line" ]]; then report+=("$gateway_line" ""); fi
  report+=("Wall time for this storage: $wall s; silo CPU $silo_cpu s (user + system, start-up included)." "")
  # Newest first: the silo before its Redis (a silo whose Redis is gone can take minutes to stop).
  stop "$silo_pid"
  if [[ -n "$redis_port" ]]; then stop "$redis_pid"; fi
done

if [[ $status -ne 0 ]]; then
  echo "sessions: a check failed; bench/results/sessions.md left as it was" >&2
elif ! $smoke; then
  {
    echo "# Pinned sessions: silo memory per session ($(date -u +%Y-%m-%d), $(nproc) cores)"
    echo
    echo "bench/sessions.sh --sessions $sessions${silo_env:+ --silo-env ${silo_env[*]}}: one silo; bench/Sessions (an Orleans client, as gateways on"
    echo "cache misses) pins every session, waits until the idle session grains were collected, then confirms every session"
    echo "once more (GetOrPinAsync with its backend, as gateways' periodic confirmations) and waits until those activations"
    echo "left again. Live heap = sum(dotnet_gc_last_collection_heap_size_bytes) after a full GC forced through the management"
    echo "grain; committed = dotnet_gc_last_collection_memory_committed_size_bytes; RSS = VmRSS. Per session = (phase - baseline) / sessions."
    echo
    printf '%s\n' "${report[@]}"
  } >bench/results/sessions.md
fi
exit $status
