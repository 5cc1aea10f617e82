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

# eqops slo
specs=$(cd "$(dirname "$0")/../../examples/slo" && pwd)
check "slo validate" 0 "$eqops" slo validate "$specs/billing-api.json"
grep -q "valid, 3 objective(s)" "$tmp/out" || { echo "FAIL: slo validate text"; fails=$((fails + 1)); }
check "slo validate -o json" 0 "$eqops" -o json slo validate "$specs/openslo.yaml"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["service"] == "meter-ingest"' \
  "$tmp/out" || { echo "FAIL: slo validate json"; fails=$((fails + 1)); }
printf '{"service": "s", "slos": [{"name": "a", "target": 100}]}' >"$tmp/bad.json"
check "slo validate refuses a bad spec" 1 "$eqops" slo validate "$tmp/bad.json"
grep -q "slos\[0\].sli: required" "$tmp/err" || { echo "FAIL: field named"; fails=$((fails + 1)); }
check "slo validate error as JSON" 1 "$eqops" slo validate -o json "$tmp/bad.json"
python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["error"]; assert e["code"] == "EQOPS_EINVAL" and e["field"] == "slos[0].sli"' \
  "$tmp/err" || { echo "FAIL: slo error json"; fails=$((fails + 1)); }
check "slo validate missing file" 1 "$eqops" slo validate "$tmp/none.json"
check "slo validate without a spec" 2 "$eqops" slo validate
check "slo rules" 0 "$eqops" slo rules "$specs/billing-api.json" --test-out "$tmp/t.yml"
grep -q "eqops_slo:error_budget_remaining:ratio" "$tmp/out" && [ -s "$tmp/t.yml" ] ||
  { echo "FAIL: slo rules output"; fails=$((fails + 1)); }
check "slo rules --naming bogus" 2 "$eqops" slo rules "$specs/billing-api.json" --naming bogus
check "slo budget" 0 "$eqops" slo budget --target 99.9 --window 30d --good 999500 --total 1000000
grep -q "50.00% consumed" "$tmp/out" || { echo "FAIL: budget text $(cat "$tmp/out")"; fails=$((fails + 1)); }
check "slo budget -o json" 0 "$eqops" -o json slo budget --target 99.9 --bad 10 --total 1000
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert abs(d["burn_rate"] - 10) < 1e-9' \
  "$tmp/out" || { echo "FAIL: budget json"; fails=$((fails + 1)); }
check "slo budget bad counts" 1 "$eqops" slo budget --target 99.9 --bad 10 --total 5
check "slo budget needs --total" 2 "$eqops" slo budget --target 99.9 --bad 10
check "slo budget bad number" 2 "$eqops" slo budget --target x --bad 1 --total 2
printf 'timestamp,good,total\n1700000000,0,0\n1700000060,990,1000\n1700000120,1980,2000\n' >"$tmp/s.csv"
check "slo report --series" 0 "$eqops" slo report "$specs/billing-api.json" --series "$tmp/s.csv"
grep -q "budget not burning\|budget gone" "$tmp/out" || { echo "FAIL: report text"; fails=$((fails + 1)); }
check "slo report needs a source" 2 "$eqops" slo report "$specs/billing-api.json"
# --fail-on: exit 1 when a named condition holds (the 6h/30m page alert fires on s.csv)
check "slo report --fail-on nodata, with data" 0 "$eqops" slo report "$specs/billing-api.json" \
  --series "$tmp/s.csv" --fail-on nodata
check "slo report --fail-on page" 1 "$eqops" slo report "$specs/billing-api.json" \
  --series "$tmp/s.csv" --fail-on nodata --fail-on ticket,page
grep -q "FIRING" "$tmp/out" && grep -q "fail-on: page,ticket holds" "$tmp/err" ||
  { echo "FAIL: --fail-on page output"; fails=$((fails + 1)); }
