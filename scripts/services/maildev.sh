#!/usr/bin/env bash
# MailDev: the development mail catcher that scripts/run starts, so a newcomer can read every
# e-mail the portal sends (invitations, reminders, password resets) in the browser and follow
# its links — nothing leaves the machine.
#
#   scripts/services/maildev.sh install    npm ci from scripts/services/maildev/package-lock.json
#   scripts/services/maildev.sh start      install if needed, start, wait for /healthz
#   scripts/services/maildev.sh stop
#   scripts/services/maildev.sh status     exit 0 if healthy, 3 if stopped
#   scripts/services/maildev.sh url        print the web inbox URL
#   scripts/services/maildev.sh smtp-url   print the PORTAL_SMTP_URL value
#
# Why MailDev 2.2.1 (MIT, npm registry): one Node process with SMTP, a web inbox and a REST
# API; installs in seconds from a lock file with integrity hashes. (Mailpit built from the Go
# module proxy has no web UI — its UI assets are not in the module — and MailDev 3 needs
# Node 22.) Mail is kept in <cache>/maildev-mail-<smtp port>, so it survives restarts.
#
# Environment knobs: MAIL_SMTP_PORT (1025)  MAIL_WEB_PORT (1080)  PORTAL_CACHE (~/.cache/portal)
set -euo pipefail

SERVICE=maildev
# shellcheck source=scripts/services/_common.sh
. "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MAIL_HOST=127.0.0.1
MAIL_SMTP_PORT="${MAIL_SMTP_PORT:-1025}"
MAIL_WEB_PORT="${MAIL_WEB_PORT:-1080}"
LOCK_SHA=$(sha256sum "$HERE/maildev/package-lock.json" | cut -c1-12)
MD_DIR="$PORTAL_CACHE/maildev-$LOCK_SHA"          # node_modules for this lock
MD_BIN="$MD_DIR/node_modules/maildev/bin/maildev"
MAIL_DIR="$PORTAL_CACHE/maildev-mail-$MAIL_SMTP_PORT"
PIDFILE="$PORTAL_CACHE/maildev-$MAIL_SMTP_PORT.pid"
LOG="$PORTAL_CACHE/maildev-$MAIL_SMTP_PORT.log"
PID_PATTERN="$MD_BIN --smtp $MAIL_SMTP_PORT"

cmd_install() {
  if [ -f "$MD_BIN" ] && [ -f "$MD_DIR/.installed" ]; then
    return 0
  fi
  need_cmd node npm
  log "installing MailDev from the npm registry (locked, integrity-checked) into $MD_DIR"
  rm -rf "$MD_DIR"
  mkdir -p "$MD_DIR"
  cp "$HERE/maildev/package.json" "$HERE/maildev/package-lock.json" "$MD_DIR/"
  if ! (cd "$MD_DIR" && npm ci --no-audit --no-fund --ignore-scripts --silent) >"$MD_DIR/npm.log" 2>&1; then
    show_log_tail "$MD_DIR/npm.log" 30
    die "npm ci failed (is the npm registry reachable?)"
  fi
  touch "$MD_DIR/.installed"
  log "MailDev installed ($(elapsed))"
}

cmd_start() {
  cmd_install
  local pid
  pid=$(running_pid "$PIDFILE" "$PID_PATTERN")
  if [ -n "$pid" ]; then
    log "already running (pid $pid)"
    return 0
  fi
  for p in "$MAIL_SMTP_PORT" "$MAIL_WEB_PORT"; do
    port_busy "$p" && die "127.0.0.1:$p is already in use. Stop that process or set MAIL_SMTP_PORT / MAIL_WEB_PORT."
  done
  mkdir -p "$MAIL_DIR"
  : >"$LOG"
  (
    exec setsid node "$MD_BIN" --smtp "$MAIL_SMTP_PORT" --ip "$MAIL_HOST" \
      --web "$MAIL_WEB_PORT" --web-ip "$MAIL_HOST" --mail-directory "$MAIL_DIR" \
      >>"$LOG" 2>&1 </dev/null
  ) &
  pid=$!
  echo "$pid" >"$PIDFILE"
  wait_exec "$pid" "$PID_PATTERN" || { show_log_tail "$LOG" 20; die "MailDev exited at once"; }
  if ! wait_http "http://$MAIL_HOST:$MAIL_WEB_PORT/healthz" 30 "$pid" "$PID_PATTERN"; then
    show_log_tail "$LOG" 20
    die "MailDev did not answer on http://$MAIL_HOST:$MAIL_WEB_PORT/healthz"
  fi
  log "MailDev ready: SMTP $MAIL_HOST:$MAIL_SMTP_PORT, inbox http://$MAIL_HOST:$MAIL_WEB_PORT/ (pid $pid)"
}

cmd_stop() { stop_pid "$PIDFILE" "$PID_PATTERN" "MailDev" 10; }

cmd_status() {
  local pid
  pid=$(running_pid "$PIDFILE" "$PID_PATTERN")
  if [ -z "$pid" ]; then echo "maildev: not running"; exit 3; fi
  if http_ok "http://$MAIL_HOST:$MAIL_WEB_PORT/healthz"; then
    echo "maildev: running (pid $pid), SMTP $MAIL_HOST:$MAIL_SMTP_PORT, inbox http://$MAIL_HOST:$MAIL_WEB_PORT/"
  else
    echo "maildev: process $pid alive but not answering"; exit 1
  fi
}

case "${1:-}" in
  install)  cmd_install ;;
  start)    cmd_start ;;
  stop)     cmd_stop ;;
  status)   cmd_status ;;
  url)      echo "http://$MAIL_HOST:$MAIL_WEB_PORT/" ;;
  smtp-url) echo "smtp://$MAIL_HOST:$MAIL_SMTP_PORT" ;;
  *)        usage_and_exit "install|start|stop|status|url|smtp-url" ;;
esac
