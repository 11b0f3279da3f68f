#!/usr/bin/env bash
# demo.sh BUILD: run the demo system (examples/demo: producer -> filter ->
# sink over two channels, the producer under a CPU budget, the sink in a
# frame window), show a kill of the filter healing without losing a
# message, and stop cleanly.  Runs DEMO_SECONDS (default 20) or until
# Ctrl-C.
set -euo pipefail
build=${1:-build}
myco="$build/cmd/myco/myco"
sys="$build/examples/demo/system.myco"
secs=${DEMO_SECONDS:-20}
[ -x "$myco" ] && [ -f "$sys" ] || { echo "demo: build first ($myco, $sys missing)" >&2; exit 2; }

log=$(mktemp /tmp/myco-demo-XXXXXX.log)
"$myco" run "$sys" 2>"$log" &
exec_pid=$!
stop() {
	if kill -0 "$exec_pid" 2>/dev/null; then
		echo
		echo "== myco stop --all"
		"$myco" stop --all || kill -TERM "$exec_pid"
		wait "$exec_pid" || true
	fi
}
trap 'stop; exit 130' INT TERM
trap 'stop; rm -f "$log"' EXIT

for _ in $(seq 100); do "$myco" ps >/dev/null 2>&1 && break; sleep 0.1; done
m=$(basename "$myco")
cat <<TXT
== The demo system is running (executive pid $exec_pid; its event log: $log).
   producer --numbers--> filter --filtered--> sink; the sink checks every
   number arrives exactly once and in order.  In another shell, try:

     $myco ps            # partitions, pids, parked standbys, isolation
     $myco ps -v         # every isolation mechanism and what it got
     $myco kill filter   # crash the filter: its standby takes over
     $myco logs sink -f  # the sink's running count: gaps stay 0
     $myco events -f     # supervision events with restart times
     $myco stop --all    # stop everything in reverse order

TXT
sleep 3
echo "== $m ps"
"$myco" ps
echo
echo "== $m kill filter   (fault injection: SIGKILL)"
"$myco" kill filter
sleep 1.5
"$myco" events | grep -E ' filter +(kill|exit|restart|restarted) ' || true
echo
"$myco" ps | sed -n '1,6p'
echo
echo "== $m logs sink (last lines)"
"$myco" logs sink | tail -n 3
left=$((secs - 5))
if [ "$left" -gt 0 ]; then
	echo
	echo "== running for another ${left} s (Ctrl-C to stop now)"
	sleep "$left"
fi
echo
echo "== $m logs sink (last line)"
"$myco" logs sink | tail -n 1
stop
trap - EXIT
rm -f "$log"
echo "== stopped; leftovers in /run/myco/demo: $(ls -A /run/myco/demo 2>/dev/null | wc -l)"
