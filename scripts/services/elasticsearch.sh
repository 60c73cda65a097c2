#!/usr/bin/env bash
# Elasticsearch 9 for tests and local development (DESIGN.md §6).
#
#   scripts/services/elasticsearch.sh install   fetch from Maven Central, verify sha256, unzip
#   scripts/services/elasticsearch.sh start     install if needed, start, wait for yellow health
#   scripts/services/elasticsearch.sh stop
#   scripts/services/elasticsearch.sh status    exit 0 if healthy, 3 if stopped
#   scripts/services/elasticsearch.sh url       print PORTAL_SEARCH_URL value
#
# Version: 9.5.2 — the newest 9.x integ-test-zip found on Maven Central (9.5.1, 9.4.x,
# 9.3.0, 9.2.1 are NOT published there). Matching Python client: elasticsearch>=9.5,<9.6
# (PyPI has 9.5.0 and 9.5.1). 9.2.0 is also pinned below as a fallback (ES_VERSION=9.2.0,
# client elasticsearch>=9.2,<9.3).
#
# The integ-test-zip is the *minimal* distribution: its only modules are apm,
# transport-netty4, x-pack-core and x-pack-security. There is no analysis-common (so no
# asciifolding / cjk / ngram / arabic_normalization), no painless, no reindex, no
# mapper-extras, no aggregations module, no rest-root (so `GET /` and `HEAD /` answer 405:
# the Python client's ping() returns False and info() raises; probe with
# cluster.health() instead). Search code must detect features, not assume.
#
# Environment knobs:
#   ES_VERSION (9.5.2)   ES_PORT (9200)   ES_TRANSPORT_PORT (ES_PORT+100)   ES_HEAP (512m)
#   ES_JAVA_HOME (auto: newest JDK >= 21 under /usr/lib/jvm)
#   PORTAL_CACHE (~/.cache/portal)   ES_RUN_DIR (see below)   ES_START_TIMEOUT (120)
set -euo pipefail

SERVICE=elasticsearch
# shellcheck source=scripts/services/_common.sh
. "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

ES_VERSION="${ES_VERSION:-9.5.2}"
ES_PORT="${ES_PORT:-9200}"
ES_TRANSPORT_PORT="${ES_TRANSPORT_PORT:-$((ES_PORT + 100))}"   # 9200 -> 9300
ES_HEAP="${ES_HEAP:-512m}"
ES_START_TIMEOUT="${ES_START_TIMEOUT:-120}"
ES_HOST=127.0.0.1
ES_MIN_JAVA=21

# Pinned SHA-256 of the Maven Central zips (computed once from the downloaded artifact;
# Maven Central has no .sha1/.sha512 for these 9.x zips, so this pin is the only check).
es_sha256() {
  case "$1" in
    9.5.2) echo de3d9c88b5f993d9b1f937a1da8d7bfa3e881f83bf3a0dab3e49a8d557934618 ;;
    9.2.0) echo bf44938a0490ba2a303d39c9cb64b38963dd08c812ce93e10816e878585bcb6b ;;
    *) die "no pinned sha256 for Elasticsearch $1; add it to es_sha256() in $0" ;;
  esac
}

ARTIFACT="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip"
# Pin the plugin version so every Maven picks the same (the super-POM default differs).
MVN_DEP_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
DOWNLOADS="$PORTAL_CACHE/downloads"
ZIP="$DOWNLOADS/elasticsearch-$ES_VERSION.zip"

# Elasticsearch refuses to run as root, and we are root in CI. So as root it runs as the
# system user `portal-es`. That user cannot enter /root (mode 0700), where the default
# cache lives, so the unpacked tree and its data go under the user's home instead;
# the verified download stays in $PORTAL_CACHE. As a normal user everything is in the cache.
ES_USER=portal-es
if is_root; then
  ES_RUN_DIR="${ES_RUN_DIR:-/var/lib/$ES_USER}"
else
  ES_RUN_DIR="${ES_RUN_DIR:-$PORTAL_CACHE/elasticsearch}"
