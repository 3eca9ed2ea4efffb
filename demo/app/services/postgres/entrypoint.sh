#!/bin/sh
# First start: create the cluster, the application role and its database. Every start: run the
# server in the foreground as PID 1 so SIGINT (compose stop_signal) means a fast, clean shutdown.
set -eu
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
: "${POSTGRES_USER:=saas}"
: "${POSTGRES_DB:=saas_db}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    echo "postgres-entrypoint: initialising a new cluster in $PGDATA"
    initdb --pgdata="$PGDATA" --username=postgres --encoding=UTF8 --locale=C.UTF-8 \
        --auth-local=peer --auth-host=scram-sha-256 >/dev/null
    # Socket only while setting up, so the healthcheck (TCP) cannot pass before the role exists.
    pg_ctl --pgdata="$PGDATA" --options="-c listen_addresses=''" --wait --silent start
    # \getenv keeps the password out of any command line.
    psql --quiet --no-psqlrc --set=ON_ERROR_STOP=1 --username=postgres --dbname=postgres \
        --set=app_user="$POSTGRES_USER" --set=app_db="$POSTGRES_DB" <<'SQL'
\getenv app_password POSTGRES_PASSWORD
CREATE ROLE :"app_user" LOGIN PASSWORD :'app_password';
CREATE DATABASE :"app_db" OWNER :"app_user";
SQL
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    pg_ctl --pgdata="$PGDATA" --mode=fast --wait --silent stop
    echo "postgres-entrypoint: created role $POSTGRES_USER and database $POSTGRES_DB"
fi

exec postgres -D "$PGDATA" -c listen_addresses='*'
