import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { ActivityContext } from '../../activity-context.js';
import { readAdminCredential } from '../admin-credential.js';
import type { ProviderCaches } from '../provider-caches.js';
import {
  CredentialRejectedError,
  scrub,
  TargetUnavailableError,
  type GeneratedCredential,
  type Provider,
  type ProviderDefinition,
} from '../provider.js';
import {
  postgresAdmin,
  postgresCredential,
  postgresSpec,
  type PostgresAdmin,
  type PostgresCredential,
  type PostgresSpec,
} from './schema.js';
import { scramVerifier } from './scram.js';

/** PostgreSQL SQLSTATEs that mean "this credential is refused", as opposed to "cannot tell". */
const REFUSED = new Set(['28P01', '28000', '42501']);

/** Where a secret's roles live: the admin credential (from Vault) and the database to grant CONNECT on. */
export interface PostgresTarget {
  admin: PostgresAdmin;
  database: string;
}

/** The admin credential of a PostgreSQL secret's target (cached briefly per worker) and its database. */
export async function postgresTarget(ctx: ActivityContext, spec: PostgresSpec, secretId: string): Promise<PostgresTarget> {
  const admin = await readAdminCredential(ctx, postgresAdmin, spec.adminPath, secretId);
  return { admin, database: spec.database ?? admin.database };
}

/** Admin connections are pooled per target and admin role: a SCRAM login costs more than the statements it runs. */
function adminPool(caches: ProviderCaches, target: { host: string; port: number; database: string }, admin: PostgresAdmin): pg.Pool {
  return caches.pooled(`postgres-admin|${target.host}:${target.port}/${target.database}/${admin.username}`, admin.password, () => {
    const pool = new pg.Pool({
      ...target,
      user: admin.username,
      password: admin.password,
      max: 4,
      idleTimeoutMillis: 5_000,
      allowExitOnIdle: true,
    });
    pool.on('error', () => undefined); // an idle connection dropped by the server; the next checkout reconnects
    return { pool, close: () => pool.end() };
  });
}

/**
 * Alternating users: the standby role gets the new password, so the old and the new credential
 * both log in during the overlap; revoking the old one removes its password.
 */
export function postgresProvider(
  spec: PostgresSpec,
  { admin, database }: PostgresTarget,
  caches: ProviderCaches,
): Provider<PostgresCredential, GeneratedCredential<PostgresCredential>> {
  const target = { host: admin.host, port: Number(admin.port), database, connectionTimeoutMillis: 5000 };

  async function asAdmin<T>(run: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await adminPool(caches, target, admin).connect();
    } catch (err) {
      throw new TargetUnavailableError(
        `cannot connect to PostgreSQL at ${admin.host}:${admin.port} as the admin role: ${scrub((err as Error).message, admin)}`,
      );
    }
    let failed: Error | undefined;
    try {
      return await run(client);
    } catch (err) {
      failed = err as Error; // a connection that saw an error is not reused
      throw err;
    } finally {
      client.release(failed);
    }
  }

  async function tryLogin(credential: PostgresCredential): Promise<'ok' | 'refused'> {
    const client = new pg.Client({ ...target, user: credential.username, password: credential.password });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return 'ok';
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code && REFUSED.has(code)) return 'refused';
      throw new TargetUnavailableError(
        `cannot reach PostgreSQL at ${admin.host}:${admin.port}: ${scrub((err as Error).message, credential)}`,
      );
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  return {
    principal: (credential) => `postgres-role:${credential.username}`,

    source: {
      kind: 'generate',

      async generate(current) {
        const [first, second] = spec.users;
        const username = current?.username === first ? second : first;
        return { username, password: randomBytes(24).toString('base64url'), host: admin.host, port: admin.port, database };
      },

      async apply(credential) {
        const role = pg.escapeIdentifier(credential.username);
        await asAdmin(async (c) => {
          // Creating the role and granting CONNECT is one transaction, serialised across workers:
          // concurrent GRANTs on one database collide ("tuple concurrently updated"), and a retry
          // after a half-done creation would otherwise find a role that can never connect.
          await c.query('BEGIN');
          try {
            await c.query("SELECT pg_advisory_xact_lock(hashtext('rotor:postgres-provider:create-role'))");
            const exists = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [credential.username]);
            if (exists.rowCount === 0) {
              await c.query(`CREATE ROLE ${role} LOGIN`);
              await c.query(`GRANT CONNECT ON DATABASE ${pg.escapeIdentifier(database)} TO ${role}`);
            }
            await c.query(`ALTER ROLE ${role} WITH LOGIN PASSWORD ${pg.escapeLiteral(scramVerifier(credential.password))}`);
            await c.query('COMMIT');
          } catch (err) {
            await c.query('ROLLBACK').catch(() => undefined);
            throw new TargetUnavailableError(
              `could not set the password of role "${credential.username}": ${scrub((err as Error).message, credential)}`,
            );
          }
        });
      },
    },

    async test(credential) {
      if ((await tryLogin(credential)) === 'refused') {
        throw new CredentialRejectedError(`PostgreSQL refused role "${credential.username}" on database "${database}"`);
      }
    },

    async revoke(credential, { terminateSessions }) {
      const role = pg.escapeIdentifier(credential.username);
      await asAdmin(async (c) => {
        const exists = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [credential.username]);
        if (exists.rowCount === 0) return;
        await c.query(`ALTER ROLE ${role} WITH PASSWORD NULL`);
        if (terminateSessions) {
          await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [credential.username]);
        }
      });
    },

    async isRevoked(credential) {
      return (await tryLogin(credential)) === 'refused';
    },

    async activeSessions(credential) {
      return asAdmin(async (c) => {
        const rows = await c.query<{ n: string }>(
          'SELECT count(*) AS n FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()',
          [credential.username],
        );
        return Number(rows.rows[0]?.n ?? 0);
      });
    },

    async close() {},
  };
}

export const postgresDefinition: ProviderDefinition<'postgres'> = {
  inventory: postgresSpec,
  credential: postgresCredential,
  create: async (ctx, spec, secretId) => postgresProvider(spec, await postgresTarget(ctx, spec, secretId), ctx.providerCaches),
};