# a month after the last sample nothing is measured: no data, not a perfect SLI
check "slo report no data" 0 "$eqops" slo report "$specs/billing-api.json" --series "$tmp/s.csv" \
  --at 1703000000
grep -q "NO DATA" "$tmp/out" && grep -q "absent 15m: FIRING" "$tmp/out" &&
  ! grep -q "SLI 100" "$tmp/out" || { echo "FAIL: no-data text $(cat "$tmp/out")"; fails=$((fails + 1)); }
check "slo report --fail-on nodata" 1 "$eqops" slo report "$specs/billing-api.json" \
  --series "$tmp/s.csv" --at 1703000000 --fail-on page,ticket,nodata
grep -q "fail-on: nodata holds" "$tmp/err" || { echo "FAIL: nodata message"; fails=$((fails + 1)); }
check "slo report -o json --fail-on nodata" 1 "$eqops" -o json slo report \
  "$specs/billing-api.json" --series "$tmp/s.csv" --at 1703000000 --fail-on nodata
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); o=d["objectives"][0]
assert d["conditions"] == {"page": False, "ticket": False, "nodata": True}, d["conditions"]
assert o["no_data"] and o["sli"] is None and o["absent"]["firing"]' "$tmp/out" ||
  { echo "FAIL: no-data json"; fails=$((fails + 1)); }
for bad in bogus "" "page," ",page" "page,,ticket" "PAGE"; do
  check "slo report --fail-on '$bad'" 2 "$eqops" slo report "$specs/billing-api.json" \
    --series "$tmp/s.csv" --fail-on "$bad"
  grep -q -- "--fail-on: .*page, ticket or nodata" "$tmp/err" && [ ! -s "$tmp/out" ] ||
    { echo "FAIL: --fail-on '$bad' message: $(cat "$tmp/err")"; fails=$((fails + 1)); }
done
check "slo report --fail-on without a value" 2 "$eqops" slo report "$specs/billing-api.json" \
  --series "$tmp/s.csv" --fail-on
check "slo unknown subcommand" 2 "$eqops" slo frobnicate

# eqops db: usage errors are found before connecting; a dead server is a failure (1)
check "db without a command" 2 "$eqops" db
check "db help" 0 "$eqops" db --help
grep -q "drop NAME --confirm NAME" "$tmp/out" || { echo "FAIL: db help"; fails=$((fails + 1)); }
check "db unknown command" 2 "$eqops" db frobnicate
check "db create without a name" 2 "$eqops" db create
check "db migrate without --migrations" 2 "$eqops" db migrate
check "db migrate bad concurrency" 2 "$eqops" db migrate --migrations x --concurrency 0
check "db migrate bad lock wait" 2 "$eqops" db migrate --migrations x --lock-wait soon
check "db create bad connection limit" 2 "$eqops" db create acme --connection-limit lots
check "db list, nothing listening" 1 "$eqops" -o json db list \
  --conninfo "host=127.0.0.1 port=1 connect_timeout=1 password=hunter2"
# log lines (retries) come first on stderr, the error object last
python3 -c 'import json,sys; e=json.loads(open(sys.argv[1]).read().splitlines()[-1])["error"]; assert e["code"] == "EQOPS_EUNAVAILABLE"' \
  "$tmp/err" || { echo "FAIL: db error json"; cat "$tmp/err"; fails=$((fails + 1)); }
! grep -q hunter2 "$tmp/err" || { echo "FAIL: password in the error"; fails=$((fails + 1)); }

# eqops aws: usage errors before any request; the EKS token and presigning need no network
awsenv=(env -i PATH="$PATH" HOME="$tmp" AWS_EC2_METADATA_DISABLED=true AWS_REGION=eu-west-1
  AWS_ACCESS_KEY_ID=AKIDCLITEST AWS_SECRET_ACCESS_KEY=cli-secret-value)
