#!/usr/bin/env bash
# Tail stalls: plain YARP and Distributed (1 gateway + 1 silo, the embedded default, as distributed-1 in bench/run.sh)
# under fixed-rate load at the same time, each from its own bench/LoadGen (coordinated-omission corrected), while
# dotnet-counters records both processes every second: GC pauses and collections, thread-pool queue and threads, lock
# contention, and the gateway's grain calls (Orleans' own latency histogram). Both run at once so that a stall of the
# host shows in both: what counts against the gateway is a request slower than 100 ms in a second in which plain YARP
# had none. Every second with a slow request is listed beside both processes' GC pauses and the host's CPU pressure
# (/proc/pressure/cpu: how long runnable tasks waited for a core), so the cause can be read off. Writes
# bench/results/tail.md (not in smoke mode).
#   bench/tail.sh 120              120 s; each target at a quarter of plain YARP's throughput (measured first with wrk),
#                                  together half of it, the load of bench/run.sh's latency rounds
#   bench/tail.sh 120 --rate 5000  a fixed rate for each target instead
#   bench/tail.sh 120 --rate 200 --gateway-rate 6000
#                                  the gateway alone near its capacity, plain YARP as a light canary beside it: a stall
#                                  of the host still shows in both, one the gateway makes under load only in its own
#   bench/tail.sh --smoke          a few seconds; keeps the script from rotting, figures mean nothing
# bench/run.sh --tail SECONDS [--rate N] runs this.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=120; rate=; gw_rate=; smoke=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    --smoke) smoke=true; seconds=3; shift ;;
    --rate) rate=$2; shift 2 ;;
    --gateway-rate) gw_rate=$2; shift 2 ;;
    [0-9]*) seconds=$1; shift ;;
    *) echo "usage: bench/tail.sh [SECONDS=120] [--rate REQUESTS_PER_SECOND_PER_TARGET] [--gateway-rate REQUESTS_PER_SECOND] | --smoke" >&2; exit 2 ;;
  esac
done
warmup=10; probe=10
if $smoke; then warmup=1; probe=1; fi

export PATH="$PATH:$HOME/.dotnet/tools"
command -v dotnet-counters >/dev/null 2>&1 || dotnet tool install -g dotnet-counters >/dev/null
for project in bench/LoadGen bench/PlainYarp samples/EchoBackend src/Silo src/Gateway; do dotnet build "$project" -c Release -nologo -clp:ErrorsOnly >/dev/null; done
source bench/lib.sh # bin, install_missing, start/stop, free_port, wait_http, start_echo_backends
install_missing wrk

start_echo_backends

yarp_port=$(free_port)
start yarp "$(bin bench/PlainYarp)" dotnet Distributed.Bench.PlainYarp.dll --urls "http://127.0.0.1:$yarp_port" --Destinations "$backends"; yarp_pid=$started
silo_ports=($(free_port) $(free_port) $(free_port))
start silo "$(bin src/Silo)" dotnet Distributed.Silo.dll --urls "http://127.0.0.1:${silo_ports[0]}" --Orleans:SiloPort "${silo_ports[1]}" --Orleans:GatewayPort "${silo_ports[2]}"
wait_http "http://127.0.0.1:${silo_ports[0]}/readyz"
gw_port=$(free_port); gw_admin=$(free_port)
start gateway "$(bin src/Gateway)" dotnet Distributed.Gateway.dll --urls "http://127.0.0.1:$gw_port" --Balancer:Admin:Url "http://127.0.0.1:$gw_admin" --Orleans:GatewayPort "${silo_ports[2]}" "${pool_args[@]}"; gw_pid=$started
wait_http "http://127.0.0.1:$gw_admin/readyz"; wait_http "http://127.0.0.1:$yarp_port/"

# Warm-up as in bench/run.sh (tiered JIT done, every session key pinned), then the rate.
for url in "http://127.0.0.1:$yarp_port/" "http://127.0.0.1:$gw_port/"; do wrk -t1 -c64 -d"${warmup}s" -s bench/keys.lua "$url" >/dev/null 2>&1; done
if [[ -z "$rate" ]]; then
  wrk -t1 -c64 -d"${probe}s" -s bench/keys.lua "http://127.0.0.1:$yarp_port/" >"$work/probe.out" 2>&1
  rate=$(awk '/Requests\/sec/ {printf "%d", $2 / 4}' "$work/probe.out")
fi
gw_rate=${gw_rate:-$rate}
echo "tail run: ${seconds}s, ${rate} req/s to plain YARP and ${gw_rate} req/s to the gateway at once" >&2

