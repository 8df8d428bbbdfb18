#!/usr/bin/env bash
# The embedded default: one silo (localhost clustering, in-memory storage), one gateway on
# http://127.0.0.1:8080 and three echo backends. Ctrl-C or SIGTERM stops everything it started. (Run in the background
# of a non-interactive shell, a script ignores SIGINT: stop it there with `kill -TERM <pid>`.)
set -euo pipefail
cd "$(dirname "$0")"
source deploy/local/lib.sh # root, bin, install_missing, stop
configuration=Release
gateway_port=8080 admin_port=8081 silo_health_port=8090 backend_ports=(5001 5002 5003) orleans_ports=(11111 30000)

for port in "$gateway_port" "$admin_port" "$silo_health_port" "${backend_ports[@]}" "${orleans_ports[@]}"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "run.sh: port $port on 127.0.0.1 is already in use; stop whatever listens there and retry." >&2
    exit 1
  fi
done

install_missing curl # wait_ready
echo "Building ($configuration)..."
dotnet build Distributed.sln -c "$configuration" -nologo -clp:ErrorsOnly >/dev/null

log_dir="$root/.run"
mkdir -p "$log_dir"
pids=()
# Newest first: the gateway before the silo, so neither stops against a dependency already gone; each gets SIGTERM and
# 10 s before SIGKILL.
cleanup() {
  trap - EXIT INT TERM
  [[ ${#pids[@]} -gt 0 ]] || return 0
  echo
  echo "Stopping..."
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop "${pids[$i]}"; done
  echo "Stopped."
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

# start NAME PROJECT_DIR ASSEMBLY ARGS...: runs from the build output so each host finds its appsettings.json.
start() {
  local name=$1 dir assembly=$3
  dir=$(bin "$2")
  shift 3
  (cd "$dir" && exec dotnet "$assembly.dll" "$@") >"$log_dir/$name.log" 2>&1 &
  pids+=($!)
}

wait_ready() {
  local name=$1 url=$2
  for _ in $(seq 1 120); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
    sleep 0.5
  done
  echo "run.sh: $name did not become ready at $url; see $log_dir/$name.log" >&2
  tail -n 20 "$log_dir/$name.log" >&2
  exit 1
}

for i in 0 1 2; do
  start "echo-b$((i + 1))" samples/EchoBackend Distributed.EchoBackend --urls "http://127.0.0.1:${backend_ports[$i]}" --Echo:Id "b$((i + 1))"
done
start silo src/Silo Distributed.Silo --urls "http://127.0.0.1:$silo_health_port"
wait_ready silo "http://127.0.0.1:$silo_health_port/readyz"
admin_key=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
# In the gateway's environment, not on its command line, which any local user can read with ps.
export Balancer__Admin__ApiKey="$admin_key"
# One gateway and no load balancer in front: nothing to drain towards, so Ctrl-C stops it without the 5 s drain.
start gateway src/Gateway Distributed.Gateway --environment Demo --urls "http://127.0.0.1:$gateway_port" \
  --Balancer:Shutdown:DrainPeriod 00:00:00
for i in 0 1 2; do wait_ready "echo-b$((i + 1))" "http://127.0.0.1:${backend_ports[$i]}/healthz"; done
wait_ready gateway "http://127.0.0.1:$admin_port/readyz"

cat <<INFO

Distributed is running (logs in .run/):
  gateway        http://127.0.0.1:$gateway_port        (pool "web", session key: header X-Session-Id)
  management     http://127.0.0.1:$admin_port/readyz   (admin API key: $admin_key)
  status page    http://127.0.0.1:$admin_port/ui#key=$admin_key
  metrics        http://127.0.0.1:$admin_port/metrics   (silo: http://127.0.0.1:$silo_health_port/metrics)
  Orleans        http://127.0.0.1:$silo_health_port/dashboard
  silo health    http://127.0.0.1:$silo_health_port/readyz
  backends       b1 http://127.0.0.1:${backend_ports[0]}  b2 http://127.0.0.1:${backend_ports[1]}  b3 http://127.0.0.1:${backend_ports[2]}

Try it:
  curl -i -H 'X-Session-Id: alice' http://127.0.0.1:$gateway_port/      # same backend every time for alice
  curl -H 'X-Session-Id: bob' http://127.0.0.1:$gateway_port/           # bob is pinned too, maybe elsewhere
  curl http://127.0.0.1:$gateway_port/                                  # no key: least-loaded backend
  curl -H "Authorization: Bearer $admin_key" http://127.0.0.1:$admin_port/admin/pools          # cluster-wide state
  curl -X POST -H "Authorization: Bearer $admin_key" http://127.0.0.1:$admin_port/admin/pools/web/backends/b1/drain

Press Ctrl-C (or send SIGTERM to run.sh, pid $$) to stop everything.
INFO
wait -n "${pids[@]}" || true
echo "run.sh: a process exited unexpectedly; see $log_dir/" >&2