check "aws without a command" 2 "$eqops" aws
check "aws help" 0 "$eqops" aws --help
grep -q "eks-token --cluster NAME" "$tmp/out" || { echo "FAIL: aws help"; fails=$((fails + 1)); }
check "aws unknown command" 2 "$eqops" aws frobnicate
check "aws eks-token without a cluster" 2 "${awsenv[@]}" "$eqops" aws eks-token
check "aws secret get without a name" 2 "${awsenv[@]}" "$eqops" aws secret get
check "aws secret create without a value" 2 "${awsenv[@]}" "$eqops" aws secret create x
check "aws metric put without a value" 2 "${awsenv[@]}" "$eqops" aws metric put --namespace N --name M
check "aws eks-token" 0 "${awsenv[@]}" "$eqops" aws eks-token --cluster prod-eu --region eu-west-1
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["kind"] == "ExecCredential" and d["status"]["token"].startswith("k8s-aws-v1.")' \
  "$tmp/out" || { echo "FAIL: eks-token json"; fails=$((fails + 1)); }
check "aws eks-token bad cluster name" 1 "${awsenv[@]}" "$eqops" aws eks-token --cluster "a b"
check "aws presign" 0 "${awsenv[@]}" "$eqops" aws presign \
  "https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15" --expires 60
grep -q "X-Amz-Credential=AKIDCLITEST%2F" "$tmp/out" || { echo "FAIL: presign"; fails=$((fails + 1)); }
check "aws presign bad expiry" 2 "${awsenv[@]}" "$eqops" aws presign "https://x.amazonaws.com/" \
  --expires soon
check "aws whoami, nothing listening" 1 "${awsenv[@]}" AWS_ENDPOINT_URL=http://127.0.0.1:1 \
  AWS_MAX_ATTEMPTS=1 "$eqops" -o json aws whoami
python3 -c 'import json,sys; e=json.loads(open(sys.argv[1]).read().splitlines()[-1])["error"]; assert e["code"] == "EQOPS_EUNAVAILABLE"' \
  "$tmp/err" || { echo "FAIL: aws error json"; cat "$tmp/err"; fails=$((fails + 1)); }
! grep -q cli-secret-value "$tmp/out" "$tmp/err" || { echo "FAIL: secret printed"; fails=$((fails + 1)); }
check "aws without credentials" 1 env -i PATH="$PATH" HOME="$tmp" AWS_EC2_METADATA_DISABLED=true \
  AWS_REGION=eu-west-1 "$eqops" aws eks-token --cluster prod
grep -qi "credentials" "$tmp/err" || { echo "FAIL: no-credentials message"; fails=$((fails + 1)); }

# eqops k8s: usage errors before any request; a missing kubeconfig is a failure
check "k8s without a command" 2 "$eqops" k8s
check "k8s help" 0 "$eqops" k8s --help
grep -q "apply -f FILE" "$tmp/out" || { echo "FAIL: k8s help"; fails=$((fails + 1)); }
check "k8s unknown command" 2 "$eqops" k8s frobnicate
check "k8s get without a kind" 2 "$eqops" k8s get --kubeconfig "$tmp/none"
check "k8s apply without -f" 2 "$eqops" k8s apply --kubeconfig "$tmp/none"
check "k8s delete without a name" 2 "$eqops" k8s delete configmap --kubeconfig "$tmp/none"
check "k8s delete bad cascade" 2 "$eqops" k8s delete configmap x --cascade sideways
check "k8s watch bad timeout" 2 "$eqops" k8s watch configmap --timeout soon
check "k8s bad qps" 2 "$eqops" k8s get configmap --qps lots --kubeconfig "$tmp/none"
check "k8s missing kubeconfig" 1 "$eqops" -o json k8s get configmap --kubeconfig "$tmp/none"
python3 -c 'import json,sys; e=json.loads(open(sys.argv[1]).read().splitlines()[-1])["error"]; assert e["code"] == "EQOPS_ENOTFOUND"' \
  "$tmp/err" || { echo "FAIL: k8s error json"; cat "$tmp/err"; fails=$((fails + 1)); }
