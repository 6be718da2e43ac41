#!/usr/bin/env bash
# Runs every test: unit tests, and integration tests through the real binary
# against the local emulator (installed and started here if needed).
set -euo pipefail
cd "$(dirname "$0")/.."

started_here=0
if ! curl -fsS -o /dev/null http://127.0.0.1:4566/_localstack/health 2>/dev/null; then
  started_here=1
fi
bash localstack/start.sh
if [ "$started_here" = 1 ] && [ "${INFRA_KEEP_EMULATOR:-0}" != 1 ]; then
  trap 'bash localstack/stop.sh >/dev/null 2>&1 || true' EXIT
fi

export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
cargo test --locked --all-targets -- --test-threads="${INFRA_TEST_THREADS:-4}"

# The benchmark harness at a small size, so it cannot rot (it measures;
# it asserts nothing about time).
cargo build --locked --bin infra
python3 benches/harness.py --sizes 200 --runs 1 --emulator-size 200 --bin target/debug/infra
