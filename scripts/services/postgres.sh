#!/usr/bin/env bash
# PostgreSQL for tests and local development (DESIGN.md §6).
#
#   scripts/services/postgres.sh install   apt-get install postgresql if missing; configure
#   scripts/services/postgres.sh start     start the cluster on 127.0.0.1:5432 and make sure
#                                          role/databases/extensions exist
#   scripts/services/postgres.sh stop
#   scripts/services/postgres.sh status    exit 0 if accepting connections, 3 if not
#   scripts/services/postgres.sh url       print the SQLAlchemy URL for PORTAL_TEST_DATABASE_URL
#
# What `start` guarantees (idempotent, safe to re-run):
#   - role `portal` (password `portal`, LOGIN, CREATEDB — tests create `portal_test_*` DBs)
#   - database `portal_test` owned by `portal`
#   - extensions pg_trgm and unaccent in portal_test AND in template1, so every database a
#     test creates later (CREATE DATABASE copies template1) already has them.
#
# Uses the distribution's cluster (Debian `pg_ctlcluster <ver> main`), whichever major
# version is installed (15 on Debian 12). Needs root (or passwordless sudo) for
# install/start/stop; `url` does not.
set -euo pipefail

SERVICE=postgres
# shellcheck source=scripts/services/_common.sh
. "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

PG_HOST=127.0.0.1
PG_PORT=5432          # fixed: the cluster is the system one; tests assume this port
PG_CLUSTER=main
PG_ROLE=portal
PG_PASSWORD=portal
PG_DB=portal_test
PG_EXTENSIONS=(pg_trgm unaccent)

# Newest installed major version with a server binary (e.g. "15"), or nothing.
pg_version() {
  local d best=""
  for d in /usr/lib/postgresql/*/bin/postgres; do
    [ -x "$d" ] || continue
    d=${d#/usr/lib/postgresql/}; d=${d%%/*}
    if [ -z "$best" ] || [ "$d" -gt "$best" ] 2>/dev/null; then best=$d; fi
  done
  echo "$best"
}

# Run psql as the postgres superuser over the local socket (peer auth).
psql_super() {
  local db=$1 quiet='-c client_min_messages=warning'  # no "already exists, skipping" noise
  shift
  if is_root; then
    runuser -u postgres -- env PGOPTIONS="$quiet" psql -X -q -v ON_ERROR_STOP=1 -d "$db" "$@"
  else
    as_root -u postgres env PGOPTIONS="$quiet" psql -X -q -v ON_ERROR_STOP=1 -d "$db" "$@"
  fi
}

# psql_super wrapper for a single scalar query.
psql_value() {
  psql_super "$1" -At -c "$2"
}

cmd_install() {
  local ver
  ver=$(pg_version)
  if [ -z "$ver" ] || ! command -v pg_ctlcluster >/dev/null 2>&1; then
    log "PostgreSQL not installed; installing the Debian package (apt-get)"
    need_cmd apt-get
    # noninteractive: no debconf prompts in CI. `apt-get update` only on this path, so the
    # already-installed case stays fast and works offline.
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    # LANG/LC_ALL: the package's postinst runs initdb with the caller's locale; in a bare
    # container that is often "C" → a SQL_ASCII cluster that cannot store 伙伴 or كتاب.
    as_root env DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 LC_ALL=C.UTF-8 \
      apt-get install -y -q --no-install-recommends postgresql postgresql-contrib
    ver=$(pg_version)
    [ -n "$ver" ] || die "apt-get finished but no /usr/lib/postgresql/*/bin/postgres found"
  fi
  need_cmd pg_lsclusters pg_ctlcluster pg_createcluster pg_isready

  local ext
  for ext in "${PG_EXTENSIONS[@]}"; do
    [ -f "/usr/share/postgresql/$ver/extension/$ext.control" ] ||
      die "extension $ext missing (/usr/share/postgresql/$ver/extension/$ext.control); install postgresql-contrib"
  done

  # Some images install the package with create_main_cluster=false; make the cluster then.
  if ! pg_lsclusters -h 2>/dev/null | awk -v v="$ver" -v c="$PG_CLUSTER" '$1==v && $2==c {f=1} END {exit !f}'; then
    log "creating cluster $ver/$PG_CLUSTER"
    as_root pg_createcluster --port "$PG_PORT" --locale C.UTF-8 --encoding UTF8 \
      "$ver" "$PG_CLUSTER" >/dev/null
  fi

  # Loopback only, fixed port. Debian's postgresql.conf includes conf.d/, so a drop-in file
  # overrides the defaults without editing the packaged config.
  local confd="/etc/postgresql/$ver/$PG_CLUSTER/conf.d" conf want
  conf="$confd/portal.conf"
  want="# Managed by scripts/services/postgres.sh — loopback only, fixed port.
listen_addresses = '$PG_HOST'
port = $PG_PORT"
  if [ "$(as_root cat "$conf" 2>/dev/null || true)" != "$want" ]; then
    log "writing $conf"
    as_root mkdir -p "$confd"
    printf '%s\n' "$want" | as_root tee "$conf" >/dev/null
    as_root chmod 644 "$conf"
    # A running cluster must restart to pick up listen_addresses/port.
    if cluster_online "$ver"; then
      log "restarting cluster to apply listen_addresses/port"
      as_root pg_ctlcluster "$ver" "$PG_CLUSTER" restart
    fi
  fi

  # Debian's pg_hba.conf already has `host all all 127.0.0.1/32 scram-sha-256`; verify
  # rather than assume, since password login over TCP is what the URL relies on.
  local hba="/etc/postgresql/$ver/$PG_CLUSTER/pg_hba.conf"
  if ! as_root grep -Eq '^[[:space:]]*host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+(scram-sha-256|md5)' "$hba"; then
    log "adding a 127.0.0.1 password rule to $hba"
    printf '%s\n' "host    all    all    127.0.0.1/32    scram-sha-256  # scripts/services/postgres.sh" |
      as_root tee -a "$hba" >/dev/null
    cluster_online "$ver" && as_root pg_ctlcluster "$ver" "$PG_CLUSTER" reload
  fi
  log "PostgreSQL $ver installed and configured ($(elapsed))"
}