# apply: nothing to apply is a failure, found before any request (nothing listens at the
# server of this kubeconfig); a directory's manifests are all read first
cat >"$tmp/k8s-none.yaml" <<KC
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
KC
kc=(--kubeconfig "$tmp/k8s-none.yaml")
check "k8s apply -f ''" 2 "$eqops" k8s apply -f "" "${kc[@]}"
: >"$tmp/empty.yaml"
check "k8s apply empty file" 1 "$eqops" k8s apply -f "$tmp/empty.yaml" "${kc[@]}"
grep -q "no objects passed to apply" "$tmp/err" || { echo "FAIL: empty file message"; fails=$((fails + 1)); }
printf -- '---\n# nothing\n---\n' >"$tmp/blank.yaml"
check "k8s apply documents without objects" 1 "$eqops" k8s apply -f "$tmp/blank.yaml" "${kc[@]}"
check "k8s apply empty stdin" 1 "$eqops" k8s apply -f - "${kc[@]}" </dev/null
grep -q "no objects passed to apply" "$tmp/err" || { echo "FAIL: empty stdin message"; fails=$((fails + 1)); }
mkdir -p "$tmp/mdir/sub"
check "k8s apply empty directory" 1 "$eqops" -o json k8s apply -f "$tmp/mdir" "${kc[@]}"
python3 -c 'import json,sys; e=json.loads(open(sys.argv[1]).read())["error"]; assert e["code"] == "EQOPS_EINVAL" and e["field"] == "path" and "no manifest files" in e["message"], e' \
  "$tmp/err" || { echo "FAIL: empty dir json"; cat "$tmp/err"; fails=$((fails + 1)); }
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\n' >"$tmp/mdir/sub/deep.yaml"
printf 'not a manifest\n' >"$tmp/mdir/notes.txt"
check "k8s apply directory without -R" 1 "$eqops" k8s apply -f "$tmp/mdir" "${kc[@]}"
grep -q "no manifest files" "$tmp/err" || { echo "FAIL: no -R message"; fails=$((fails + 1)); }
printf 'kind: [\n' >"$tmp/mdir/bad.yaml"
check "k8s apply -R with a bad file" 1 "$eqops" k8s apply -R -f "$tmp/mdir" "${kc[@]}"
grep -q "mdir/bad.yaml: invalid YAML" "$tmp/err" || { echo "FAIL: bad file named"; cat "$tmp/err"; fails=$((fails + 1)); }
printf 'foo: bar\n' >"$tmp/mdir/bad.yaml"
check "k8s apply -R with a document without kind" 1 "$eqops" k8s apply -R -f "$tmp/mdir" "${kc[@]}"
grep -q "mdir/bad.yaml: object 0: apply" "$tmp/err" || { echo "FAIL: no kind named"; cat "$tmp/err"; fails=$((fails + 1)); }
check "k8s apply missing file" 1 "$eqops" -o json k8s apply -f "$tmp/none.yaml" "${kc[@]}"
grep -q EQOPS_ENOTFOUND "$tmp/err" || { echo "FAIL: missing file code"; fails=$((fails + 1)); }

# core and files: what every command shares
# no core dumps while secrets are in memory: an exec plugin (run while credentials are being
# fetched) looks at its parent from outside, as the same unprivileged user
mkdir -p "$tmp/pub" && chmod 755 "$tmp" && chmod 777 "$tmp/pub"
cat >"$tmp/pub/probe-plugin" <<'PLUGIN'
#!/bin/sh
dir=$(dirname "$0")
grep "^Max core file size" /proc/$PPID/limits >"$dir/probe"
if cat /proc/$PPID/environ >/dev/null 2>&1; then echo "environ readable" >>"$dir/probe"
else echo "environ denied" >>"$dir/probe"; fi
echo '{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "status": {"token": "t"}}'
PLUGIN
chmod 755 "$tmp/pub/probe-plugin"
cat >"$tmp/pub/exec.yaml" <<KC
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: ./probe-plugin}}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
KC
as_user=()
[ "$(id -u)" != 0 ] || as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
check "k8s exec plugin run (nothing listens)" 1 "${as_user[@]}" "$eqops" k8s get configmap \
  --kubeconfig "$tmp/pub/exec.yaml" --qps 0
