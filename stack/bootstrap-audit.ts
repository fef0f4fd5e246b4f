import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { scramVerifier } from '../activities/providers/postgres/scram.js';
import { AUDIT_TRANSIT_KEY, AUDITOR_DB_ROLE } from '../vault/policies/operator-policy.js';
import { VaultClient } from '../vault/vault-client.js';
import { VaultRequestError } from '../vault/vault-error.js';
import { ROTOR_DB } from './bootstrap-postgres.js';
import type { PostgresServer } from './postgres-server.js';

/**
 * The database-engine connection to rotor's own database. Not `rotor-*`: those names are the
 * break-glass connections the worker may (re)configure, and the worker must not be able to point
 * the auditor at another database.
 */
export const AUDIT_DB_CONNECTION = 'audit-log';
/** The PostgreSQL role Vault logs in as to create and drop auditor logins; its password is known to Vault only. */
export const AUDIT_DB_ADMIN = 'rotor_audit_admin';
/** How long an auditor login lives: long enough to verify a large log, short enough to be no standing access. */
const AUDITOR_TTL = '15m';
const AUDITOR_MAX_TTL = '1h';

const READABLE = 'public.audit_log, public.incident_freeze, public.notification_outbox';

export interface AuditBootstrap {
  /** Where rotor's audit log is, `host:port/dbname` (ROTOR_AUDIT_DATABASE for the CLI). */
  auditDatabase: string;
}

/**
 * What `rotor audit verify` and the workers' keyed audit rows need, idempotently:
 * - the `transit` mount and key `rotor-audit` (type hmac: it can MAC and verify, nothing else, and
 *   is not exportable);
 * - a PostgreSQL role that may grant SELECT on the audit log and the incident freeze and create
 *   logins, and a database-engine connection that uses it, whose password is then rotated so that
 *   only Vault knows it;
 * - the database role `rotor-auditor`: a login that expires, with SELECT on those two tables only.
 * Run after rotor's database is migrated. Passwords reach PostgreSQL only as SCRAM verifiers
 * (`password_authentication`), so no statement log holds one.
 */
export async function bootstrapAudit(server: PostgresServer, vaultAddress: string, rootToken: string): Promise<AuditBootstrap> {
  const vault = new VaultClient(vaultAddress, rootToken);
  const mounts = await vault.mounts();
  if (!mounts['transit/']) await vault.enableEngine('transit', 'transit');
  if (!mounts['database/']) await vault.enableEngine('database', 'database');
  try {
    await vault.request('GET', `transit/keys/${AUDIT_TRANSIT_KEY}`);
  } catch (err) {
    if (!(err instanceof VaultRequestError && err.status === 404)) throw err;
    await vault.request('POST', `transit/keys/${AUDIT_TRANSIT_KEY}`, { type: 'hmac', key_size: 32 });
  }

  // A fresh password each run: Vault rotates it away below, so no earlier one is known to anyone.
  const password = randomBytes(24).toString('base64url');
  const client = new pg.Client({
    host: server.host,
    port: server.port,
    user: server.superuser,
    password: server.superuserPassword,
    database: ROTOR_DB,
  });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [AUDIT_DB_ADMIN]);
    await client.query(
      `${exists.rowCount ? 'ALTER' : 'CREATE'} ROLE ${AUDIT_DB_ADMIN} LOGIN CREATEROLE PASSWORD ${pg.escapeLiteral(scramVerifier(password))}`,
    );
    await client.query(`GRANT CONNECT ON DATABASE ${pg.escapeIdentifier(ROTOR_DB)} TO ${AUDIT_DB_ADMIN} WITH GRANT OPTION`);
    await client.query(`GRANT SELECT ON ${READABLE} TO ${AUDIT_DB_ADMIN} WITH GRANT OPTION`);
  } finally {
    await client.end();
  }

  await vault.request('POST', `database/config/${AUDIT_DB_CONNECTION}`, {
    plugin_name: 'postgresql-database-plugin',
    // prefer: TLS when the cluster offers it (stack/postgres-server.ts), plaintext on localhost otherwise.
    connection_url: `postgresql://{{username}}:{{password}}@${server.host}:${server.port}/${ROTOR_DB}?sslmode=prefer`,
    username: AUDIT_DB_ADMIN,
    password,
    allowed_roles: [AUDITOR_DB_ROLE],
    verify_connection: true,
    password_authentication: 'scram-sha-256',
  });
  await vault.request('POST', `database/rotate-root/${AUDIT_DB_CONNECTION}`, {});
  await vault.request('POST', `database/roles/${AUDITOR_DB_ROLE}`, {
    db_name: AUDIT_DB_CONNECTION,
    default_ttl: AUDITOR_TTL,
    max_ttl: AUDITOR_MAX_TTL,
    creation_statements: [
      `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'`,
      `GRANT CONNECT ON DATABASE "${ROTOR_DB}" TO "{{name}}"`,
      `GRANT SELECT ON ${READABLE} TO "{{name}}"`,
    ],
    // Privileges first: a role that still holds one cannot be dropped.
    revocation_statements: [
      `REVOKE SELECT ON ${READABLE} FROM "{{name}}"`,
      `REVOKE CONNECT ON DATABASE "${ROTOR_DB}" FROM "{{name}}"`,
      `DROP ROLE IF EXISTS "{{name}}"`,
    ],
  });
  return { auditDatabase: `${server.host}:${server.port}/${ROTOR_DB}` };
}