fi
ES_HOME="$ES_RUN_DIR/elasticsearch-$ES_VERSION"     # read-only install tree
# Config, data, logs: separate from the install. One state dir per port, so a second
# instance (ES_PORT=9201, e.g. a parallel test run) never shares data or pidfile.
if [ "$ES_PORT" = 9200 ]; then
  STATE="$ES_RUN_DIR/state-$ES_VERSION"
else
  STATE="$ES_RUN_DIR/state-$ES_VERSION-$ES_PORT"
fi
PIDFILE="$STATE/elasticsearch.pid"
LOG="$STATE/logs/portal-dev.log"                    # <cluster.name>.log
STARTUP_LOG="$STATE/logs/startup.log"
STAMP="$ES_HOME/.portal-sha256"
# Matches this instance's server JVM command line (jvm.options puts ES_TMPDIR, which is
# inside STATE, on it), so a stale pidfile pointing at a reused pid — or at another
# instance — is never mistaken for our server.
PID_PATTERN="-Djava.io.tmpdir=$STATE/tmp"

# Newest JDK >= 21 under /usr/lib/jvm (e.g. temurin-25-jdk-amd64), read from each JDK's
# `release` file rather than guessed from the directory name. ES_JAVA_HOME wins if set.
find_java() {
  if [ -n "${ES_JAVA_HOME:-}" ]; then
    [ -x "$ES_JAVA_HOME/bin/java" ] || die "ES_JAVA_HOME=$ES_JAVA_HOME has no bin/java"
    echo "$ES_JAVA_HOME"; return
  fi
  local d v major best="" best_major=0
  for d in /usr/lib/jvm/*/; do
    d=${d%/}
    [ -x "$d/bin/java" ] && [ -r "$d/release" ] || continue
    v=$(sed -n 's/^JAVA_VERSION="\([^"]*\)".*/\1/p' "$d/release")
    major=${v%%[.+-]*}
    [[ "$major" =~ ^[0-9]+$ ]] || continue
    # Prefer Temurin on a tie (it is what CI images ship and what we tested).
    if [ "$major" -gt "$best_major" ] || { [ "$major" -eq "$best_major" ] && [[ "$d" == *temurin* ]]; }; then
      best=$d; best_major=$major
    fi
  done
  [ -n "$best" ] && [ "$best_major" -ge "$ES_MIN_JAVA" ] ||
    die "no JDK >= $ES_MIN_JAVA under /usr/lib/jvm (found: ${best:-none}); set ES_JAVA_HOME"
  echo "$best"
}

ensure_user() {
  is_root || return 0
  if ! getent passwd "$ES_USER" >/dev/null; then
    log "creating system user $ES_USER (Elasticsearch will not run as root)"
    need_cmd useradd
    useradd --system --user-group --home-dir "$ES_RUN_DIR" --no-create-home \
      --shell /usr/sbin/nologin --comment "portal Elasticsearch (scripts/services)" "$ES_USER"
  fi
}