grep -qE "^Max core file size +0 +0 " "$tmp/pub/probe" 2>/dev/null ||
  { echo "FAIL: eqops may dump core: $(cat "$tmp/pub/probe" 2>&1)"; fails=$((fails + 1)); }
grep -q "environ denied" "$tmp/pub/probe" 2>/dev/null ||
  { echo "FAIL: eqops is dumpable (its /proc files are readable)"; fails=$((fails + 1)); }

# a FIFO named as an input is read: what its writer writes (`<(sops -d ...)`, kubectl accepts
# --kubeconfig <(...)); without a writer it fails within the bounded wait (EQOPS_FIFO_WAIT, 1 s
# here; timeout: a hang is a failure), saying so
export EQOPS_FIFO_WAIT=1
mkfifo "$tmp/fifo"
nofifo() { # description: the last command waited for the FIFO's writer, and said so
  grep -q "no data from FIFO .*fifo within 1 s" "$tmp/err" ||
    { echo "FAIL: $1: FIFO message"; cat "$tmp/err"; fails=$((fails + 1)); }
}
check "slo validate FIFO" 1 timeout 20 "$eqops" slo validate "$tmp/fifo"
nofifo "slo validate"
check "slo validate <(...)" 0 timeout 20 "$eqops" slo validate <(cat "$specs/billing-api.json")
grep -q "valid, 3 objective(s)" "$tmp/out" || { echo "FAIL: <(...) spec"; fails=$((fails + 1)); }
check "slo validate FIFO with a writer" 0 timeout 20 bash -c \
  '(sleep 0.3; cat "$2" >"$3") & "$1" slo validate "$3"' _ "$eqops" "$specs/billing-api.json" \
  "$tmp/fifo"
check "slo validate -" 0 "$eqops" slo validate - <"$specs/billing-api.json"
grep -q "^stdin: valid, 3 objective(s)" "$tmp/out" || { echo "FAIL: spec on stdin"; fails=$((fails + 1)); }
check "slo rules - from a pipe" 0 bash -c 'cat "$2" | "$1" slo rules -' _ "$eqops" \
  "$specs/billing-api.json"
check "slo validate /dev/stdin" 0 bash -c 'cat "$2" | "$1" slo validate /dev/stdin' _ "$eqops" \
  "$specs/billing-api.json"
check "slo validate - from a terminal-less empty stdin" 1 "$eqops" slo validate - </dev/null
check "stdin read twice" 2 "$eqops" slo report "$specs/billing-api.json" --series - --ca-file - \
  </dev/null
grep -q "standard input ('-') can be read only once" "$tmp/err" ||
  { echo "FAIL: stdin twice"; cat "$tmp/err"; fails=$((fails + 1)); }
check "slo report --series FIFO" 1 timeout 20 "$eqops" slo report "$specs/billing-api.json" \
  --series "$tmp/fifo"
nofifo "--series"
check "k8s --kubeconfig FIFO" 1 timeout 20 "$eqops" k8s get configmap --kubeconfig "$tmp/fifo"
nofifo "--kubeconfig"
# a kubeconfig from a process substitution and from stdin: read (nothing listens at its server)
check "k8s --kubeconfig <(...)" 1 "$eqops" k8s get configmap --qps 0 \
  --kubeconfig <(cat "$tmp/k8s-none.yaml")
