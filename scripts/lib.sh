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

# The tracer reads tracepoint formats from tracefs; Debian mounts it on boot, containers often do
# not. Mounts it when missing and we are root; otherwise the tests that need it say how.
ensure_tracefs() {
  [[ -d /sys/kernel/tracing/events ]] && return 0
  if ((EUID == 0)) && mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null; then
    echo "mounted tracefs on /sys/kernel/tracing" >&2
  fi
}
