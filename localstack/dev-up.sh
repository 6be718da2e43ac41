#!/usr/bin/env bash
# Brings the local emulator up (installing it on first use) and runs
# `infra up --env dev` against it. Extra arguments go to `infra up`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash localstack/start.sh
export AWS_ENDPOINT_URL=http://127.0.0.1:4566 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
cargo build --locked --bin infra
./target/debug/infra up --env dev --yes "$@"
echo
./target/debug/infra output --env dev
