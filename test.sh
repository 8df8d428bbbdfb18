#!/usr/bin/env bash
# The whole test suite: unit, grain (in-process Orleans cluster), integration, observability and chaos tiers.
# Installs what it needs (redis-server, chromium, prometheus), builds once, runs each test project in turn.
#   ./test.sh                               everything
#   ./test.sh --filter Category=Unit        one tier (any `dotnet test` arguments are passed through)
set -euo pipefail
cd "$(dirname "$0")"

# Real components the tests run: Redis (membership and grain storage), Chromium (the status page's browser test,
# driven by Playwright with the system browser) and Prometheus (scrapes a gateway).
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
for tool in wrk haproxy nginx; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done # bench smoke
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "test.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
fi

configuration=Release
dotnet build Distributed.sln -c "$configuration" -nologo -clp:ErrorsOnly

log_dir=$(mktemp -d)
trap 'rm -rf "$log_dir"' EXIT
passed=0 failed=0 skipped=0 status=0
for project in tests/*.Tests/*.csproj; do
  name=$(basename "$project" .csproj)
  echo "=== $name"
  set +e
  dotnet test "$project" -c "$configuration" --no-build -nologo --logger "console;verbosity=normal" "$@" 2>&1 | tee "$log_dir/$name.log"
  rc=${PIPESTATUS[0]}
  set -e
  # The runner's own totals: "Total tests: N" followed by "Passed: N", "Failed: N", "Skipped: N" lines.
  counts=$(awk '/^Total tests:/ {t=1; next} t && /^ +(Passed|Failed|Skipped): +[0-9]+/ {gsub(":", "", $1); c[$1]+=$2} END {printf "%d %d %d", c["Passed"], c["Failed"], c["Skipped"]}' "$log_dir/$name.log")
  read -r p f s <<<"$counts"
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
  if [[ $rc -ne 0 && $f -eq 0 ]]; then
    failed=$((failed + 1)) # the run failed without a failing test (build or host crash): count it
  fi
  [[ $rc -eq 0 ]] || status=1
done

# The benchmark script in smoke mode (seconds per scenario): its figures mean nothing, but the script cannot rot.
# Skipped when a filter selects one tier.
if [[ $# -eq 0 ]]; then
  echo "=== bench/run.sh --smoke"
  if bench/run.sh --smoke >"$log_dir/bench.log" 2>&1; then
    passed=$((passed + 1))
    grep -E '^\| |^check' "$log_dir/bench.log" || true # the proxies' table and the session-scale checks
  else
    failed=$((failed + 1)) status=1
    tail -n 40 "$log_dir/bench.log"
  fi
fi

echo "$passed passed, $failed failed, $skipped skipped"
exit $status
