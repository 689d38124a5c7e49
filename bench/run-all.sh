#!/bin/bash
# Runs every benchmark in bench/ (each prints its own side-by-side ratios).
set -u
cd "$(dirname "$0")"
rc=0
for b in ./*.sh; do
	[ "$b" = ./run-all.sh ] && continue
	echo "== $b"
	"$b" || rc=1
	echo
done
exit $rc
