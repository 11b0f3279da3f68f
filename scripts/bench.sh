#!/usr/bin/env bash
# bench.sh BUILD NAME|all: run benchmark programs built in BUILD/bench.
# Each prints its human-readable table; BENCH_ARGS (e.g. --quick, --json) is
# passed through.
set -euo pipefail
build=$1 name=$2
shopt -s nullglob
# The storage engine's own benchmark lives beside it (svc/log/store).
if [ "$name" = all ]; then
	progs=("$build"/bench/*/myco-bench-* "$build"/svc/log/store/myco-logstore-bench)
elif [ "$name" = logstore ]; then
	progs=("$build"/svc/log/store/myco-logstore-bench)
else
	progs=("$build"/bench/*/myco-bench-"$name")
fi
[ ${#progs[@]} -gt 0 ] || { echo "bench: no benchmark named '$name'" >&2; exit 2; }
for p in "${progs[@]}"; do
	[ -x "$p" ] || continue
	echo "== $(basename "$p")"
	"$p" ${BENCH_ARGS:-}
done