grep -q "127.0.0.1:1" "$tmp/err" || { echo "FAIL: kubeconfig <(...) not read"; cat "$tmp/err"; fails=$((fails + 1)); }
check "k8s --kubeconfig -" 1 "$eqops" k8s get configmap --qps 0 --kubeconfig - <"$tmp/k8s-none.yaml"
grep -q "127.0.0.1:1" "$tmp/err" || { echo "FAIL: kubeconfig - not read"; cat "$tmp/err"; fails=$((fails + 1)); }
printf 'clusters: [\n' >"$tmp/kc-bad.yaml"
check "k8s --kubeconfig - names stdin" 1 "$eqops" k8s get configmap --kubeconfig - <"$tmp/kc-bad.yaml"
grep -q "^eqops: error: stdin: invalid YAML" "$tmp/err" || { echo "FAIL: stdin named"; cat "$tmp/err"; fails=$((fails + 1)); }
check "k8s --kubeconfig /dev/zero" 1 timeout 20 "$eqops" k8s get configmap --kubeconfig /dev/zero
grep -q "/dev/zero: is a character device" "$tmp/err" || { echo "FAIL: device"; cat "$tmp/err"; fails=$((fails + 1)); }
cat >"$tmp/token.yaml" <<KC
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {tokenFile: fifo}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
KC
check "k8s tokenFile FIFO" 1 timeout 20 "$eqops" k8s get configmap --kubeconfig "$tmp/token.yaml"
nofifo "tokenFile"
printf 'name: acme\ntier: gold\nclusters: [{name: a, context: c}]\n' >"$tmp/spec.yaml"
check "tenant --tiers FIFO" 1 timeout 20 "$eqops" tenant plan "$tmp/spec.yaml" --tiers "$tmp/fifo"
nofifo "--tiers"
tiers="$(dirname "$0")/../../examples/tenants/tiers.yaml"
check "tenant spec FIFO" 1 timeout 20 "$eqops" tenant plan "$tmp/fifo" --tiers "$tiers"
nofifo "tenant spec"
check "tenant check <(...)" 0 "$eqops" tenant check <(printf 'name: acme\ntier: small\nclusters: [{name: a, context: c}]\n') \
  --tiers <(cat "$tiers") --kubeconfig <(cat "$tmp/k8s-none.yaml")
check "AWS_CA_BUNDLE FIFO" 1 env AWS_CA_BUNDLE="$tmp/fifo" AWS_REGION=eu-west-1 \
  AWS_ACCESS_KEY_ID=a AWS_SECRET_ACCESS_KEY=b timeout 20 "$eqops" aws whoami
grep -q "CA bundle no data from FIFO" "$tmp/err" || { echo "FAIL: CA bundle FIFO message"; cat "$tmp/err"; fails=$((fails + 1)); }
check "k8s apply -f FIFO" 1 timeout 20 "$eqops" k8s apply -f "$tmp/fifo" --kubeconfig "$tmp/token.yaml"
nofifo "apply -f"
check "bad EQOPS_FIFO_WAIT" 1 env EQOPS_FIFO_WAIT=soon "$eqops" slo validate "$tmp/fifo"
grep -q "EQOPS_FIFO_WAIT" "$tmp/err" || { echo "FAIL: EQOPS_FIFO_WAIT named"; cat "$tmp/err"; fails=$((fails + 1)); }
unset EQOPS_FIFO_WAIT
# text read from stdin stops at nothing: a NUL byte is refused, as in a file (kubectl: "control
# characters are not allowed"), not the end of what is applied
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a1, namespace: default}\n\0\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b1, namespace: default}\n' >"$tmp/nul.yaml"
check "k8s apply -f - with a NUL" 1 "$eqops" k8s apply -f - "${kc[@]}" <"$tmp/nul.yaml"
grep -q "stdin: a NUL byte at offset 72: control characters are not allowed" "$tmp/err" ||
  { echo "FAIL: NUL on stdin"; cat "$tmp/err"; fails=$((fails + 1)); }
