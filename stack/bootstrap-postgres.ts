import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { scramVerifier } from '../activities/providers/postgres/scram.js';
import { migrate } from '../migrations/migrate.js';
import { VaultClient } from '../vault/vault-client.js';
import { KV_MOUNT } from './bootstrap-vault.js';
import type { PostgresServer } from './postgres-server.js';

export const ROTOR_DB = 'rotor';
export const DEMO_DB = 'demo';
/** Where the demo target's admin credential lives in Vault; providers read it from there. */
export const DEMO_ADMIN_PATH = '_rotor/admin/demo-postgres';

export interface PostgresBootstrap {
  databaseUrl: string;
  migrationsApplied: string[];
}

async function withClient<T>(server: PostgresServer, database: string, run: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    host: server.host,
    port: server.port,
    user: server.superuser,
    password: server.superuserPassword,
    database,
  });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

async function ensureDatabase(c: pg.Client, name: string): Promise<void> {
  const exists = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  if (exists.rowCount === 0) await c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
}

/**
 * rotor's own database (audit, freeze) with its migrations, and the demo target database with an
 * admin role whose password is stored only in Vault. Idempotent; a re-run rotates nothing.
 */
export async function bootstrapPostgres(server: PostgresServer, vaultAddress: string, rootToken: string): Promise<PostgresBootstrap> {
  const vault = new VaultClient(vaultAddress, rootToken);
  const appPasswordPath = '_rotor/admin/rotor-app';
  let appPassword = (await vault.kvRead<{ password: string }>(KV_MOUNT, appPasswordPath))?.data.password;
  let adminPassword = (await vault.kvRead<{ password: string }>(KV_MOUNT, DEMO_ADMIN_PATH))?.data.password;

  await withClient(server, 'postgres', async (c) => {
    if (!appPassword) {
      appPassword = randomBytes(24).toString('base64url');
      await vault.kvWrite(KV_MOUNT, appPasswordPath, { username: 'rotor_app', password: appPassword });
    }
    const app = await c.query("SELECT 1 FROM pg_roles WHERE rolname = 'rotor_app'");
    // A SCRAM verifier, never the password: statements reach the server log (log_statement, errors).
    await c.query(`${app.rowCount ? 'ALTER' : 'CREATE'} ROLE rotor_app LOGIN PASSWORD ${pg.escapeLiteral(scramVerifier(appPassword))}`);
    if (!adminPassword) {
      adminPassword = randomBytes(24).toString('base64url');
      // Vault learns the credential before the target does (invariant vault-learns-first, docs/invariants.md).
      await vault.kvWrite(KV_MOUNT, DEMO_ADMIN_PATH, {
        username: 'rotor_admin',
        password: adminPassword,
        host: server.host,
        port: String(server.port),
        database: DEMO_DB,
      });
    }
    const admin = await c.query("SELECT 1 FROM pg_roles WHERE rolname = 'rotor_admin'");
    await c.query(
      `${admin.rowCount ? 'ALTER' : 'CREATE'} ROLE rotor_admin LOGIN CREATEROLE PASSWORD ${pg.escapeLiteral(scramVerifier(adminPassword))}`,
    );
    await ensureDatabase(c, ROTOR_DB);
    await ensureDatabase(c, DEMO_DB);
    await c.query(`GRANT ALL ON DATABASE ${DEMO_DB} TO rotor_admin WITH GRANT OPTION`);
    // Only roles granted CONNECT may log in to the target, so a refused credential is observable.
    await c.query(`REVOKE CONNECT ON DATABASE ${DEMO_DB} FROM PUBLIC`);
  });
  const migrationsApplied = await withClient(server, ROTOR_DB, (c) => migrate(c));
  await withClient(server, DEMO_DB, async (c) => {
    await c.query('GRANT ALL ON SCHEMA public TO rotor_admin WITH GRANT OPTION');
  });
  const databaseUrl = `postgres://rotor_app:${encodeURIComponent(appPassword!)}@${server.host}:${server.port}/${ROTOR_DB}`;
  return { databaseUrl, migrationsApplied };
}
