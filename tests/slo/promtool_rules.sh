#!/usr/bin/env bash
# Every generated rule file passes `promtool check rules`, and every generated test file
# passes `promtool test rules`: the page and ticket alerts fire just above their burn rates,
# stay silent just below, a quiet service keeps its budget, a missing metric raises the
# absent alert. Run for each example spec, once with Sloth-compatible names, and for the
# hostile specs next to this script, whose hand-written NAME.test.yml (when there is one)
# also passes against the rules made of NAME.json.
# usage: promtool_rules.sh path/to/eqops examples/slo
set -u
eqops=$1
specs=$2
here=$(cd "$(dirname "$0")" && pwd)
command -v promtool >/dev/null || { echo "promtool is not installed (scripts/setup)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
n=0
run() { # spec naming
  local spec=$1 naming=$2 base
  base=$(basename "$spec" | tr . -)-$naming
  n=$((n + 1))
  if ! "$eqops" slo rules "$spec" --naming "$naming" --rules-name "$base.rules.yml" \
       --test-out "$tmp/$base.test.yml" >"$tmp/$base.rules.yml" 2>"$tmp/$base.err"; then
    echo "FAIL: eqops slo rules $spec"; cat "$tmp/$base.err"; fails=$((fails + 1)); return
  fi
  if ! promtool check rules "$tmp/$base.rules.yml" >"$tmp/$base.check" 2>&1; then
    echo "FAIL: promtool check rules ($spec, $naming)"; cat "$tmp/$base.check"
    fails=$((fails + 1)); return
  fi
  if ! (cd "$tmp" && promtool test rules "$base.test.yml") >"$tmp/$base.test" 2>&1; then
    echo "FAIL: promtool test rules ($spec, $naming)"; head -60 "$tmp/$base.test"
    fails=$((fails + 1)); return
  fi
  echo "ok: $spec ($naming): $(grep -o '[0-9]* rules found' "$tmp/$base.check"), $(grep -c \
    'eval_time' "$tmp/$base.test.yml") alert/expression checks"
}
for spec in "$specs"/*.json "$specs"/openslo.yaml; do  # billing-api.yaml = .json
  run "$spec" eqops
done
run "$specs/billing-api.json" sloth
for spec in "$here"/*.json; do
  run "$spec" eqops
  name=$(basename "$spec" .json)
  [ -f "$here/$name.test.yml" ] || continue
  n=$((n + 1))
  cp "$here/$name.test.yml" "$tmp/"
  if ! "$eqops" slo rules "$spec" >"$tmp/$name.rules.yml" 2>"$tmp/$name.err" ||
     ! (cd "$tmp" && promtool test rules "$name.test.yml") >"$tmp/$name.hand" 2>&1; then
    echo "FAIL: promtool test rules $name.test.yml (hand-written)"
    cat "$tmp/$name.err"; head -60 "$tmp/$name.hand"; fails=$((fails + 1))
  else
    echo "ok: $spec: hand-written $name.test.yml"
  fi
done
echo "promtool: $((n - fails))/$n rule sets pass check and test"
[ $fails -eq 0 ]
