#!/usr/bin/env bash
# Upload overhead of the S3 state backend (issue 14): `up` of the dev
# platform from nothing on the emulator, with the local file and with
# `[state] backend = "s3"` (default timing: state uploaded at most every
# 2 s, and at the end), each followed by a destroy. Prints the median wall
# time of each over N rounds and the overhead in percent.
# Usage: [LOCAL_OCTET=98 S3_OCTET=97] benches/s3_state_overhead.sh [ROUNDS]   (emulator running; infra built)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
bin=${INFRA_BIN:-target/debug/infra}
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_ENDPOINT_URL=${AWS_ENDPOINT_URL:-http://127.0.0.1:4566}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bucket="bench-s3-state-$$-$RANDOM"
python3 - "$bucket" <<'PY'
import sys, urllib.request
req = urllib.request.Request(f"{__import__('os').environ['AWS_ENDPOINT_URL']}/{sys.argv[1]}", method="PUT")
urllib.request.urlopen(req).read()
PY
# Each env its own name, domain and /16 (second octets: LOCAL_OCTET, S3_OCTET),
# so the bench can share the emulator with other runs.
local_octet=${LOCAL_OCTET:-98}; s3_octet=${S3_OCTET:-97}
local_env="bench-local-$$"; s3_env="bench-s3-$$"
mkdir -p "$work/local" "$work/s3"
plan_for() { # octet env
  sed -e "s/10\.10\./10.$1./g" -e "s/env = \"dev\"/env = \"$2\"/" -e "s/dev\.todo\.example\.com/$2.todo.example.com/g" plans/dev.toml
}
plan_for "$local_octet" "$local_env" > "$work/local/$local_env.toml"
plan_for "$s3_octet" "$s3_env" > "$work/s3/$s3_env.toml"
printf '\n[state]\nbackend = "s3"\nbucket = "%s"\nprefix = "bench"\n' "$bucket" >> "$work/s3/$s3_env.toml"
time_up() { # dir env
  local s e
  s=$(date +%s.%N)
  "$bin" --plans "$work/$1" --state "$work/$1/state/$2.db" up --yes --env "$2" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  e=$(date +%s.%N)
  "$bin" --plans "$work/$1" --state "$work/$1/state/$2.db" destroy --yes --env "$2" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  python3 -c "print($e - $s)"
}
local_t=(); s3_t=()
for _ in $(seq "$rounds"); do
  local_t+=("$(time_up local "$local_env")")
  s3_t+=("$(time_up s3 "$s3_env")")
done
python3 - "${local_t[*]}" "${s3_t[*]}" <<'PY'
import statistics, sys
l = [float(x) for x in sys.argv[1].split()]
s = [float(x) for x in sys.argv[2].split()]
ml, ms = statistics.median(l), statistics.median(s)
print(f"up (dev platform), local file: median {ml:.2f} s over {len(l)} runs {[round(x, 2) for x in l]}")
print(f"up (dev platform), S3 backend: median {ms:.2f} s over {len(s)} runs {[round(x, 2) for x in s]}")
print(f"overhead: {100 * (ms - ml) / ml:+.1f}%")
PY
