#!/usr/bin/env bash
# Stop the emulator started by start.sh, by its pid file: TERM, up to 20 s, then KILL.
# Exits 0 when it is not running.
set -euo pipefail

run=${INFRA_LOCALSTACK_RUN:-/tmp/infra-localstack}
pidfile=$run/localstack.pid

log() { printf 'stop.sh: %s\n' "$*" >&2; }

pid=$(cat "$pidfile" 2>/dev/null || true)
if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
    log "not running"
    rm -f "$pidfile"
    exit 0
fi

# start.sh runs LocalStack as leader of its own process group: signal the group so
# any helper processes go too; otherwise just the pid.
target=$pid
if [ "$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')" = "$pid" ]; then
    target=-$pid
fi

log "stopping LocalStack (pid $pid)"
kill -TERM -- "$target" 2>/dev/null || true
for _ in $(seq 1 40); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
done
if kill -0 "$pid" 2>/dev/null; then
    log "still running after 20 s; sending KILL"
    kill -KILL -- "$target" 2>/dev/null || true
    sleep 0.5
fi
rm -f "$pidfile"
log "stopped"
