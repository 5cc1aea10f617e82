#!/usr/bin/env bash
# The eqops command line: help, version, -o json, exit codes 0 / 1 / 2, errors on stderr.
# usage: test_cli.sh path/to/eqops
set -u
eqops=$1
fails=0
n=0
check() { # description, expected exit code, command...
  local what=$1 want=$2; shift 2
  n=$((n + 1))
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  if [ "$got" != "$want" ]; then
    echo "FAIL: $what: exit $got, want $want"; cat "$tmp/out" "$tmp/err"; fails=$((fails + 1))
  fi
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check "help" 0 "$eqops" --help
grep -q "Usage: eqops" "$tmp/out" || { echo "FAIL: help text"; fails=$((fails + 1)); }
check "version" 0 "$eqops" version
grep -qE "^eqops [0-9]+\.[0-9]+\.[0-9]+ \(libeqops [0-9.]+\)$" "$tmp/out" ||
  { echo "FAIL: version text: $(cat "$tmp/out")"; fails=$((fails + 1)); }
check "version -o json" 0 "$eqops" version -o json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["libeqops"] == d["eqops"]' \
  "$tmp/out" || { echo "FAIL: version json"; fails=$((fails + 1)); }
check "global -o json before the command" 0 "$eqops" -o json version
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$tmp/out" ||
  { echo "FAIL: -o json before command"; fails=$((fails + 1)); }
check "--output=json" 0 "$eqops" version --output=json
check "--version" 0 "$eqops" --version
check "version --help" 0 "$eqops" version --help
check "no command" 2 "$eqops"
grep -q "Usage" "$tmp/err" || { echo "FAIL: usage on stderr"; fails=$((fails + 1)); }
check "unknown command" 2 "$eqops" frobnicate
grep -q "unknown command 'frobnicate'" "$tmp/err" || { echo "FAIL: message"; fails=$((fails + 1)); }
[ ! -s "$tmp/out" ] || { echo "FAIL: usage error wrote to stdout"; fails=$((fails + 1)); }
check "unknown flag" 2 "$eqops" version --bogus
check "bad output format" 2 "$eqops" -o yaml version
check "missing output value" 2 "$eqops" version -o
check "extra argument" 2 "$eqops" version extra

echo "cli: $((n - fails))/$n checks passed"
[ $fails -eq 0 ]
