#!/usr/bin/env bash
# Start the local AWS emulator (LocalStack community 4.10.0, host mode, no Docker) on
# http://127.0.0.1:4566 and warm up the services the project uses. Idempotent: if the
# endpoint already answers, it only prints it.
#
#   venv:    ${INFRA_LOCALSTACK_VENV:-$HOME/.cache/infra-localstack-venv}  (see install.sh)
#   run dir: ${INFRA_LOCALSTACK_RUN:-/tmp/infra-localstack}  (localstack.pid, localstack.log)
#   stop:    stop.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
venv=${INFRA_LOCALSTACK_VENV:-$HOME/.cache/infra-localstack-venv}
run=${INFRA_LOCALSTACK_RUN:-/tmp/infra-localstack}
endpoint=http://127.0.0.1:4566
pidfile=$run/localstack.pid
logfile=$run/localstack.log
start_timeout=${INFRA_LOCALSTACK_START_TIMEOUT:-90}
started=0

log() { printf 'start.sh: %s\n' "$*" >&2; }

"$here/install.sh"

healthy() {
    "$venv/bin/python" -c '
import sys, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=2).read()
except Exception:
    sys.exit(1)
' "$endpoint/_localstack/health"
}

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

fail() {
    log "$*"
    if [ -f "$logfile" ]; then
        log "last lines of $logfile:"
        tail -n 40 "$logfile" >&2
    fi
    # Do not leave a half-started emulator behind (seen: with the port held by another
    # listener it logs "Ready.", never answers, and ignores TERM until KILL).
    [ "$started" = 1 ] && "$here/stop.sh" || true
    exit 1
}

if healthy; then
    echo "endpoint: $endpoint"
    exit 0
fi

mkdir -p "$run"
pid=$(cat "$pidfile" 2>/dev/null || true)
if alive "$pid"; then
    log "LocalStack (pid $pid) is starting; waiting for it"
else
    rm -f "$pidfile"
    log "starting LocalStack (log: $logfile)"
    # setsid: own session and process group, so it survives the calling shell (and
    # stop.sh can signal the whole group); the inner sh records its pid and execs python.
    detach=nohup
    command -v setsid >/dev/null 2>&1 && detach=setsid
    (
        cd "$run"
        GATEWAY_SERVER=hypercorn GATEWAY_LISTEN=127.0.0.1:4566 LOCALSTACK_HOST=127.0.0.1:4566 \
            SQS_ENDPOINT_STRATEGY=path DISABLE_EVENTS=1 \
            "$detach" sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$pidfile" \
            "$venv/bin/python" -m localstack.runtime.main \
            >"$logfile" 2>&1 </dev/null &
    )
    for _ in $(seq 1 50); do
        [ -s "$pidfile" ] && break
        sleep 0.1
    done
    pid=$(cat "$pidfile" 2>/dev/null || true)
    started=1
fi

SECONDS=0
until healthy; do
    alive "$pid" || fail "LocalStack exited during start"
    [ "$SECONDS" -ge "$start_timeout" ] && fail "LocalStack not healthy after ${start_timeout} s (pid $pid)"
    sleep 0.5
done
log "healthy after ${SECONDS} s (pid $pid); warming up services"

"$venv/bin/python" "$here/warmup.py" "$endpoint" || fail "warm-up failed"

echo "endpoint: $endpoint"