cmd_install() {
  local want
  want=$(es_sha256 "$ES_VERSION")   # fail before downloading anything we cannot verify
  if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    log "Elasticsearch $ES_VERSION already installed in $ES_HOME"
    return 0
  fi
  need_cmd unzip sha256sum
  mkdir -p "$DOWNLOADS"
  if [ ! -f "$ZIP" ]; then
    need_cmd mvn
    log "downloading $ARTIFACT from Maven Central"
    # Maven's own repo (~/.m2) also keeps a copy, so a later cache wipe is still cheap.
    # Output goes to a log (Maven prints ANSI noise even in batch mode); shown on failure.
    if ! mvn -B "$MVN_DEP_PLUGIN:copy" -Dartifact="$ARTIFACT" -DoutputDirectory="$DOWNLOADS" \
        -Dmdep.overWriteReleases=true >"$DOWNLOADS/mvn-elasticsearch.log" 2>&1; then
      show_log_tail "$DOWNLOADS/mvn-elasticsearch.log" 30
      die "mvn could not fetch $ARTIFACT (is Maven Central reachable? is the version published?)"
    fi
    [ -f "$ZIP" ] || die "mvn succeeded but $ZIP is missing"
  fi
  sha256_verify "$ZIP" "$want"

  # Unzip into a temporary directory and rename it into place, so an interrupted run never
  # leaves a half-extracted tree that looks installed.
  mkdir -p "$ES_RUN_DIR"
  local tmp
  tmp=$(mktemp -d "$ES_RUN_DIR/.unzip.XXXXXX")
  unzip -q "$ZIP" -d "$tmp" || { rm -rf "$tmp"; die "unzip of $ZIP failed"; }
  [ -x "$tmp/elasticsearch-$ES_VERSION/bin/elasticsearch" ] ||
    { rm -rf "$tmp"; die "unexpected zip layout (no elasticsearch-$ES_VERSION/bin/elasticsearch)"; }
  rm -rf "$ES_HOME"
  mv "$tmp/elasticsearch-$ES_VERSION" "$ES_HOME"
  rmdir "$tmp"
  echo "$want" >"$STAMP"
  # The install tree stays root-owned and world-readable: the server only reads it.
  chmod -R a+rX "$ES_HOME"
  if is_root; then chmod 755 "$ES_RUN_DIR"; fi
  log "Elasticsearch $ES_VERSION installed in $ES_HOME ($(elapsed))"
}

# Settings passed with -E, so the copied config stays pristine and every knob is visible here.
server_args() {
  local args=(
    -Ecluster.name=portal-dev
    -Enode.name=portal-es
    -Ediscovery.type=single-node             # no cluster formation, no bootstrap checks
    -Enetwork.host="$ES_HOST"                # loopback only (HTTP and transport)
    -Ehttp.port="$ES_PORT"
    -Etransport.port="$ES_TRANSPORT_PORT"
    -Epath.data="$STATE/data"
    -Epath.logs="$STATE/logs"
    # CI disks are often >90% full; the disk watermarks would then refuse to allocate
    # shards and health would never reach yellow. Irrelevant for a throwaway test node.
    -Ecluster.routing.allocation.disk.threshold_enabled=false
    # Let tests delete `portal_test_*` indices by wildcard.
    -Eaction.destructive_requires_name=false
  )
  # x-pack-security is in this zip and would demand TLS + passwords. Only pass the setting
  # when the module exists: an unknown setting makes Elasticsearch refuse to start.
  if [ -d "$ES_HOME/modules/x-pack-security" ]; then
    args+=(-Expack.security.enabled=false)
  fi
  printf '%s\n' "${args[@]}"
}

