#!/bin/sh
# Compose's database bootstrap (the postgres image runs /docker-entrypoint-initdb.d/ once,
# on an empty volume): pg_stat_statements in the service database and in `postgres`, and
# the least-privilege `taskhub_monitor` role postgres-exporter reads them with. Natively
# the same is done by infra/native/src/taskhub_stack/postgres.py (monitoring_sql).
set -eu

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v monitor_password="$MONITOR_DB_PASSWORD" <<'SQL'
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
CREATE ROLE taskhub_monitor LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE
  PASSWORD :'monitor_password';
GRANT pg_monitor TO taskhub_monitor;
SQL

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -c 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements;'