check "k8s apply -f file with a NUL" 1 "$eqops" k8s apply -f "$tmp/nul.yaml" "${kc[@]}"
grep -q "control characters are not allowed" "$tmp/err" || { echo "FAIL: NUL in file"; cat "$tmp/err"; fails=$((fails + 1)); }
check "tenant check - with a NUL" 1 "${tenv[@]:-env}" "$eqops" tenant check - --tiers "$tiers" <"$tmp/nul.yaml"
grep -q "stdin: a NUL byte" "$tmp/err" || { echo "FAIL: NUL in a spec"; cat "$tmp/err"; fails=$((fails + 1)); }
# --test-out: written as a whole (a failure leaves the old file), never through a link, never
# into a FIFO (which would block)
cp "$tmp/t.yml" "$tmp/t-good.yml"
check "slo rules --test-out, file size limit" 1 bash -c \
  'trap "" XFSZ; ulimit -f 4; "$1" slo rules "$2" --test-out "$3" >/dev/null' _ "$eqops" \
  "$specs/billing-api.json" "$tmp/t.yml"
cmp -s "$tmp/t.yml" "$tmp/t-good.yml" || { echo "FAIL: --test-out half written"; fails=$((fails + 1)); }
ls "$tmp"/.t.yml.* >/dev/null 2>&1 && { echo "FAIL: --test-out temporary left"; fails=$((fails + 1)); }
ln -s t.yml "$tmp/t-link.yml"
check "slo rules --test-out a link" 1 "$eqops" slo rules "$specs/billing-api.json" --test-out "$tmp/t-link.yml"
grep -q "is a symbolic link" "$tmp/err" || { echo "FAIL: link message"; cat "$tmp/err"; fails=$((fails + 1)); }
check "slo rules --test-out a FIFO" 1 timeout 20 "$eqops" slo rules "$specs/billing-api.json" --test-out "$tmp/fifo"
grep -q "fifo: is a FIFO, not a regular file" "$tmp/err" || { echo "FAIL: --test-out FIFO"; cat "$tmp/err"; fails=$((fails + 1)); }
check "slo rules --test-out /dev/full" 1 "$eqops" slo rules "$specs/billing-api.json" --test-out /dev/full
chmod 640 "$tmp/t.yml"
check "slo rules --test-out keeps the mode" 0 "$eqops" slo rules "$specs/billing-api.json" --test-out "$tmp/t.yml"
[ "$(stat -c %a "$tmp/t.yml")" = 640 ] || { echo "FAIL: --test-out mode"; fails=$((fails + 1)); }

# eqops tenant: reserved names (built in, --reserve, EQOPS_TENANT_RESERVED), refused by every
# command but destroy; the database settings allow-list. No cluster is reached.
printf 'tiers:\n  small:\n    quota: {pods: "5"}\n' >"$tmp/tiers.yaml"
printf 'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n' >"$tmp/kc"
tspec() { # name [extra line]: a spec file in $tmp
  printf 'name: %s\ntier: small\nclusters: [{name: a, context: nope}]\n%s\n' "$1" "${2:-}" \
    >"$tmp/$1.yaml"
  echo "$tmp/$1.yaml"
}
tenv=(env EQOPS_TENANT_TIERS="$tmp/tiers.yaml" KUBECONFIG="$tmp/kc")
check "tenant help names --reserve" 0 "$eqops" tenant --help
grep -q "EQOPS_TENANT_RESERVED" "$tmp/out" && grep -q "argocd" "$tmp/out" ||
  { echo "FAIL: tenant help: reserved names"; fails=$((fails + 1)); }