cmd_start() {
  cmd_install
  local pid java
  pid=$(running_pid "$PIDFILE" "$PID_PATTERN")
  if [ -n "$pid" ]; then
    log "already running (pid $pid)"
    wait_health "$pid" || die "running but not healthy; see $LOG"
    return 0
  fi
  if port_busy "$ES_PORT"; then
    die "127.0.0.1:$ES_PORT is already in use by another process (not ours: no live pidfile at $PIDFILE). Stop it or set ES_PORT."
  fi
  java=$(find_java)
  ensure_user

  # Per-version state: a private copy of config/ (the server writes a keystore there),
  # data, logs, tmp. Owned by the user that runs the server.
  mkdir -p "$STATE/data" "$STATE/logs" "$STATE/tmp"
  if [ ! -f "$STATE/config/elasticsearch.yml" ]; then
    rm -rf "$STATE/config"
    cp -R "$ES_HOME/config" "$STATE/config"
  fi
  : >"$STARTUP_LOG"   # truncated per start; also the marker for "log written by this start"
  if is_root; then chown -R "$ES_USER:$ES_USER" "$STATE"; fi

  local -a run_as=() env_vars args
  if is_root; then
    need_cmd setpriv
    # setpriv (util-linux) switches uid/gid without PAM or a login shell, so nothing from
    # root's environment or session leaks in.
    run_as=(setpriv --reuid="$ES_USER" --regid="$ES_USER" --init-groups --)
  fi
  # A clean environment: only what Elasticsearch reads.
  env_vars=(
    PATH=/usr/local/bin:/usr/bin:/bin
    HOME="$ES_RUN_DIR"
    LANG=C.UTF-8
    ES_JAVA_HOME="$java"
    ES_PATH_CONF="$STATE/config"
    ES_TMPDIR="$STATE/tmp"
    ES_JAVA_OPTS="-Xms$ES_HEAP -Xmx$ES_HEAP ${ES_EXTRA_JAVA_OPTS:-}"
  )
  mapfile -t args < <(server_args)

  log "starting Elasticsearch $ES_VERSION on http://$ES_HOST:$ES_PORT (java: $java, heap $ES_HEAP)"
  # -d daemonizes once the node has started; -p has the server write its pid. The working
  # directory is logs/ because jvm.options writes gc.log and hs_err files relative to it.
  if ! (cd "$STATE/logs" && "${run_as[@]}" env -i "${env_vars[@]}" \
        "$ES_HOME/bin/elasticsearch" -d -p "$PIDFILE" "${args[@]}" \
        >>"$STARTUP_LOG" 2>&1 </dev/null); then
    show_failure_logs
    die "elasticsearch failed to start"
  fi
  pid=$(running_pid "$PIDFILE" "$PID_PATTERN")
  [ -n "$pid" ] || { show_failure_logs; die "no live pid in $PIDFILE after start"; }
  if ! wait_health "$pid"; then
    show_failure_logs
    pid_matches "$pid" "$PID_PATTERN" || { rm -f "$PIDFILE"; die "Elasticsearch exited during start-up (logs above)"; }
    die "Elasticsearch did not become healthy within ${ES_START_TIMEOUT}s (pid $pid left running; run '$0 stop')"
  fi
  log "Elasticsearch $ES_VERSION ready (pid $pid, $(elapsed)); data in $STATE"
}

# The CLI's own output (JVM/option errors) plus the server log, but the server log only if
# this start attempt wrote to it — an old log from the last good run would mislead.
show_failure_logs() {
  show_log_tail "$STARTUP_LOG" 40
  if [ "$LOG" -nt "$STARTUP_LOG" ]; then show_log_tail "$LOG" 80; fi
}

wait_health() {
  # yellow, not green: a single node never allocates replicas.
  wait_http "http://$ES_HOST:$ES_PORT/_cluster/health?wait_for_status=yellow&timeout=2s" \
    "$ES_START_TIMEOUT" "$1" "$PID_PATTERN"
}

cmd_stop() {
  # SIGTERM makes Elasticsearch shut down cleanly (flush, close shards).
  stop_pid "$PIDFILE" "$PID_PATTERN" "Elasticsearch $ES_VERSION" 60
}

cmd_status() {
  local pid health
  pid=$(running_pid "$PIDFILE" "$PID_PATTERN")
  if [ -z "$pid" ]; then
    echo "elasticsearch: $ES_VERSION not running"
    exit 3
  fi
  if health=$(curl -fsS --max-time 5 "http://$ES_HOST:$ES_PORT/_cluster/health" 2>/dev/null); then
    echo "elasticsearch: $ES_VERSION running (pid $pid) on http://$ES_HOST:$ES_PORT $health"
  else
    echo "elasticsearch: $ES_VERSION process $pid alive but http://$ES_HOST:$ES_PORT not answering"
    exit 1
  fi
}

cmd_url() {
  # The form portal's PORTAL_SEARCH_URL / PORTAL_TEST_SEARCH_URL expects.
  echo "elasticsearch+http://$ES_HOST:$ES_PORT"
}

case "${1:-}" in
  install) cmd_install ;;
  start)   cmd_start ;;
  stop)    cmd_stop ;;
  status)  cmd_status ;;
  url)     cmd_url ;;
  *)       usage_and_exit "install|start|stop|status|url" ;;
esac
