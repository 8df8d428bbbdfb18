#!/usr/bin/env bash
# The whole test suite, project by project: the chaos tier first, then the unit, grain, integration and observability
# tiers; then bench/run.sh --smoke. Installs what the selected tests need, builds once.
#   ./test.sh                               everything
#   ./test.sh --filter Category=Unit        one tier (any `dotnet test` arguments are passed through)
# A passing run prints one line per test project and the totals. Everything else goes to TestResults/ (emptied at the
# start of a run): each project's `dotnet test` output (<project>.log), every test's own output, passed or failed
# (<project>.trx: the chaos tier's figures), and the whole log of every process its tests started
# (<project>/processes/). A failed test is printed with its message, its stack trace and what those processes wrote
# while it ran.
set -euo pipefail
cd "$(dirname "$0")"
source deploy/local/lib.sh # install_missing

# Real components the tests run: Redis (membership and grain storage) from the grain tier on, Chromium (the status
# page's browser test, driven by Playwright with the system browser) and Prometheus (scrapes a gateway) for the
# observability tier, and what the benchmark's smoke run uses when nothing is filtered. The unit tier needs none.
filter=""
for ((i = 1; i <= $#; i++)); do
  case "${!i}" in
    --filter) next=$((i + 1)); filter=${!next:-} ;;
    --filter=*) filter=${!i#--filter=} ;;
  esac
done
case "$filter" in
  Category=Unit) tools=() ;;
  Category=Grains | Category=Integration | Category=Chaos) tools=(redis-server) ;;
  *) tools=(redis-server chromium prometheus) ;; # the observability tier, or a filter that may select any test
esac
[[ $# -gt 0 ]] || tools+=(wrk haproxy nginx redis-cli python3 curl)
install_missing "${tools[@]}"

results=TestResults
rm -rf "$results"
mkdir -p "$results"
configuration=Release
if ! dotnet build Distributed.sln -c "$configuration" -nologo -clp:ErrorsOnly >"$results/build.log" 2>&1; then
  grep -E 'error' "$results/build.log" | sort -u | head -n 50
  echo "0 passed, 1 failed, 0 skipped (the build failed; $results/build.log)"
  exit 1
fi

took() { if (($1 >= 60)); then echo "$(($1 / 60)) min $(($1 % 60)) s"; else echo "$1 s"; fi; }

passed=0 failed=0 skipped=0 status=0
for project in tests/*.Tests/*.csproj; do
  name=$(basename "$project" .csproj)
  log="$results/$name.log"
  started=$SECONDS
  set +e
  # Minimal verbosity: the summary, and each failed test with its message, stack trace and output. A ProcessTest's
  # output is what the real processes wrote during the test, so a red test shows its process logs and a green one
  # prints nothing.
  # Every test's own output, passed or failed (the chaos tier's figures), goes to <project>.trx.
  DISTRIBUTED_PROCESS_LOGS="$PWD/$results/$name/processes" dotnet test "$project" -c "$configuration" --no-build -nologo \
    --logger "console;verbosity=minimal" --logger "trx;LogFileName=$PWD/$results/$name.trx" "$@" >"$log" 2>&1
  rc=$?
  set -e
  # The runner's summary: "Passed!  - Failed:     0, Passed:   282, Skipped:     0, Total:   282, Duration: 52 s - ...".
  read -r p f s <<<"$(awk '/^(Passed|Failed)! +- / { gsub(",", ""); for (i = 1; i <= NF; i++) if ($i ~ /^(Passed|Failed|Skipped):$/) c[$i] += $(i + 1) }
    END { printf "%d %d %d", c["Passed:"], c["Failed:"], c["Skipped:"] }' "$log")"
  if [[ $rc -ne 0 && $f -eq 0 ]]; then
    f=1 # the run failed without a failing test (a host crash, a bad argument): count it
  fi
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
  if ((p + f + s == 0)) && grep -q '^No test matches the given testcase filter' "$log"; then
    summary="no test matches the filter"
  else
    summary="$p passed$( ((f == 0)) || echo ", $f failed")$( ((s == 0)) || echo ", $s skipped")"
  fi
  printf '%-32s %-36s %s\n' "$name" "$summary" "$(took $((SECONDS - started)))"
  if [[ $rc -ne 0 ]]; then
    status=1
    # Each failed test's block, from "  Failed <test>" to the next one or the summary; all of the log if there is none.
    awk '/^  Failed / { show = 1 } /^(Passed|Failed)! +- / { show = 0 } show' "$log" | grep . || tail -n 40 "$log"
    echo "($log: the whole output; $results/$name/processes: every process's log)"
  fi
done

# The benchmark script in smoke mode (seconds per scenario): its figures mean nothing, but the script cannot rot.
# Skipped when arguments select tests.
if [[ $# -eq 0 ]]; then
  started=$SECONDS
  if bench/run.sh --smoke >"$results/bench.log" 2>&1; then
    passed=$((passed + 1))
    count() { grep -cE "$1" "$results/bench.log" || true; }
    # Its report: the proxies' table (a header and a row per target), the session-scale checks, the capacity steps.
    steps="$(($(count '^\| [a-z]') - 1)) proxies measured, $(count '^check: ok') session-scale checks ok, $(count '^\| [0-9]') capacity steps"
    printf '%-32s %-36s %s\n' "bench/run.sh --smoke" "passed: $steps" "$(took $((SECONDS - started)))"
  else
    failed=$((failed + 1)) status=1
    printf '%-32s %-36s %s\n' "bench/run.sh --smoke" "FAILED" "$(took $((SECONDS - started)))"
    tail -n 40 "$results/bench.log"
  fi
fi

echo "Logs: $results/"
echo "$passed passed, $failed failed, $skipped skipped"
exit $status
