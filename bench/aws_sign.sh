#!/usr/bin/env bash
# The SigV4 benchmark: signatures per second with a cached signing key, libeqops (C and the
# Python binding) against botocore on the same requests, with the ratio; then instructions per
# signature under callgrind (the difference of two runs, so start-up is not counted).
# Needs libeqops installed (scripts/bootstrap); botocore and valgrind are installed if missing.
# usage: bench/aws_sign.sh [signatures=1000000] [botocore_signatures=50000]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../scripts/lib.sh"
n=${1:-1000000}
n_py=${2:-50000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -o "$tmp/aws_sign" "$here/aws_sign.c" $(pkg-config --cflags --libs eqops)
python3 -c 'import botocore' 2>/dev/null || pip_install botocore
python3 "$here/aws_sign.py" "$tmp/aws_sign" "$n" "$n_py"
if command -v valgrind >/dev/null; then
  ir() {
    valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$1" "$tmp/aws_sign" "$1" \
      >/dev/null 2>"$tmp/cg.$1.log"
    sed -n 's/.*Collected : *\([0-9]*\).*/\1/p; s/.*refs: *\([0-9,]*\).*/\1/p' "$tmp/cg.$1.log" |
      tr -d , | head -1
  }
  a=$(ir 2000)
  b=$(ir 22000)
  echo "callgrind: $(((b - a) / 20000)) instructions per signature (libeqops, C)"
fi
