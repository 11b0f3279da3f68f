#!/usr/bin/env bash
# fuzz.sh FUZZDIR SECONDS: run every libFuzzer harness for a bounded time,
# each from its seed corpus (copied, so seeds stay as committed).  Crashes are
# written to FUZZDIR/crashes/<name>/.
set -euo pipefail
dir=$1 secs=${2:-60}
list="$dir/tests/fuzz/fuzzers.txt"
[ -s "$list" ] || { echo "fuzz: no harnesses built"; exit 0; }
fail=0
while read -r name corpus; do
	[ -n "$name" ] || continue
	exe=$(find "$dir/tests/fuzz" -type f -name "$name" -perm -u+x | head -1)
	work="$dir/corpus/$name"; crashes="$dir/crashes/$name"
	mkdir -p "$work" "$crashes"
	[ -d "$corpus" ] && cp -n "$corpus"/* "$work"/ 2>/dev/null || true
	echo "== fuzz $name for ${secs}s"
	"$exe" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$crashes/" -print_final_stats=1 "$work" 2>&1 | tail -15 || fail=1
done < "$list"
exit $fail
