#!/usr/bin/env bash
# Redis for tests and local development: the store that several web nodes share (login rate
# limits — PORTAL_RATELIMIT_STORAGE_URI; docs/deployment.md).
#
#   scripts/services/redis.sh install   apt-get install Debian's redis-server if missing
#   scripts/services/redis.sh start     install if needed, start on 127.0.0.1, wait for PING
#   scripts/services/redis.sh stop      SIGTERM (Redis saves its snapshot and exits)
#   scripts/services/redis.sh status    exit 0 if it answers PING, 3 if stopped
#   scripts/services/redis.sh url       print the PORTAL_RATELIMIT_STORAGE_URI value
#
# Our own instance, never the distribution's service: its own port (6390, so a system Redis on
# 6379 is left alone), pidfile, log and data directory under the cache. Loopback only; no
# password (nothing but this machine can reach it). Production Redis: docs/deployment.md.
#
# Environment knobs:
#   REDIS_PORT (6390)   PORTAL_CACHE (~/.cache/portal)   REDIS_START_TIMEOUT (30)
set -euo pipefail

SERVICE=redis
# shellcheck source=scripts/services/_common.sh
. "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

REDIS_HOST=127.0.0.1
REDIS_PORT="${REDIS_PORT:-6390}"
REDIS_START_TIMEOUT="${REDIS_START_TIMEOUT:-30}"
REDIS_BIN=/usr/bin/redis-server
REDIS_CLI=/usr/bin/redis-cli
REDIS_DIR="$PORTAL_CACHE/redis-$REDIS_PORT"   # dump.rdb, pid, log: per port
PIDFILE="$REDIS_DIR/redis.pid"
LOG="$REDIS_DIR/redis.log"
# Redis rewrites its command line to "redis-server HOST:PORT"; the port tells instances apart
# and a reused pid will not match.
PID_PATTERN="redis-server $REDIS_HOST:$REDIS_PORT"

redis_version() { "$REDIS_BIN" --version | sed -n 's/.* v=\([0-9.]*\).*/\1/p'; }

cmd_install() {
  if [ -x "$REDIS_BIN" ] && [ -x "$REDIS_CLI" ]; then
    log "redis-server already installed ($(redis_version))"
    return 0
  fi
  need_cmd apt-get
  log "redis-server not installed; installing the Debian package (apt-get)"
  # noninteractive: no debconf prompts in CI. `apt-get update` only on this path, so the
  # installed case stays fast and works offline. redis-tools (redis-cli) comes with it.
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends redis-server redis-tools
  [ -x "$REDIS_BIN" ] || die "apt-get finished but $REDIS_BIN is missing"
  log "redis-server $(redis_version) installed ($(elapsed))"
}

ping() {
  [ "$("$REDIS_CLI" -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]
}

wait_ping() {
  local pid=$1 deadline
  deadline=$(( $(date +%s) + REDIS_START_TIMEOUT ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    ping && return 0
    pid_matches "$pid" "$PID_PATTERN" || return 1
    sleep 0.2
  done
  return 1
}

cmd_start() {
  cmd_install
  local pid
  pid=$(running_pid "$PIDFILE" "$PID_PATTERN")
  if [ -n "$pid" ]; then
    log "already running (pid $pid)"
    wait_ping "$pid" || die "running but does not answer PING; see $LOG"
    return 0
  fi
  if port_busy "$REDIS_PORT"; then
    die "127.0.0.1:$REDIS_PORT is already in use by another process (no live pidfile at $PIDFILE). Stop it or set REDIS_PORT."
  fi
  mkdir -p "$REDIS_DIR" || die "cannot create $REDIS_DIR"
  log "starting redis-server on redis://$REDIS_HOST:$REDIS_PORT (dir: $REDIS_DIR)"
  : >"$LOG"
  # No config file: every setting on the command line, so the packaged /etc/redis/redis.conf
  # (port 6379, /var/lib/redis) plays no part. setsid: a Ctrl-C in the calling terminal does
  # not take the server down. Snapshots (dump.rdb) go to REDIS_DIR with Redis's default
  # schedule; rate-limit counters would survive a restart.
  (
    cd "$REDIS_DIR"
    exec setsid "$REDIS_BIN" \
      --bind "$REDIS_HOST" \
      --port "$REDIS_PORT" \
      --protected-mode yes \
      --daemonize no \
      --dir "$REDIS_DIR" \
      --logfile "" \
      >>"$LOG" 2>&1 </dev/null
  ) &
  pid=$!
  echo "$pid" >"$PIDFILE"
  wait_exec "$pid" "$PID_PATTERN" || { show_log_tail "$LOG" 40; rm -f "$PIDFILE"; die "redis-server exited at once"; }
  if ! wait_ping "$pid"; then
    show_log_tail "$LOG" 40
    pid_matches "$pid" "$PID_PATTERN" || { rm -f "$PIDFILE"; die "redis-server exited during start-up (log above)"; }
    die "redis-server did not answer PING within ${REDIS_START_TIMEOUT}s (pid $pid left running; run '$0 stop')"
  fi
  log "redis-server ready (pid $pid, $(elapsed))"
}

cmd_stop() {
  # SIGTERM: Redis writes its snapshot and exits.
  stop_pid "$PIDFILE" "$PID_PATTERN" "redis-server on port $REDIS_PORT" 30
}

cmd_status() {
  local pid
  pid=$(running_pid "$PIDFILE" "$PID_PATTERN")
  if [ -z "$pid" ]; then
    echo "redis: not running on port $REDIS_PORT"
    exit 3
  fi
  if ping; then
    echo "redis: running (pid $pid) on redis://$REDIS_HOST:$REDIS_PORT"
  else
    echo "redis: process $pid alive but redis://$REDIS_HOST:$REDIS_PORT does not answer PING"
    exit 1
  fi
}

cmd_url() { echo "redis://$REDIS_HOST:$REDIS_PORT/0"; }

case "${1:-}" in
  install) cmd_install ;;
  start)   cmd_start ;;
  stop)    cmd_stop ;;
  status)  cmd_status ;;
  url)     cmd_url ;;
  *)       usage_and_exit "install|start|stop|status|url" ;;
esac
