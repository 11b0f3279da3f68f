#!/usr/bin/env bash
# cli.sh MYCO SRCDIR: the language subcommands of the `myco` binary: exit
# codes (0 clean, 1 diagnostics, 2 usage), --format json, --dump-json,
# --explain, gen, graph, fmt -w / --check.  Prints what failed; exit 1 then.
set -u
myco=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
expect() { # expected-status description command...
	local want=$1 what=$2; shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	local got=$?
	if [ "$got" != "$want" ]; then
		echo "FAIL $what: exit $got, expected $want"; sed 's/^/  | /' "$tmp/err" | head -5
		fails=$((fails + 1))
	fi
}
good=$src/../../examples/budgets/system.myco
bad=$src/021-unknown-channel.myco
export NO_COLOR=1
expect 0 "check clean" "$myco" check "$good"
expect 1 "check bad" "$myco" check "$bad"
grep -q 'error\[E020\]' "$tmp/err" || { echo "FAIL check bad: no E020 on stderr"; fails=$((fails + 1)); }
expect 1 "check json" "$myco" check --format json "$bad"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d[0]["code"]=="E020"' "$tmp/out" ||
	{ echo "FAIL check json: not the expected JSON"; fails=$((fails + 1)); }
expect 0 "dump-json" "$myco" check --dump-json "$good"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["name"]=="pipeline" and len(d["partitions"])==5' "$tmp/out" ||
	{ echo "FAIL dump-json: not the expected model"; fails=$((fails + 1)); }
# elastic cores and bids are in the model dump
expect 0 "dump-json elastic" "$myco" check --dump-json "$src/../fuzz/lang/corpus_load/elastic-bids.myco"
python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["partitions"][0]; assert p["elastic"]=={"min":1,"max":3}, p["elastic"]; assert p["bids"]==[{"class":"frames","bid":100,"income":200,"deadline_ns":2000000}], p["bids"]' "$tmp/out" ||
	{ echo "FAIL dump-json elastic: not the expected elastic range and bids"; fails=$((fails + 1)); }
expect 2 "check usage" "$myco" check
expect 2 "check unknown option" "$myco" check --bogus "$good"
expect 0 "explain" "$myco" check --explain E061
grep -q "over-committed" "$tmp/out" || { echo "FAIL explain: wrong text"; fails=$((fails + 1)); }
expect 2 "explain unknown" "$myco" check --explain E999
# docs/lang-errors.md is generated from the same table: keep them in sync
expect 0 "explain all" "$myco" check --explain all
sed -n '/^## E001/,$p' "$src/../../docs/lang-errors.md" | diff -q - "$tmp/out" >/dev/null ||
	{ echo "FAIL docs/lang-errors.md differs from \`myco check --explain all\`"; fails=$((fails + 1)); }
expect 1 "check missing file" "$myco" check "$tmp/none.myco"
expect 0 "gen" "$myco" gen "$good" -o "$tmp/inc"
[ -s "$tmp/inc/pipeline.h" ] || { echo "FAIL gen: no header"; fails=$((fails + 1)); }
expect 1 "gen bad" "$myco" gen "$bad" -o "$tmp/inc"
expect 2 "gen usage" "$myco" gen "$good"
expect 0 "graph" "$myco" graph "$good"
grep -q '"sensor" -> "filter"' "$tmp/out" || { echo "FAIL graph: edge missing"; fails=$((fails + 1)); }
for c in check gen graph fmt; do expect 0 "$c --help" "$myco" "$c" --help; done
printf 'system s{partition p{program "./p";}}\n' > "$tmp/a.myco"
expect 1 "fmt --check" "$myco" fmt --check "$tmp/a.myco"
expect 0 "fmt -w" "$myco" fmt -w "$tmp/a.myco"
expect 0 "fmt --check after -w" "$myco" fmt --check "$tmp/a.myco"
printf 'system s {\n' > "$tmp/b.myco"
expect 1 "fmt syntax error" "$myco" fmt "$tmp/b.myco"
expect 2 "fmt usage" "$myco" fmt
[ $fails = 0 ] && echo "cli: all passed" || echo "cli: $fails failed"
[ $fails = 0 ]