# The samplers: dotnet-counters for each process, and the host's CPU pressure (cumulative µs in which some runnable task
# waited for a core; read with shell builtins, so the sampler itself forks nothing but sleep).
counters_pids=()
for target in yarp gateway; do
  pid_var=${target/gateway/gw}_pid
  providers=System.Runtime
  [[ $target == gateway ]] && providers+=",Microsoft.Orleans[orleans-app-requests-latency],Distributed.Gateway[distributed.gateway.grain.calls]"
  # --duration only bounds it should this script die; it is stopped below. (It ignores SIGINT in the background, and on
  # SIGTERM it loses the last seconds it had not written yet: it keeps running a few seconds past the load.)
  dotnet-counters collect -p "${!pid_var}" --format csv --refresh-interval 1 --counters "$providers" -o "$work/counters-$target.csv" \
    --duration "00:00:$(printf '%02d:%02d' $(((seconds + 300) / 60)) $(((seconds + 300) % 60)))" >"$work/counters-$target.log" 2>&1 &
  counters_pids+=($!); pids+=($!)
done
( while :; do read -r _ _ _ _ total </proc/pressure/cpu 2>/dev/null || total=total=0; echo "$EPOCHREALTIME ${total#total=}"; sleep 1; done ) >"$work/pressure.txt" &
sampler=$!; pids+=("$sampler")
recording() { [[ -f "$work/counters-$1.csv" && $(wc -l <"$work/counters-$1.csv") -gt 1 ]]; }
for target in yarp gateway; do # dotnet-counters takes seconds to attach on a loaded host; the run starts once both write
  for _ in $(seq 1 180); do recording "$target" && break; sleep 0.5; done
  recording "$target" || { echo "bench/tail.sh: dotnet-counters recorded nothing for $target" >&2; cat "$work/counters-$target.log" >&2; exit 1; }
done

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
dotnet "$(bin bench/LoadGen)/Distributed.Bench.LoadGen.dll" "http://127.0.0.1:$yarp_port/" "$rate" "$seconds" 64 10000 "$work/timeline-yarp.csv" >"$work/yarp.out" &
yarp_gen=$!
dotnet "$(bin bench/LoadGen)/Distributed.Bench.LoadGen.dll" "http://127.0.0.1:$gw_port/" "$gw_rate" "$seconds" 64 10000 "$work/timeline-gateway.csv" >"$work/gateway.out" &
gw_gen=$!
wait "$yarp_gen" "$gw_gen"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
sleep 6
for pid in "${counters_pids[@]}" "$sampler"; do stop "$pid"; done
echo "  yarp:    $(cat "$work/yarp.out")" >&2
echo "  gateway: $(cat "$work/gateway.out")" >&2

python3 - "$work" "$seconds" "$rate" "$load_before" "$load_after" "$gw_rate" >"$work/tail.md" <<'PY'
import csv, sys, time, collections
work, seconds, rate, load_before, load_after, gw_rate = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
targets = ["yarp", "gateway"]
stats = {t: dict(kv.split("=", 1) for kv in open(f"{work}/{t}.out").read().split()) for t in targets}
# Everything is laid on one clock: whole seconds since the first generator began its schedule. Records come from
# different processes sampling at their own instants, so two events in the same second may be listed a second apart.
origin = min(float(stats[t]["start"]) for t in targets)

def timeline(t):
    """Wall second -> (requests, slow, slowest ms), from LoadGen's per-second record of its schedule."""
    offset = float(stats[t]["start"]) - origin
    with open(f"{work}/timeline-{t}.csv") as f:
        return {round(offset + i): (int(r["requests"]), int(r["slow"]), float(r["max_ms"])) for i, r in enumerate(csv.DictReader(f))}

def counters(t):
    """Wall second -> counter -> value; a row stamped T (whole seconds) covers the second before it. This runtime
    publishes the thread-pool queue length and thread count as observable counters, which dotnet-counters reports as
    changes per second: they are summed back into levels above the first sample (the queue of an idle process is empty;
    read the threads as threads added since the recording began)."""
    values = collections.defaultdict(lambda: collections.defaultdict(float)); level = collections.Counter()
    for row in csv.reader(open(f"{work}/counters-{t}.csv")):
        if len(row) != 5:
            continue
        stamp, _, name, kind, value = row
        try:
            second = int(time.mktime(time.strptime(stamp, "%m/%d/%Y %H:%M:%S")) - origin) - 1
            value = float(value)
        except ValueError:
            continue  # the header
        if name.startswith(("dotnet.thread_pool.queue.length", "dotnet.thread_pool.thread.count")) and kind == "Rate":
            level[name] += value; value = level[name]
        values[second][name] += value
    return values

def pressure():
    """Wall second -> ms in which some runnable task waited for a core (/proc/pressure/cpu, 'some')."""
    samples = [tuple(map(float, line.split())) for line in open(f"{work}/pressure.txt") if len(line.split()) == 2]
    return {int(t1 - origin - 0.5): (p1 - p0) / 1000 / max(t1 - t0, 1e-3) for (t0, p0), (t1, p1) in zip(samples, samples[1:])}

def c(values, second, prefix, scale=1.0):
    return sum(v for k, v in values.get(second, {}).items() if k.startswith(prefix)) * scale

