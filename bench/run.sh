#!/usr/bin/env bash
# One run, same generators and workload for every target: 3 echo backends, 10,000 session keys in a header,
# keep-alive connections. Throughput with wrk; latency at a fixed rate (50% of plain YARP's maximum) with
# bench/LoadGen (HdrHistogram, corrected for coordinated omission). Writes bench/results/latest.md (smoke.md in smoke mode).
#   bench/run.sh            full run (about 12-13 minutes: proxies, then bench/sessions.sh with 1,000,000 sessions)
#   bench/run.sh --smoke    seconds per scenario; run by ./test.sh so the script cannot rot
#   bench/run.sh --capacity the scale model's unit costs instead (bench/capacity.sh: pool reports, session pins per core)
#   bench/run.sh --tail 120 a 120 s fixed-rate run of plain YARP and the gateway at once instead, counting requests over
#                           100 ms with both processes' GC and thread-pool counters (bench/tail.sh; also --rate N)
set -euo pipefail
cd "$(dirname "$0")/.."
[[ "${1:-}" == "--capacity" ]] && { shift; exec bench/capacity.sh "$@"; }
[[ "${1:-}" == "--tail" ]] && { shift; exec bench/tail.sh "$@"; }
smoke=false; [[ "${1:-}" == "--smoke" ]] && smoke=true
# Warm-up: every target gets the same, long enough to reach steady state (tiered JIT done, every one of the 10,000
# session keys seen, so no first-time pin falls in the measured window). A balancer runs for days: steady state is what
# its users see. Measured: with 3 s at 16 connections the gateway was still partly in tier-0 code (0.79x YARP instead
# of 0.92-0.95x) and the Redis-backed 2x2 topology had not pinned every key yet.
# Then the targets are measured in interleaved rounds (every target once per round, in turn) and the median round is
# reported: on a shared 2-core machine one 15 s sample of a target varies by several percent from the next.
duration=10; rate_duration=8; warmup=10; rounds=3
results=bench/results/latest.md
if $smoke; then duration=1; rate_duration=1; warmup=1; rounds=1; results=bench/results/smoke.md; fi # smoke figures are not kept

source bench/lib.sh # bin, install_missing, start/stop/cleanup of every process started, free_port, wait_http, rss_mb, metric, start_echo_backends
install_missing wrk haproxy nginx redis-server
dotnet build bench/LoadGen -c Release -nologo -clp:ErrorsOnly >/dev/null
dotnet build bench/PlainYarp -c Release -nologo -clp:ErrorsOnly >/dev/null
dotnet build Distributed.sln -c Release -nologo -clp:ErrorsOnly >/dev/null

