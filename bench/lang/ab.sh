#!/usr/bin/env bash
# ab.sh OLD NEW [ROUNDS] [-- BENCH-ARGS...]: myco-bench-lang of two builds side
# by side in one run (old, new, old, new, ...), to show that a change to
# lib/lang keeps the load time level.  OLD and NEW are myco-bench-lang
# binaries (e.g. one built from an older commit in a second worktree).  Each
# round runs each binary once with --json (default: -n 10000, its own 5
# repetitions in fresh children); the summary gives, per build, the median
# over rounds of the load's median wall time and median CPU time, its peak
# RSS, and the ratios new/old.  Not for: tests (no thresholds here).
set -euo pipefail
old=$1 new=$2 rounds=${3:-3}
shift $(( $# < 3 ? $# : 3 ))
[ "${1:-}" = "--" ] && shift
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(-n 10000)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "myco-bench-lang A/B: old=$old new=$new, $rounds rounds of ${args[*]}"
echo "date $(date -u +%FT%TZ), load: $(uptime | sed 's/.*load average: //')"
for ((r = 1; r <= rounds; r++)); do
	for side in old new; do
		bin=$old
		[ $side = new ] && bin=$new
		"$bin" --json "${args[@]}" | sed -n '/"lang.load"/s/^/'"$side"' /p' >> "$out"
	done
done
awk '
function med(list,   n, a, i, j, t) {
	n = split(list, a, " ")
	for (i = 1; i <= n; i++)
		for (j = i + 1; j <= n; j++)
			if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
$2 ~ /"system":"myco"/ {
	side = $1
	metric = $2; sub(/.*"metric":"/, "", metric); sub(/".*/, "", metric)
	value = $2; sub(/.*"value":/, "", value); sub(/,.*/, "", value)
	v[side, metric] = v[side, metric] " " value
}
END {
	split("median cpu_median peak_rss", m, " ")
	printf "%-12s %12s %12s %12s\n", "metric", "old", "new", "new/old"
	for (i = 1; i <= 3; i++) {
		o = med(v["old", m[i]]); n = med(v["new", m[i]])
		printf "%-12s %12.2f %12.2f %12.3f\n", m[i], o, n, o ? n / o : 0
	}
	print "(wall and cpu in ms, peak_rss in MiB; medians over the rounds)"
}' FS='\t' <(sed 's/ /\t/' "$out")
