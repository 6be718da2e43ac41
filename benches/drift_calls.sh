#!/usr/bin/env bash
# Counts the AWS calls `infra drift` makes over an env, at the fault proxy
# (no faults injected), and prints calls per managed resource.
# Usage: benches/drift_calls.sh [ENV] [PLANS_DIR]   (emulator running; infra built)
set -euo pipefail
cd "$(dirname "$0")/.."
env_name=${1:-bench-drift}
plans=${2:-}
bin=${INFRA_BIN:-target/debug/infra}
work=$(mktemp -d)
trap 'kill $proxy_pid 2>/dev/null || true; rm -rf "$work"' EXIT
if [ -z "$plans" ]; then
  mkdir -p "$work/plans"
  sed -e "s/10\.10\./10.99./g" plans/dev.toml > "$work/plans/$env_name.toml"
  plans="$work/plans"
fi
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
state="$work/$env_name.db"
run() { "$bin" --plans "$plans" --state "$state" "$@" --env "$env_name"; }
AWS_ENDPOINT_URL=http://127.0.0.1:4566 run up --yes >/dev/null 2>&1
python3 localstack/fault_proxy.py --upstream http://127.0.0.1:4566 --port 0 --seed 1 > "$work/proxy.out" &
proxy_pid=$!
for _ in $(seq 50); do grep -q "listening on" "$work/proxy.out" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/listening on //p' "$work/proxy.out")
start=$(date +%s.%N)
AWS_ENDPOINT_URL=http://127.0.0.1:$port run drift >/dev/null || true
end=$(date +%s.%N)
stats=$(curl -s "http://127.0.0.1:$port/__proxy/stats"); [ -n "${VERBOSE:-}" ] && echo "$stats" >&2; calls=$(echo "$stats" | python3 -c "import json,sys; print(json.load(sys.stdin)['total'])")
resources=$(python3 -c "import sqlite3; print(sqlite3.connect('$state').execute('select count(*) from resources').fetchone()[0])")
AWS_ENDPOINT_URL=http://127.0.0.1:4566 run destroy --yes >/dev/null 2>&1
python3 -c "print(f'resources={$resources} calls={$calls} calls_per_resource={$calls/$resources:.3f} wall_s={$end-$start:.2f}')"
