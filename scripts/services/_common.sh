# shellcheck shell=bash
# Shared helpers for scripts/services/*.sh. Sourced, never executed.
#
# Every service script follows the same shape:
#   <script> install   download/verify/unpack (or apt-get) — idempotent, cached
#   <script> start     install if needed, start, wait until it really answers
#   <script> stop      stop cleanly (TERM, wait, KILL only as a last resort)
#   <script> status    exit 0 if running and healthy, 3 if stopped (LSB convention)
#   <script> url       print the URL the portal settings expect
#
# Downloads live in a cache outside the repo so CI and dev machines reuse them.

PORTAL_CACHE="${PORTAL_CACHE:-${HOME:-/root}/.cache/portal}"

# Name used as a prefix in messages; each script sets SERVICE before sourcing.
SERVICE="${SERVICE:-service}"

log()  { printf '[%s] %s\n' "$SERVICE" "$*" >&2; }
die()  { printf '[%s] ERROR: %s\n' "$SERVICE" "$*" >&2; exit 1; }

need_cmd() {
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || die "required command '$c' not found in PATH"
  done
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# Run a command as root: directly when we are root, through sudo otherwise.
as_root() {
  if is_root; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@" || die "needs root: 'sudo -n $*' failed (configure passwordless sudo or run as root)"
  else
    die "needs root for: $* (not root and no sudo)"
  fi
}

# Elapsed-time reporting so CI logs show where start-up time goes.
_t0=$(date +%s)
elapsed() { echo "$(( $(date +%s) - _t0 ))s"; }

# sha256_verify FILE EXPECTED — die (and delete the file) on mismatch, so a corrupt or
# tampered download is never unpacked and the next run downloads it again.
sha256_verify() {
  local file=$1 expected=$2 actual
  need_cmd sha256sum
  actual=$(sha256sum "$file" | cut -d' ' -f1)
  if [ "$actual" != "$expected" ]; then
    rm -f -- "$file"
    die "checksum mismatch for $file
  expected sha256 $expected
  actual   sha256 $actual
The file was deleted. If the upstream artifact legitimately changed, update the pinned checksum."
  fi
}

# pid_from_file PIDFILE — print the pid if the file holds a number, else nothing.
pid_from_file() {
  local f=$1 pid
  [ -r "$f" ] || return 0
  pid=$(tr -dc '0-9' <"$f" 2>/dev/null || true)
  [ -n "$pid" ] && echo "$pid"
  return 0
}

# pid_matches PID PATTERN — true if the process exists and its command line contains
# PATTERN. Guards against a stale pidfile whose pid was reused by an unrelated process,
# which we must never signal.
pid_matches() {
  local pid=$1 pattern=$2
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$pattern"
}

# running_pid PIDFILE PATTERN — print the live pid, or nothing (and drop a stale pidfile).
running_pid() {
  local f=$1 pattern=$2 pid
  pid=$(pid_from_file "$f")
  if [ -n "$pid" ] && pid_matches "$pid" "$pattern"; then
    echo "$pid"
  elif [ -e "$f" ]; then
    rm -f -- "$f" 2>/dev/null || true
  fi
  return 0
}

# stop_pid PIDFILE PATTERN NAME [TIMEOUT] — SIGTERM, wait, then SIGKILL if it hangs.
stop_pid() {
  local f=$1 pattern=$2 name=$3 timeout=${4:-60} pid i
  pid=$(running_pid "$f" "$pattern")
  if [ -z "$pid" ]; then
    log "$name is not running"
    return 0
  fi
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < timeout * 5; i++)); do
    pid_matches "$pid" "$pattern" || { rm -f -- "$f"; log "$name stopped ($(elapsed))"; return 0; }
    sleep 0.2
  done
  log "$name did not exit within ${timeout}s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  sleep 1
  pid_matches "$pid" "$pattern" && die "could not kill $name (pid $pid)"
  rm -f -- "$f"
}

# http_ok URL [curl args...] — true if URL answers with a 2xx status.
http_ok() {
  local url=$1; shift
  curl -fsS --max-time 5 -o /dev/null "$@" "$url" 2>/dev/null
}

# wait_http URL TIMEOUT PID PATTERN [curl args...] — poll until URL answers 2xx.
# Gives up early if the process dies, so a crash is reported at once instead of
# after the whole timeout.
wait_http() {
  local url=$1 timeout=$2 pid=$3 pattern=$4 deadline
  shift 4
  deadline=$(( $(date +%s) + timeout ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    http_ok "$url" "$@" && return 0
    if [ -n "$pid" ] && ! pid_matches "$pid" "$pattern"; then
      log "process $pid exited before $url answered"
      return 1
    fi
    sleep 0.5
  done
  log "timed out after ${timeout}s waiting for $url"
  return 1
}

# wait_exec PID PATTERN — after `cmd &`, the child is briefly still a copy of this shell;
# wait until it has exec'd the server (so pid_matches works) or died.
wait_exec() {
  local pid=$1 pattern=$2 i
  for ((i = 0; i < 50; i++)); do
    pid_matches "$pid" "$pattern" && return 0
    [ -d "/proc/$pid" ] || return 1
    sleep 0.1
  done
  return 1
}

# port_busy PORT — true if something already listens on 127.0.0.1:PORT.
port_busy() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# show_log_tail FILE [LINES] — used when start-up fails, so CI logs say why.
show_log_tail() {
  local f=$1 n=${2:-60}
  if [ -r "$f" ]; then
    printf '%s\n' "----- last $n lines of $f -----" >&2
    tail -n "$n" "$f" >&2 || true
    printf '%s\n' "----- end of $f -----" >&2
  else
    log "(no log at $f)"
  fi
}

usage_and_exit() {
  printf 'usage: %s {%s}\n' "$(basename "$0")" "$1" >&2
  exit 2
}
