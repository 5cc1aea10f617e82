#!/bin/sh
# A fuzz target leaves nothing behind: the kubeconfig target once wrote
# /tmp/eqops-fuzz-kubeconfig-<pid> on every run and never removed it.
# usage: no_leftovers.sh path/to/fuzz_k8s_config corpus-dir
"$1" "$2" >/dev/null 2>&1 &
pid=$!
wait $pid || { echo "FAIL: $1 exited with $?"; exit 1; }
if [ -e "/tmp/eqops-fuzz-kubeconfig-$pid" ]; then
  echo "FAIL: /tmp/eqops-fuzz-kubeconfig-$pid was left behind"
  rm -f "/tmp/eqops-fuzz-kubeconfig-$pid"
  exit 1
fi
echo "nothing left behind by $1 (pid $pid)"
