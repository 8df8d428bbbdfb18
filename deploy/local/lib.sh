# shellcheck shell=bash
# Shell helpers shared by run.sh, test.sh and bench/*.sh: `source deploy/local/lib.sh` (bash, after set -euo pipefail).
# Sets root (the repository) and target_framework (the one in Directory.Build.props, which names every build output).
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
target_framework=$(sed -n 's:.*<TargetFramework>\(.*\)</TargetFramework>.*:\1:p' "$root/Directory.Build.props")
if [[ -z "$target_framework" ]]; then
  echo "$(basename "$0"): no <TargetFramework> in $root/Directory.Build.props" >&2
  exit 1
fi

# bin PROJECT_DIR: the project's build output (configuration $configuration, Release by default), e.g. bin src/Silo.
bin() { echo "$root/$1/bin/${configuration:-Release}/$target_framework"; }

# install_missing COMMAND...: installs the Debian packages of the commands that are missing (apt-get, as root).
# chromium counts as present only at /usr/bin/chromium, where Playwright (the status page test) looks for it.
install_missing() {
  local packages=() tool
  for tool in "$@"; do
    case "$tool" in
      chromium) [[ -x /usr/bin/chromium ]] || packages+=(chromium) ;;
      redis-cli) command -v redis-cli >/dev/null 2>&1 || packages+=(redis-tools) ;;
      *) command -v "$tool" >/dev/null 2>&1 || packages+=("$tool") ;;
    esac
  done
  [[ ${#packages[@]} -gt 0 ]] || return 0
  echo "$(basename "$0"): installing ${packages[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${packages[@]}" >/dev/null
}

# alive PID: the process exists and has not ended (a zombie has ended).
alive() { [[ -e /proc/$1 ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

# stop PID: SIGTERM, up to 10 s to exit, then SIGKILL; PID must be a child of this shell. (A silo whose Redis is gone
# can take minutes to leave the cluster gracefully; a bare `wait` would hang the script.)
stop() {
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 1 40); do alive "$1" || break; sleep 0.25; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
