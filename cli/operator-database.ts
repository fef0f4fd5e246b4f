import pg from 'pg';
import { readAuditAnchor } from '../activities/audit/audit-anchor.js';
import { AUDITOR_DB_ROLE } from '../vault/policies/operator-policy.js';
import type { VaultClient } from '../vault/vault-client.js';
import { CliError } from './cli-error.js';
import { operatorVaultError } from './operator-session.js';

/**
 * Where the CLI finds rotor's audit database. ROTOR_AUDIT_DATABASE is `host:port/dbname`, with
 * `?sslmode=disable|require|verify-full` (default: disable on the loopback, verify-full, TLS with the
 * certificate checked against the system's CAs, anywhere else); never a user or password: the
 * login comes from Vault. Unset: the location the workers record in the audit anchor (the log they anchor), which
 * is right wherever the CLI reaches the database by the same name as the workers do.
 */
export interface AuditDatabaseSettings {
  ROTOR_AUDIT_DATABASE?: string;
  ROTOR_VAULT_KV_MOUNT: string;
}

export interface DatabaseLocation {
  host: string;
  port: number;
  database: string;
  sslmode: 'disable' | 'require' | 'verify-full';
}

const LOCATION = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})\/([^/?@\s]+)(?:\?sslmode=(disable|require|verify-full))?$/;

/** Parses `host:port/dbname[?sslmode=…]`; `source` names where it came from in the error. */
export function parseDatabaseLocation(text: string, source = 'ROTOR_AUDIT_DATABASE'): DatabaseLocation {
  const match = LOCATION.exec(text.trim());
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535)
    throw new CliError(
      `${source} must be host:port/dbname (optionally ?sslmode=require or verify-full), without user or password`,
      "set it to where rotor's database is, e.g. ROTOR_AUDIT_DATABASE=db.internal:5432/rotor",
    );
  const host = match[1]!.replace(/^\[(.*)\]$/, '$1');
  // The auditor login is a password: beyond the loopback it travels over verified TLS unless told otherwise.
  const loopback = /^(127\.\d+\.\d+\.\d+|localhost|::1)$/.test(host);
  return {
    host,
    port,
    database: match[3]!,
    sslmode: (match[4] as DatabaseLocation['sslmode'] | undefined) ?? (loopback ? 'disable' : 'verify-full'),
  };
}

/** ROTOR_AUDIT_DATABASE, else where the workers' anchor says the anchored log is. */
export async function auditDatabaseLocation(vault: VaultClient, env: AuditDatabaseSettings): Promise<DatabaseLocation> {
  if (env.ROTOR_AUDIT_DATABASE) return parseDatabaseLocation(env.ROTOR_AUDIT_DATABASE);
  let recorded: string | undefined;
  try {
    recorded = (await readAuditAnchor(vault, env.ROTOR_VAULT_KV_MOUNT)).anchor?.database;
  } catch (err) {
    throw operatorVaultError(err, 'reading the audit anchor (to find the audit database)');
  }
  if (!recorded)
    throw new CliError(
      'ROTOR_AUDIT_DATABASE is not set, and no worker has recorded where the audit log is yet',
      "set ROTOR_AUDIT_DATABASE=host:port/dbname (rotor's database), or start a worker and try again",
    );
  return parseDatabaseLocation(recorded, 'the database recorded in the audit anchor');
}

/**
 * A pool on rotor's database with a short-lived, read-only login that Vault's database engine
 * creates for the operator (`database/creds/rotor-auditor`: SELECT on audit_log and
 * incident_freeze, nothing else; it expires by itself). The operator's own token asks for it, so
 * the audit trail in Vault names the person. End the pool when done.
 */
export async function operatorDatabasePool(vault: VaultClient, env: AuditDatabaseSettings): Promise<pg.Pool> {
  const location = await auditDatabaseLocation(vault, env);
  let login: { username: string; password: string };
  try {
    login = (await vault.request<{ data: { username: string; password: string } }>('GET', `database/creds/${AUDITOR_DB_ROLE}`)).data;
  } catch (err) {
    throw operatorVaultError(err, `issuing a read-only audit login (database/creds/${AUDITOR_DB_ROLE})`);
  }
  const pool = new pg.Pool({
    host: location.host,
    port: location.port,
    database: location.database,
    user: login.username,
    password: login.password,
    ssl: location.sslmode === 'disable' ? false : { rejectUnauthorized: location.sslmode === 'verify-full' },
    max: 1,
    connectionTimeoutMillis: 10_000,
  });
  // A connection lost while idle must not crash the CLI; the query that needed it fails instead.
  pool.on('error', () => undefined);
  return pool;
}
