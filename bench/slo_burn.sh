#!/usr/bin/env bash
# The SLO series benchmark: libeqops' sliding-window burn rates over N samples against a
# memory copy of the same arrays (C) and against numpy running the same algorithm (Python).
# Needs libeqops installed (scripts/bootstrap) and numpy (installed here if missing).
# usage: bench/slo_burn.sh [N=10000000] [window=1h]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../scripts/lib.sh"
n=${1:-10000000}
window=${2:-1h}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -o "$tmp/slo_burn" "$here/slo_burn.c" $(pkg-config --cflags --libs eqops)
"$tmp/slo_burn" "$n" "$window"
python3 -c 'import numpy' 2>/dev/null || pip_install numpy
python3 "$here/slo_burn.py" "$n" "$window"