check "tenant apply --help lists --reserve" 0 "$eqops" tenant apply --help
grep -q -- "--reserve" "$tmp/out" || { echo "FAIL: --reserve in the flags"; fails=$((fails + 1)); }
check "tenant check, a plain name" 0 "${tenv[@]}" "$eqops" tenant check "$(tspec acme-power)"
for name in argocd kube-system monitoring cert-manager; do
  check "tenant check $name" 1 "${tenv[@]}" "$eqops" -o json tenant check "$(tspec $name)"
  python3 -c 'import json,sys; e=json.loads(open(sys.argv[1]).read().splitlines()[-1])["error"]; assert e["field"] == "name" and "is reserved" in e["message"], e' \
    "$tmp/err" || { echo "FAIL: $name reserved"; cat "$tmp/err"; fails=$((fails + 1)); }
done
check "tenant plan argocd" 1 "${tenv[@]}" "$eqops" tenant plan "$(tspec argocd)"
grep -q '"argocd" is reserved' "$tmp/err" || { echo "FAIL: plan argocd"; fails=$((fails + 1)); }
check "tenant apply, the Argo CD namespace given" 1 "${tenv[@]}" "$eqops" tenant apply \
  "$(tspec gitops)" --argocd-namespace gitops
grep -q "argocd_namespace" "$tmp/err" || { echo "FAIL: apply gitops"; fails=$((fails + 1)); }
check "tenant check --reserve" 1 "${tenv[@]}" "$eqops" tenant check "$(tspec billing)" \
  --reserve team-a --reserve 'bill*'
grep -q "reserved by the operator (reserved_names: bill\*)" "$tmp/err" ||
  { echo "FAIL: --reserve message"; cat "$tmp/err"; fails=$((fails + 1)); }
check "tenant check EQOPS_TENANT_RESERVED" 1 "${tenv[@]}" EQOPS_TENANT_RESERVED="team-a, billing" \
  "$eqops" tenant check "$(tspec billing)"
check "tenant check, reserved elsewhere" 0 "${tenv[@]}" EQOPS_TENANT_RESERVED="team-a" \
  "$eqops" tenant check "$(tspec billing)" --reserve other
check "tenant bad --reserve" 2 "${tenv[@]}" "$eqops" tenant check "$(tspec billing)" --reserve 'Bad*x'
grep -q -- '--reserve "Bad\*x"' "$tmp/err" || { echo "FAIL: bad --reserve"; cat "$tmp/err"; fails=$((fails + 1)); }
check "tenant bad EQOPS_TENANT_RESERVED" 2 "${tenv[@]}" EQOPS_TENANT_RESERVED="ok,-no" \
  "$eqops" tenant check "$(tspec billing)"
grep -q 'EQOPS_TENANT_RESERVED entry "-no"' "$tmp/err" ||
  { echo "FAIL: bad EQOPS_TENANT_RESERVED"; cat "$tmp/err"; fails=$((fails + 1)); }
# destroy takes a reserved name and goes on to the clusters (here: no such context)
check "tenant destroy a reserved name" 1 "${tenv[@]}" "$eqops" -o json tenant destroy \
  "$(tspec monitoring 'database: {enabled: false}')" --confirm monitoring
python3 -c 'import json,sys; e=json.loads(open(sys.argv[1]).read().splitlines()[-1])["error"]; assert e["field"] != "name" and "nope" in e["message"], e' \
  "$tmp/err" || { echo "FAIL: destroy reserved"; cat "$tmp/err"; fails=$((fails + 1)); }
check "tenant settings outside the allow-list" 1 "${tenv[@]}" "$eqops" -o json tenant check \
  "$(tspec acme-power 'database: {settings: {role: postgres}}')"
python3 -c 'import json,sys; e=json.loads(open(sys.argv[1]).read().splitlines()[-1])["error"]; assert e["field"] == "database.settings.role", e' \
  "$tmp/err" || { echo "FAIL: settings role"; cat "$tmp/err"; fails=$((fails + 1)); }

echo "cli: $((n - fails))/$n checks passed"
[ $fails -eq 0 ]
