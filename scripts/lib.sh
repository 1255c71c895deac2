# Shared by scripts/*.sh (sourced, not run).
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
jobs=$(nproc)

section() { printf '\n=== %s ===\n' "$*" >&2; }

# configure <build dir> [cmake args...]: one configuration for every script, so that demo.sh,
# test.sh and bench.sh share the build/ tree instead of reconfiguring it back and forth.
configure() {
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja -DDPROF_WERROR=ON "$@" >/dev/null
}
