#!/usr/bin/env bash
# Installs what is missing, builds, and runs the demo: two threads of a recursive program capture
# their stacks, the stack depot stores each distinct stack once, and the demo reports how many
# there were, the memory they take, and the hottest ones by name.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

scripts/deps.sh
section "build"
configure build
cmake --build build -j "$jobs" --target depot_demo
section "demo"
build/samples/depot_demo
