#!/bin/sh
# One-shot schema set-up for docker-compose.yml's `temporal-schema` service (temporalio/admin-tools).
#
# Creates Temporal's two PostgreSQL databases when missing and brings both schemas to the version
# this admin-tools image ships. Every step is idempotent, so the service runs on every
# `docker compose up`: after an upgrade of temporalio/admin-tools and temporalio/server (always
# the same version), it applies the new schema versions before the new server starts.
#
# Connection settings come from the environment, as temporal-sql-tool reads them: SQL_PLUGIN,
# SQL_HOST, SQL_PORT, SQL_USER and SQL_PASSWORD (the password never appears on a command line).
set -eu

: "${SQL_PLUGIN:?SQL_PLUGIN is not set (postgres12)}"
: "${SQL_HOST:?SQL_HOST is not set}"
: "${SQL_USER:?SQL_USER is not set}"
: "${SQL_PASSWORD:?SQL_PASSWORD is not set}"

# The versioned schema directories inside the admin-tools image.
SCHEMA_ROOT=/etc/temporal/schema/postgresql/v12

migrate() {
  database=$1
  versioned_dir=$2
  echo "temporal-schema: ${database}: create database (kept if it exists)"
  temporal-sql-tool --db "$database" create-database
  # Version tables only; a database already past 0.0 keeps its version.
  echo "temporal-schema: ${database}: schema version tables"
  temporal-sql-tool --db "$database" setup-schema -v 0.0
  echo "temporal-schema: ${database}: update to the newest version in ${versioned_dir}"
  temporal-sql-tool --db "$database" update-schema -d "$versioned_dir"
}

# The names the server's config template uses by default (DBNAME, VISIBILITY_DBNAME).
migrate temporal "$SCHEMA_ROOT/temporal/versioned"
migrate temporal_visibility "$SCHEMA_ROOT/visibility/versioned"
echo 'temporal-schema: done'
