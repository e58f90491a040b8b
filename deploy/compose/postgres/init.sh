#!/bin/sh
# First start of the compose PostgreSQL (docker-entrypoint-initdb.d; runs once, on an empty data volume): one role
# and one database per node that stores data, each role owning its own database only.
#
# Separate databases rather than one shared: each node migrates its own database at start (the same migration
# chain, migrations/postgres), so upgrading the HSS never puts a schema version the running S-CSCF does not know
# into the S-CSCF's database (a node refuses a newer schema: migrations.ErrSchemaNewer); each can be backed up,
# restored and moved to another server on its own. Replicas of one node share that node's database (the
# migration is serialised by an advisory lock).
set -eu
: "${IMSCORE_HSS_DB_PASSWORD:?set by docker-compose.yml}"
: "${IMSCORE_SCSCF_DB_PASSWORD:?set by docker-compose.yml}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v hss_pw="$IMSCORE_HSS_DB_PASSWORD" -v scscf_pw="$IMSCORE_SCSCF_DB_PASSWORD" <<'SQL'
CREATE ROLE hss LOGIN PASSWORD :'hss_pw';
CREATE DATABASE hss OWNER hss;
REVOKE ALL ON DATABASE hss FROM PUBLIC;
CREATE ROLE scscf LOGIN PASSWORD :'scscf_pw';
CREATE DATABASE scscf OWNER scscf;
REVOKE ALL ON DATABASE scscf FROM PUBLIC;
SQL
# PostgreSQL 15+: the public schema of a new database belongs to pg_database_owner, i.e. the role above, so the
# node can create its tables there.