def gens(values, seconds):
    return "/".join(f"{sum(c(values, i, f'dotnet.gc.collections ({{collection}} / 1 sec)[gc.heap.generation={g}]') for i in seconds):.0f}" for g in ("gen0", "gen1", "gen2"))

lines = {t: timeline(t) for t in targets}
ctr = {t: counters(t) for t in targets}
psi = pressure()
run = range(min(min(l) for l in lines.values()), max(max(l) for l in lines.values()) + 1)
slow = {t: {i for i, (_, n, _) in lines[t].items() if n} for t in targets}
def own(t, i):  # slow in a second in which the other target had no slow request, nor in the seconds either side
    other = [o for o in targets if o != t][0]
    return not ({i - 1, i, i + 1} & slow[other])

print(f"# Tail run: {seconds} s at a fixed rate, plain YARP and the gateway at once")
print()
rates = f"{rate} req/s to each target" if rate == gw_rate else f"{rate} req/s to plain YARP and {gw_rate} req/s to the gateway"
print(f"{time.strftime('%Y-%m-%dT%H:%MZ', time.gmtime(origin))}; {rates} at the same time, 64 connections each, "
      f"10,000 session keys (bench/tail.sh); load average {load_before} before, {load_after} after.")
print("A slow request took over 100 ms, measured from when it was due (coordinated-omission corrected). 'Own slow' counts a "
      "target's slow requests in seconds in which the other target had none (nor in the second before or after): those are "
      "not the host's. GC and thread-pool figures are dotnet-counters' over the run, one sample a second.")
print()
print("| target | requests | p50 ms | p99 ms | p99.9 ms | max ms | errors | slow | seconds with slow | own slow | GC collections gen0/1/2 | GC pause ms | worst second's GC pause ms | thread-pool threads added | thread-pool queue, most | lock contentions |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
for t in targets:
    v, s = ctr[t], stats[t]
    pauses = [c(v, i, "dotnet.gc.pause.time", 1000) for i in run]
    threads = max(c(v, i, "dotnet.thread_pool.thread.count") for i in run) - c(v, run[0], "dotnet.thread_pool.thread.count")
    queue = max(c(v, i, "dotnet.thread_pool.queue.length") for i in run)
    locks = sum(c(v, i, "dotnet.monitor.lock_contentions") for i in run)
    owned = sum(n for i, (_, n, _) in lines[t].items() if n and own(t, i))
    print(f"| {t} | {s['count']} | {s['p50']} | {s['p99']} | {s['p999']} | {s['max']} | {s['errors']} | {s['slow']} | {len(slow[t])} | {owned} "
          f"| {gens(v, run)} | {sum(pauses):.1f} | {max(pauses):.1f} | {threads:.0f} | {queue:.0f} | {locks:.0f} |")
print()
listed = sorted(slow["yarp"] | slow["gateway"])
print(f"Seconds with a slow request ({len(listed)} of {len(run)}): slow requests / slowest ms of each target ('own' when the other "
      "had none), each process's GC pause (ms) in that second, the gateway's collections, thread-pool threads added and queue, its "
      "session-grain calls and Orleans' grain-call latency p99 (ms), and the host's CPU pressure (ms of that second in which some "
      "runnable task waited for a core: other tenants' load shows here).")
print()
print("| second | yarp slow / max ms | gateway slow / max ms | yarp GC ms | gateway GC ms | gateway gen0/1/2 | gateway threads added | gateway queue | session-grain calls | grain-call p99 ms | host CPU pressure ms |")
print("| ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
def cell(t, i):
    r, n, m = lines[t].get(i, (0, 0, 0.0))
    return f"{n} / {m:.0f}{' own' if n and own(t, i) else ''}"
gv = ctr["gateway"]
for i in listed:
    p99 = max((v for k, v in gv.get(i, {}).items() if k.startswith("orleans-app-requests-latency") and "Percentile=99" in k), default=0)
    print(f"| {i} | {cell('yarp', i)} | {cell('gateway', i)} | {c(ctr['yarp'], i, 'dotnet.gc.pause.time', 1000):.1f} | {c(gv, i, 'dotnet.gc.pause.time', 1000):.1f} "
          f"| {gens(gv, [i])} | {c(gv, i, 'dotnet.thread_pool.thread.count') - c(gv, run[0], 'dotnet.thread_pool.thread.count'):+.0f} | {c(gv, i, 'dotnet.thread_pool.queue.length'):.0f} "
          f"| {c(gv, i, 'distributed.gateway.grain.calls'):.0f} | {p99:.1f} | {psi.get(i, 0):.0f} |")
PY
cat "$work/tail.md"
# The gateway driven apart from plain YARP is a run of its own: it does not replace the side-by-side reference.
$smoke || cp "$work/tail.md" "bench/results/$([[ $gw_rate == "$rate" ]] && echo tail.md || echo tail-gateway-alone.md)"
