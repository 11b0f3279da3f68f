#!/bin/sh
# run.sh: model-check lib/chan/verify/*.pml with spin (exhaustive, safety:
# assertions and invalid end states).  Exit 77 (meson: skipped) when spin or
# a C compiler is missing.  Usage: run.sh [workdir]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=${1:-$(mktemp -d)}
command -v spin >/dev/null 2>&1 || { echo "spin not installed: skipped"; exit 77; }
cc=${CC:-cc}
command -v "$cc" >/dev/null 2>&1 || { echo "no C compiler: skipped"; exit 77; }
mkdir -p "$work"
rc=0
for m in "$here"/*.pml; do
	name=$(basename "$m" .pml)
	d="$work/$name"
	mkdir -p "$d"
	cp "$m" "$d/"
	(cd "$d" && spin -a "$name.pml" >/dev/null && "$cc" -O2 -DSAFETY -o pan pan.c 2>/dev/null &&
	 ./pan -m100000 > pan.out 2>&1) || true
	if grep -q "errors: 0" "$d/pan.out" 2>/dev/null; then
		echo "$name: $(grep -E 'states, stored' "$d/pan.out" | head -1 | sed 's/^ *//'), errors: 0"
	else
		echo "$name: FAILED"; cat "$d/pan.out" 2>/dev/null || true; rc=1
	fi
done
[ -n "${1:-}" ] || rm -rf "$work"
exit $rc
