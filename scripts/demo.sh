#!/usr/bin/env bash
# demo.sh BUILD: the main example.  Until the executive runs systems, it checks
# every example system with the language tools.
set -euo pipefail
build=${1:-build}
myco="$build/cmd/myco/myco"
if [ -x examples/demo/run.sh ]; then
	exec examples/demo/run.sh "$myco"
fi
for f in examples/*/*.myco; do
	echo "== myco check $f"
	"$myco" check "$f"
done
