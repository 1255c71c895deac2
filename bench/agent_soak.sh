#!/usr/bin/env bash
# dprof agent over a long run: system-wide at 99 Hz in 10 s windows, pushing to a receiver on
# 127.0.0.1 (python3's http.server: answers 200, counts what it got), while a churn loop starts a
# short-lived process every second and two busy programs (samples/cpu_bound_nofp) keep both cores
# busy. Prints the agent's CPU (its own threads, as a share of one core), its RSS at a sixth of
# the run (5 minutes of 30) and at the end, and the windows made, sent and lost.
#
#   bench/agent_soak.sh BUILD_DIR [MINUTES]   (default 30; scripts/bench.sh soak runs it)
set -euo pipefail
build=$1
minutes=${2:-30}
dprof=$build/cli/dprof
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# The receiver: every POST answered 200 and counted.
cat >"$tmp/receiver.py" <<'PY'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    count = 0
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        H.count += 1
        with open(sys.argv[2], "w") as f:
            f.write(str(H.count))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
port=$((20000 + RANDOM % 20000))
python3 "$tmp/receiver.py" "$port" "$tmp/received" &
pids+=($!)
for _ in 1 2; do
  "$build/samples/cpu_bound_nofp" $((minutes * 60 + 60)) >/dev/null &
  pids+=($!)
done
(while true; do /bin/true; sh -c 'ls / >/dev/null'; sleep 1; done) &
pids+=($!)
sleep 1

"$dprof" agent -a --pyroscope "http://127.0.0.1:$port" --spool "$tmp/spool" --log-every 0 \
  2>"$tmp/agent.log" &
agent=$!
pids+=($agent)
ticks=$(getconf CLK_TCK)
cpu() { awk '{ print $14 + $15 }' "/proc/$agent/stat"; }
rss() { awk '/^VmRSS/ { print $2 / 1024 }' "/proc/$agent/status"; }
sleep 5
cpu0=$(cpu)
t0=$(date +%s.%N)
sleep $((minutes * 10))  # a sixth of the run
rss_early=$(rss)
sleep $((minutes * 50))
cpu1=$(cpu)
t1=$(date +%s.%N)
rss_end=$(rss)
kill -TERM "$agent"
wait "$agent" || true
received=$(cat "$tmp/received" 2>/dev/null || echo 0)
line=$(grep "windows," "$tmp/agent.log" | tail -1)
printf "run: %s min, agent -a at 99 Hz, 10 s windows, a process started every second, both cores busy\n" "$minutes"
awk -v c0="$cpu0" -v c1="$cpu1" -v t0="$t0" -v t1="$t1" -v hz="$ticks" \
  'BEGIN { printf "agent CPU: %.2f%% of one core\n", 100 * (c1 - c0) / hz / (t1 - t0) }'
awk -v a="$rss_early" -v b="$rss_end" -v m="$minutes" \
  'BEGIN { printf "agent RSS: %.1f MiB at %.0f min, %.1f MiB at %d min (%.2fx)\n", a, m / 6, b, m, b / a }'
echo "receiver got $received requests"
echo "agent: ${line#dprof agent: }"