# throughput SCRIPT URL...: wrk with that workload against one or more URLs at once (two gateways: one wrk each);
# prints total requests/s.
throughput() {
  local total=0 outputs=() script=$1; shift
  for url in "$@"; do
    wrk -t1 -c$((64 / $#)) -d"${duration}s" -s "$script" "$url" >"$work/wrk-$(echo "$url" | tr -c 'a-z0-9' _).out" 2>&1 &
    outputs+=($!)
  done
  for pid in "${outputs[@]}"; do wait "$pid"; done
  local requests=0
  for url in "$@"; do
    rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk-$(echo "$url" | tr -c 'a-z0-9' _).out")
    total=$(python3 -c "print(${total} + ${rps:-0})")
    requests=$(( requests + $(awk '/ requests in / {print $1}' "$work/wrk-$(echo "$url" | tr -c 'a-z0-9' _).out") ))
  done
  echo "$requests" >"$work/requests" # for CPU per request (this runs in a command substitution: no globals)
  printf "%.0f" "$total"
}
# cpu_ticks PID...: user + system CPU the processes and their children (nginx's workers) have used, in clock ticks.
cpu_ticks() {
  local total=0 pid child
  for pid in "$@"; do
    for child in "$pid" $(ps -o pid= --ppid "$pid" 2>/dev/null); do
      total=$(( total + $(awk '{print $14 + $15}' "/proc/$child/stat" 2>/dev/null || echo 0) ))
    done
  done
  echo "$total"
}
warm() { local script=$1; shift; for url in "$@"; do wrk -t1 -c64 -d"${warmup}s" -s "$script" "$url" >/dev/null 2>&1; done; }
latency() { dotnet "$(bin bench/LoadGen)/Distributed.Bench.LoadGen.dll" "$1" "$2" "$rate_duration" 64 10000; }

declare -A rps lat mem calls
start_echo_backends

# Each scenario: start it, warm it up, and queue it for the measured rounds. For Distributed also the gateways' admin
# URLs and the silos' URLs (space-separated), for grain calls per proxied request: every grain call Orleans itself
# counted (orleans_app_requests_latency, in the gateways' Orleans clients and in the silos) over the requests forwarded.
# The workload is bench/keys.lua (10,000 keys in a header) unless scripts[NAME] names another.
declare -A urls procs gateways silos scripts
targets=()
add_target() {
  local name=$1; shift
  warm "${scripts[$name]:=bench/keys.lua}" "$@"; urls[$name]=$(IFS=,; echo "$*"); targets+=("$name"); echo "  started and warmed: $name" >&2
}
field() { sed -E "s/.*$2=([^ ]+).*/\1/" <<<"$1"; }
# grain_counts NAME: "<grain calls Orleans counted in its gateways and silos> <requests its gateways forwarded>" so far.
# The session-grain calls its gateways made (distributed.gateway.grain.calls: get-or-pin, confirm, re-pin) come third.
grain_counts() { echo "$(metric orleans_app_requests_latency_milliseconds_count ${gateways[$1]} ${silos[$1]}) $(metric distributed_gateway_requests_total ${gateways[$1]}) $(metric distributed_gateway_grain_calls_total ${gateways[$1]})"; }
median() { python3 -c "import statistics, sys; print(statistics.median(float(v) for v in sys.argv[1:]))" "$@"; }

echo "targets (each warmed ${warmup}s at 64 connections):" >&2
add_target direct "http://127.0.0.1:${backend_ports[0]}/"

yarp_port=$(free_port)
start yarp "$(bin bench/PlainYarp)" dotnet Distributed.Bench.PlainYarp.dll --urls "http://127.0.0.1:$yarp_port" --Destinations "$backends"; procs[yarp]=$started
wait_http "http://127.0.0.1:$yarp_port/"
add_target yarp "http://127.0.0.1:$yarp_port/"

haproxy_port=$(free_port)
cat >"$work/haproxy.cfg" <<CFG
global
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
frontend fe
  bind 127.0.0.1:$haproxy_port
  default_backend be
backend be
  balance leastconn
  stick-table type string len 64 size 200k expire 30m
  stick on req.hdr(X-Session-Id)
  http-reuse always
  server b1 127.0.0.1:${backend_ports[0]}
  server b2 127.0.0.1:${backend_ports[1]}
  server b3 127.0.0.1:${backend_ports[2]}
CFG
start haproxy "$work" haproxy -db -f "$work/haproxy.cfg"; procs[haproxy]=$started
wait_http "http://127.0.0.1:$haproxy_port/"
add_target haproxy "http://127.0.0.1:$haproxy_port/"

nginx_port=$(free_port)
mkdir -p "$work/nginx"
cat >"$work/nginx.conf" <<CFG
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx; proxy_temp_path $work/nginx; fastcgi_temp_path $work/nginx; uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
  upstream backends {
    hash \$http_x_session_id consistent;
    server 127.0.0.1:${backend_ports[0]}; server 127.0.0.1:${backend_ports[1]}; server 127.0.0.1:${backend_ports[2]};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:$nginx_port;
    location / { proxy_pass http://backends; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
CFG
start nginx "$work" nginx -c "$work/nginx.conf" -g "daemon off;"; procs[nginx]=$started
wait_http "http://127.0.0.1:$nginx_port/"
add_target nginx "http://127.0.0.1:$nginx_port/"

# Distributed, 1 gateway + 1 silo (localhost clustering, memory storage: the embedded default), pool_args from
# start_echo_backends.
silo_ports=($(free_port) $(free_port) $(free_port))
start silo1 "$(bin src/Silo)" dotnet Distributed.Silo.dll --urls "http://127.0.0.1:${silo_ports[0]}" --Orleans:SiloPort "${silo_ports[1]}" --Orleans:GatewayPort "${silo_ports[2]}"; procs[silo1]=$started
wait_http "http://127.0.0.1:${silo_ports[0]}/readyz"
gw_port=$(free_port); gw_admin=$(free_port)
start gw1 "$(bin src/Gateway)" dotnet Distributed.Gateway.dll --urls "http://127.0.0.1:$gw_port" --Balancer:Admin:Url "http://127.0.0.1:$gw_admin" --Orleans:GatewayPort "${silo_ports[2]}" "${pool_args[@]}"; procs[gw1]=$started
wait_http "http://127.0.0.1:$gw_admin/readyz"
add_target distributed-1 "http://127.0.0.1:$gw_port/"
gateways[distributed-1]="http://127.0.0.1:$gw_admin"; silos[distributed-1]="http://127.0.0.1:${silo_ports[0]}"

# The same silo behind a gateway whose pool keys sessions by a signed cookie: 10% of requests are first visits, which
# the gateway places locally and pins behind the response (bench/cookies.lua).
gwc_port=$(free_port); gwc_admin=$(free_port)
start gwc "$(bin src/Gateway)" dotnet Distributed.Gateway.dll --urls "http://127.0.0.1:$gwc_port" --Balancer:Admin:Url "http://127.0.0.1:$gwc_admin" --Orleans:GatewayPort "${silo_ports[2]}" \
  "${pool_args[@]}" --Balancer:Pools:web:SessionKey Cookie:sid; procs[gwc]=$started
wait_http "http://127.0.0.1:$gwc_admin/readyz"
scripts[distributed-cookie]=bench/cookies.lua
add_target distributed-cookie "http://127.0.0.1:$gwc_port/"
gateways[distributed-cookie]="http://127.0.0.1:$gwc_admin"; silos[distributed-cookie]="http://127.0.0.1:${silo_ports[0]}"

# Distributed, 2 gateways + 2 silos clustered through Redis.
redis_port=$(free_port)
start redis "$work" redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no; procs[redis]=$started
sleep 0.5
cluster_args=(--Orleans:Clustering Redis --Orleans:Redis "127.0.0.1:$redis_port" --Orleans:ClusterId "bench-$$")
silo2_urls=()
for s in a b; do
  p=($(free_port) $(free_port) $(free_port)); silo2_urls+=("http://127.0.0.1:${p[0]}")
  start "silo$s" "$(bin src/Silo)" dotnet Distributed.Silo.dll --urls "http://127.0.0.1:${p[0]}" --Orleans:SiloPort "${p[1]}" --Orleans:GatewayPort "${p[2]}" --Orleans:AdvertisedIp 127.0.0.1 "${cluster_args[@]}"; procs[silo$s]=$started
  wait_http "http://127.0.0.1:${p[0]}/readyz"
done
gw2_urls=(); gw2_admins=()
for g in a b; do
  gp=$(free_port); ga=$(free_port)
  start "gw$g" "$(bin src/Gateway)" dotnet Distributed.Gateway.dll --urls "http://127.0.0.1:$gp" --Balancer:Admin:Url "http://127.0.0.1:$ga" "${cluster_args[@]}" "${pool_args[@]}"; procs[gw$g]=$started
  wait_http "http://127.0.0.1:$ga/readyz"
  gw2_urls+=("http://127.0.0.1:$gp/"); gw2_admins+=("http://127.0.0.1:$ga")
done
add_target distributed-2 "${gw2_urls[@]}"
gateways[distributed-2]="${gw2_admins[*]}"; silos[distributed-2]="${silo2_urls[*]}"

# The proxy processes whose CPU each throughput round is charged to (not the generator, the backends or the silos).
declare -A cpu_pids=([yarp]="${procs[yarp]}" [haproxy]="${procs[haproxy]}" [nginx]="${procs[nginx]}" [distributed-1]="${procs[gw1]}" [distributed-cookie]="${procs[gwc]}" [distributed-2]="${procs[gwa]} ${procs[gwb]}")
clock_ticks=$(getconf CLK_TCK)

echo "throughput (wrk, $rounds interleaved rounds of ${duration}s, 64 connections):" >&2
declare -A rounds_rps calls_made requests_made session_calls_made cpu_used cpu_requests cpu session_calls
for ((round = 1; round <= rounds; round++)); do
  for name in "${targets[@]}"; do
    IFS=, read -r -a list <<<"${urls[$name]}"
    if [[ -n "${gateways[$name]:-}" ]]; then read -r calls0 requests0 session0 <<<"$(grain_counts "$name")"; fi
    if [[ -n "${cpu_pids[$name]:-}" ]]; then ticks0=$(cpu_ticks ${cpu_pids[$name]}); fi
    value=$(throughput "${scripts[$name]}" "${list[@]}")
    rounds_rps[$name]+="$value "
    if [[ -n "${cpu_pids[$name]:-}" ]]; then
      cpu_used[$name]=$(( ${cpu_used[$name]:-0} + $(cpu_ticks ${cpu_pids[$name]}) - ticks0 ))
      cpu_requests[$name]=$(( ${cpu_requests[$name]:-0} + $(cat "$work/requests") ))
    fi
    if [[ -n "${gateways[$name]:-}" ]]; then
      read -r calls1 requests1 session1 <<<"$(grain_counts "$name")"
      calls_made[$name]=$(( ${calls_made[$name]:-0} + calls1 - calls0 ))
      session_calls_made[$name]=$(( ${session_calls_made[$name]:-0} + session1 - session0 ))
      requests_made[$name]=$(( ${requests_made[$name]:-0} + requests1 - requests0 ))
    fi
    echo "  round $round $name: $value req/s" >&2
  done
done
for name in "${targets[@]}"; do
  rps[$name]=$(printf "%.0f" "$(median ${rounds_rps[$name]})")
  if [[ -n "${requests_made[$name]:-}" ]]; then
    calls[$name]=$(python3 -c "print(f'{${calls_made[$name]}/${requests_made[$name]}:.4f}' if ${requests_made[$name]} else '-')")
    session_calls[$name]=$(python3 -c "print(f'{${session_calls_made[$name]}/${requests_made[$name]}:.4f}' if ${requests_made[$name]} else '-')")
  fi
  if [[ -n "${cpu_requests[$name]:-}" ]]; then
    cpu[$name]=$(python3 -c "print(f'{${cpu_used[$name]} * 1e6 / $clock_ticks / ${cpu_requests[$name]}:.1f}' if ${cpu_requests[$name]} else '-')")
  fi
done

target_rate=$(( ${rps[yarp]} / 2 ))
echo "latency at ${target_rate} req/s (50% of plain YARP's median maximum; $rounds interleaved rounds of ${rate_duration}s):" >&2
# bench/LoadGen sends header keys only: the cookie workload is measured for throughput and CPU, not latency.
# Each round is also listed on its own, for Distributed with what the cluster did meanwhile (session-grain calls, silo
# CPU), so a round with a stall shows whether the gateways' background work (confirmations) coincided with it.
declare -A rounds_p50 rounds_p99 rounds_p999 errors
declare -A silo_pids=([distributed-1]="${procs[silo1]}" [distributed-2]="${procs[siloa]} ${procs[silob]}")
latency_rounds=()
for ((round = 1; round <= rounds; round++)); do
  for name in "${targets[@]}"; do
    [[ "${scripts[$name]}" == bench/keys.lua ]] || continue
    if [[ -n "${gateways[$name]:-}" ]]; then read -r _ _ session0 <<<"$(grain_counts "$name")"; silo0=$(cpu_ticks ${silo_pids[$name]}); fi
    line=$(latency "${urls[$name]}" "$target_rate")
    rounds_p50[$name]+="$(field "$line" p50) "; rounds_p99[$name]+="$(field "$line" p99) "; rounds_p999[$name]+="$(field "$line" p999) "
    errors[$name]=$(( ${errors[$name]:-0} + $(field "$line" errors) ))
    during="- | -"
    if [[ -n "${gateways[$name]:-}" ]]; then
      read -r _ _ session1 <<<"$(grain_counts "$name")"
      during="$(( session1 - session0 )) | $(( ($(cpu_ticks ${silo_pids[$name]}) - silo0) * 1000 / clock_ticks ))"
    fi
    latency_rounds+=("| $round | $name | $(field "$line" p99) | $(field "$line" p999) | $(field "$line" max) | $(field "$line" slow) | $during |")
    echo "  round $round $name: $line" >&2
  done
done
for name in "${targets[@]}"; do
  [[ -n "${rounds_p50[$name]:-}" ]] || { lat[$name]="p50=- p99=- p999=- errors=-"; continue; }
  lat[$name]="p50=$(median ${rounds_p50[$name]}) p99=$(median ${rounds_p99[$name]}) p999=$(median ${rounds_p999[$name]}) errors=${errors[$name]}"
done
mem[distributed-1]="gateway $(rss_mb "${procs[gw1]}") MB, silo $(rss_mb "${procs[silo1]}") MB"
mem[distributed-cookie]="gateway $(rss_mb "${procs[gwc]}") MB"
mem[distributed-2]="gateways $(rss_mb "${procs[gwa]}")+$(rss_mb "${procs[gwb]}") MB, silos $(rss_mb "${procs[siloa]}")+$(rss_mb "${procs[silob]}") MB"
mem[yarp]="$(rss_mb "${procs[yarp]}") MB"

ratio() { if [[ "$1" == - || "$2" == - || -z "$1" || -z "$2" ]]; then echo -; else python3 -c "print(f'{$1/$2:.2f}' if $2 else '-')"; fi; }
{
  echo "# Benchmark results"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); everything on one machine (loopback)."
  echo "Mode: $($smoke && echo 'smoke (seconds; figures not meaningful)' || echo full). Every target warmed ${warmup}s, then measured in $rounds interleaved rounds; medians."
  echo "Throughput: wrk, ${duration}s a round, 64 keep-alive connections, 10,000 session keys in X-Session-Id."
  echo "Latency: fixed ${target_rate} req/s (half of plain YARP's throughput), ${rate_duration}s a round, 64 connections, coordinated-omission corrected (bench/LoadGen)."
  echo
  echo "Proxy CPU: user + system CPU time of the proxy processes (the gateways for Distributed, not the silos) over the throughput rounds, per request forwarded."
  echo "Grain calls: every grain call Orleans counted in the gateways and silos (session grains, pool reports, snapshots), per request; session-grain calls: the gateways' own distributed.gateway.grain.calls (get-or-pin, confirm, re-pin), per request."
  echo "distributed-cookie: the 1-gateway topology with Cookie:sid sessions, 10% first visits (bench/cookies.lua); no fixed-rate latency (bench/LoadGen sends header keys only)."
  echo
  echo "| target | req/s | rounds | × YARP | p50 ms | p99 ms | p99.9 ms | × YARP p99 | errors | proxy CPU µs / request | × YARP CPU | × HAProxy CPU | grain calls / request | session-grain calls / request | memory |"
  echo "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
  for name in direct yarp haproxy nginx distributed-1 distributed-cookie distributed-2; do
    l=${lat[$name]}
    echo "| $name | ${rps[$name]} | $(echo ${rounds_rps[$name]} | tr ' ' '/') | $(ratio "${rps[$name]}" "${rps[yarp]}") | $(field "$l" p50) | $(field "$l" p99) | $(field "$l" p999) | $(ratio "$(field "$l" p99)" "$(field "${lat[yarp]}" p99)") | $(field "$l" errors) | ${cpu[$name]:--} | $(ratio "${cpu[$name]:--}" "${cpu[yarp]:--}") | $(ratio "${cpu[$name]:--}" "${cpu[haproxy]:--}") | ${calls[$name]:--} | ${session_calls[$name]:--} | ${mem[$name]:--} |"
  done
  echo
  echo "Latency rounds one by one, in the order they ran (slow: requests over 100 ms; for Distributed, the session-grain calls its gateways made during the round, mostly background confirmations, and its silos' CPU time meanwhile):"
  echo
  echo "| round | target | p99 ms | p99.9 ms | max ms | slow | session-grain calls | silo CPU ms |"
  echo "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
  printf '%s\n' "${latency_rounds[@]}"
} > "$results"
cat "$results"

# Session scale: 1,000,000 sessions pinned through a silo in the production configuration (Redis clustering and
# storage), silo memory per session, and a gateway driven past its pin-cache cap (bench/sessions.sh, its own report).
echo >&2
echo "session scale (bench/sessions.sh):" >&2
stop_all # the cores to the session benchmark alone
if $smoke; then
  bench/sessions.sh --smoke >"$work/sessions.out" 2>&1 || { tail -n 40 "$work/sessions.out"; exit 1; }
  grep -E '^(check|target|  )' "$work/sessions.out" | tail -n 12
  echo >&2; echo "capacity (bench/capacity.sh --smoke):" >&2
  bench/capacity.sh --smoke >"$work/capacity.out" 2>&1 || { tail -n 40 "$work/capacity.out"; exit 1; }
  grep -E '^\| [0-9]' "$work/capacity.out"
  echo >&2; echo "tail (bench/tail.sh --smoke):" >&2
  bench/tail.sh --smoke >"$work/tail.out" 2>&1 || { tail -n 40 "$work/tail.out"; exit 1; }
  grep -E '^\| (yarp|gateway) ' "$work/tail.out"
else
  bench/sessions.sh --storage redis >"$work/sessions.out" 2>&1 || { tail -n 40 "$work/sessions.out"; exit 1; }
  echo
  cat bench/results/sessions.md
fi
