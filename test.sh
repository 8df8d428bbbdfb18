#!/usr/bin/env bash
# The whole test suite: unit, grain (in-process Orleans cluster), integration and chaos tiers.
# Installs what it needs (redis-server), builds once, runs each test project in turn.
#   ./test.sh                               everything
#   ./test.sh --filter Category=Unit        one tier (any `dotnet test` arguments are passed through)
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v redis-server >/dev/null 2>&1; then
  echo "test.sh: installing redis-server (needed by the integration tests)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
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
  # The runner's own summary line: "Passed!  - Failed: 0, Passed: 12, Skipped: 0, Total: 12, ..."
  summary=$(grep -E '(Passed|Failed)! +- Failed: +[0-9]+, Passed: +[0-9]+, Skipped: +[0-9]+' "$log_dir/$name.log" | tail -n 1 || true)
  if [[ -n "$summary" ]]; then
    f=$(sed -E 's/.*Failed: +([0-9]+).*/\1/' <<<"$summary")
    p=$(sed -E 's/.*Passed: +([0-9]+).*/\1/' <<<"$summary")
    s=$(sed -E 's/.*Skipped: +([0-9]+).*/\1/' <<<"$summary")
    passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
  elif [[ $rc -ne 0 ]]; then
    failed=$((failed + 1))
  fi
  [[ $rc -eq 0 ]] || status=1
done

echo "$passed passed, $failed failed, $skipped skipped"
exit $status