cluster_online() {
  pg_lsclusters -h 2>/dev/null |
    awk -v v="$1" -v c="$PG_CLUSTER" '$1==v && $2==c && $4 ~ /^online/ {f=1} END {exit !f}'
}

wait_ready() {
  local i
  for ((i = 0; i < 120; i++)); do
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT" && return 0
    sleep 0.5
  done
  return 1
}

provision() {
  # The portal stores Chinese and Arabic text; a non-UTF8 cluster would fail in odd places
  # later. Dropping a cluster destroys data, so say how to fix it instead of doing it.
  local enc
  enc=$(psql_value postgres "SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = 'template1'")
  [ "$enc" = UTF8 ] || die "cluster $(pg_version)/$PG_CLUSTER uses encoding $enc, not UTF8. Recreate it (DESTROYS its data):
  pg_dropcluster --stop $(pg_version) $PG_CLUSTER && pg_createcluster --locale C.UTF-8 --encoding UTF8 $(pg_version) $PG_CLUSTER"

  # Role: create or bring up to date (password, LOGIN, CREATEDB). The password is passed
  # as a psql variable and quoted with :'pw' so no shell/SQL quoting games.
  psql_super postgres -v role="$PG_ROLE" -v pw="$PG_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE %I', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN CREATEDB NOSUPERUSER PASSWORD %L', :'role', :'pw') \gexec
SQL
  # Extensions in template1 first, so portal_test (if created now) and every later
  # CREATE DATABASE inherit them. Created as superuser: pg_trgm/unaccent are trusted in
  # PG13+, but the superuser route also works on anything older.
  local ext
  for ext in "${PG_EXTENSIONS[@]}"; do
    psql_super template1 -c "CREATE EXTENSION IF NOT EXISTS $ext"
  done
  if [ "$(psql_value postgres "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" != 1 ]; then
    log "creating database $PG_DB"
    psql_super postgres -c "CREATE DATABASE $PG_DB OWNER $PG_ROLE ENCODING 'UTF8' TEMPLATE template1"
  fi
  for ext in "${PG_EXTENSIONS[@]}"; do
    psql_super "$PG_DB" -c "CREATE EXTENSION IF NOT EXISTS $ext"
  done
  # Prove the URL we print actually works (TCP + password auth + extensions).
  PGPASSWORD=$PG_PASSWORD PGCONNECT_TIMEOUT=5 psql -X -q -At -h "$PG_HOST" -p "$PG_PORT" \
    -U "$PG_ROLE" -d "$PG_DB" -v ON_ERROR_STOP=1 \
    -c "SELECT unaccent('Université') || ' ' || similarity('partner', 'partners')::text" >/dev/null ||
    die "could not log in as $PG_ROLE@$PG_HOST:$PG_PORT/$PG_DB with password auth"
}

cmd_start() {
  cmd_install
  local ver
  ver=$(pg_version)
  if cluster_online "$ver"; then
    log "cluster $ver/$PG_CLUSTER already running"
  else
    log "starting cluster $ver/$PG_CLUSTER"
    as_root pg_ctlcluster "$ver" "$PG_CLUSTER" start ||
      { show_log_tail "/var/log/postgresql/postgresql-$ver-$PG_CLUSTER.log" 40; die "pg_ctlcluster start failed"; }
  fi
  wait_ready || { show_log_tail "/var/log/postgresql/postgresql-$ver-$PG_CLUSTER.log" 40; die "PostgreSQL not accepting connections on $PG_HOST:$PG_PORT"; }
  provision
  log "PostgreSQL $ver ready on $PG_HOST:$PG_PORT, database $PG_DB ($(elapsed))"
}

cmd_stop() {
  local ver
  ver=$(pg_version)
  if [ -z "$ver" ]; then log "PostgreSQL not installed"; return 0; fi
  if cluster_online "$ver"; then
    # `fast` = roll back open transactions and disconnect clients instead of waiting for
    # them (a test run that was killed may leave idle connections behind).
    as_root pg_ctlcluster "$ver" "$PG_CLUSTER" stop -m fast
    log "cluster $ver/$PG_CLUSTER stopped ($(elapsed))"
  else
    log "cluster $ver/$PG_CLUSTER is not running"
  fi
}

cmd_status() {
  local ver
  ver=$(pg_version)
  if [ -z "$ver" ]; then echo "postgres: not installed"; exit 3; fi
  if pg_isready -q -h "$PG_HOST" -p "$PG_PORT"; then
    echo "postgres: $ver/$PG_CLUSTER running on $PG_HOST:$PG_PORT"
  else
    echo "postgres: $ver/$PG_CLUSTER not running"
    exit 3
  fi
}

cmd_url() {
  echo "postgresql+psycopg://$PG_ROLE:$PG_PASSWORD@$PG_HOST:$PG_PORT/$PG_DB"
}

case "${1:-}" in
  install) cmd_install ;;
  start)   cmd_start ;;
  stop)    cmd_stop ;;
  status)  cmd_status ;;
  url)     cmd_url ;;
  *)       usage_and_exit "install|start|stop|status|url" ;;
esac
