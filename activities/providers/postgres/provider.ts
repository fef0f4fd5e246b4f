import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { ActivityContext } from '../../activity-context.js';
import { readAdminCredential } from '../admin-credential.js';
import type { ProviderCaches } from '../provider-caches.js';
import {
  CredentialRejectedError,
  scrub,
  TargetUnavailableError,
  type BreakGlassTarget,
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
  type PostgresSsl,
} from './schema.js';
import { scramVerifier } from './scram.js';
import { connectFailure, connectTarget, TARGET_SESSION_LIMITS, targetConnectionConfig, type TargetEndpoint } from './target-connection.js';

// Break-glass imports it from here.
export { TARGET_SESSION_LIMITS };

/** PostgreSQL SQLSTATEs that mean "this credential is refused", as opposed to "cannot tell". */
const REFUSED = new Set(['28P01', '28000', '42501']);

/**
 * A statement PostgreSQL cancelled because it waited for `what` too long (lock_timeout 55P03,
 * statement_timeout or a cancel 57014), as a retryable error naming what was locked; otherwise undefined.
 */
export function lockWaitError(err: unknown, what: string): TargetUnavailableError | undefined {
  const code = (err as { code?: string }).code;
  if (code === '55P03')
    return new TargetUnavailableError(
      `${what} is locked by another session (waited ${TARGET_SESSION_LIMITS.lock_timeout / 1000} s, lock_timeout); retried`,
    );
  if (code === '57014')
    return new TargetUnavailableError(
      `a statement on ${what} was cancelled (statement_timeout ${TARGET_SESSION_LIMITS.statement_timeout / 1000} s, or an operator); retried`,
    );
  return undefined;
}

/** Where a secret's roles live: the admin credential (from Vault) and the database to grant CONNECT on. */
export interface PostgresTarget {
  admin: PostgresAdmin;
  database: string;
  /** provider.ssl: how sessions at the target are encrypted. */
  ssl?: PostgresSsl;
}

/** The admin credential of a PostgreSQL secret's target (cached briefly per worker), its database and TLS setting. */
export async function postgresTarget(ctx: ActivityContext, spec: PostgresSpec, secretId: string): Promise<PostgresTarget> {
  const admin = await readAdminCredential(ctx, postgresAdmin, spec.adminPath, secretId);
  return { admin, database: spec.database ?? admin.database, ...(spec.ssl ? { ssl: spec.ssl } : {}) };
}

/**
 * A session as the admin role outside a rotation (break-glass checks), configured as every target
 * session is (provider.ssl, session limits); the caller ends it. Failures name provider.ssl when TLS failed.
 */
export async function adminSession(caches: ProviderCaches, { admin, database, ssl }: PostgresTarget): Promise<pg.Client> {
  const endpoint: TargetEndpoint = { host: admin.host, port: Number(admin.port), database };
  try {
    return await connectTarget(await targetConnectionConfig(caches, endpoint, ssl, { user: admin.username, password: admin.password }));
  } catch (err) {
    throw new TargetUnavailableError(
      `cannot connect to PostgreSQL at ${admin.host}:${admin.port} as the admin role: ${scrub(connectFailure(err, endpoint, ssl), admin)}`,
    );
  }
}

/**
 * Admin connections are pooled per target, admin role and TLS setting: a SCRAM login (and a TLS
 * handshake) costs more than the statements it runs.
 */
function adminPool(caches: ProviderCaches, config: pg.ClientConfig, ssl: PostgresSsl | undefined, admin: PostgresAdmin): pg.Pool {
  const key = `postgres-admin|${admin.host}:${admin.port}/${config.database}/${admin.username}|${ssl?.mode ?? 'disable'}:${ssl?.caFile ?? ''}`;
  return caches.pooled(key, admin.password, () => {
    const pool = new pg.Pool({ ...config, max: 4, idleTimeoutMillis: 5_000, allowExitOnIdle: true });
    pool.on('error', () => undefined); // an idle connection dropped by the server; the next checkout reconnects
    // One lost while checked out emits 'error' on the client: its query fails anyway, the worker must not crash.
    pool.on('connect', (client) => client.on('error', () => undefined));
    return { pool, close: () => pool.end() };
  });
}

/**
 * What `active` can do in the current database and `standby` cannot: role memberships, database,
 * schema, table and sequence privileges (column privileges and row-level policies are left to
 * `provider.validationQuery`). At most 21 rows, each naming one privilege.
 */
const MISSING_PRIVILEGES = `
  WITH pair AS (SELECT $1::name AS active, $2::name AS standby),
  objects AS (
    SELECT c.oid, c.relkind, quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f', 'S') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
  )
  SELECT 'membership in role ' || quote_ident(r.rolname) AS missing
    FROM pg_roles r, pair
    WHERE r.oid IN (SELECT roleid FROM pg_auth_members) AND r.rolname NOT IN (pair.active, pair.standby)
      AND pg_has_role(pair.active, r.oid, 'USAGE') AND NOT pg_has_role(pair.standby, r.oid, 'USAGE')
  UNION ALL
  SELECT p || ' on database ' || quote_ident(current_database())
    FROM unnest(ARRAY['CONNECT', 'CREATE', 'TEMPORARY']) p, pair
    WHERE has_database_privilege(pair.active, current_database(), p) AND NOT has_database_privilege(pair.standby, current_database(), p)
  UNION ALL
  SELECT p || ' on schema ' || quote_ident(n.nspname)
    FROM pg_namespace n, unnest(ARRAY['USAGE', 'CREATE']) p, pair
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
      AND has_schema_privilege(pair.active, n.oid, p) AND NOT has_schema_privilege(pair.standby, n.oid, p)
  UNION ALL
  SELECT p || ' on ' || o.name
    FROM objects o, unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p, pair
    WHERE o.relkind <> 'S' AND has_table_privilege(pair.active, o.oid, p) AND NOT has_table_privilege(pair.standby, o.oid, p)
  UNION ALL
  SELECT p || ' on sequence ' || o.name
    FROM objects o, unnest(ARRAY['USAGE', 'SELECT', 'UPDATE']) p, pair
    WHERE o.relkind = 'S' AND has_sequence_privilege(pair.active, o.oid, p) AND NOT has_sequence_privilege(pair.standby, o.oid, p)
  ORDER BY 1 LIMIT 21`;

/**
 * Alternating users: the standby role gets the new password, so the old and the new credential
 * both log in during the overlap; revoking the old one removes its password. The standby can do
 * what the active role can: a role rotor creates becomes a member of the active role (or of
 * `grantRole`), and before each rotation the pre-check compares what the two can do.
 */
export function postgresProvider(
  spec: PostgresSpec,
  { admin, database, ssl }: PostgresTarget,
  caches: ProviderCaches,
): Provider<PostgresCredential, GeneratedCredential<PostgresCredential>> {
  const endpoint: TargetEndpoint = { host: admin.host, port: Number(admin.port), database };
  const where = `${admin.host}:${admin.port}`;
  /** Every session at the target: provider.ssl and the session limits (target-connection.ts). */
  const sessionAs = (user: string, password: string) => targetConnectionConfig(caches, endpoint, ssl, { user, password });

  async function asAdmin<T>(run: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await adminPool(caches, await sessionAs(admin.username, admin.password), ssl, admin).connect();
    } catch (err) {
      throw new TargetUnavailableError(
        `cannot connect to PostgreSQL at ${admin.host}:${admin.port} as the admin role: ${scrub(connectFailure(err, endpoint, ssl), admin)}`,
      );
    }
    let failed: Error | undefined;
    try {
      return await run(client);
    } catch (err) {
      failed = err as Error; // a connection that saw an error is not reused
      throw lockWaitError(err, `a row or lock rotor needs on ${where} (database "${database}")`) ?? err;
    } finally {
      client.release(failed);
    }
  }

  /** The user that gets the next credential when `username` holds the current one. */
  const standbyOf = (username: string) => (username === spec.users[0] ? spec.users[1] : spec.users[0]);
  const roleExists = async (c: pg.PoolClient, role: string) =>
    ((await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount ?? 0) > 0;

  async function tryLogin(credential: PostgresCredential): Promise<'ok' | 'refused'> {
    let client: pg.Client | undefined;
    try {
      client = await connectTarget(await sessionAs(credential.username, credential.password));
      await client.query('SELECT 1');
      return 'ok';
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code && REFUSED.has(code)) return 'refused';
      throw new TargetUnavailableError(
        `cannot reach PostgreSQL at ${admin.host}:${admin.port}: ${scrub(connectFailure(err, endpoint, ssl), credential)}`,
      );
    } finally {
      await client?.end().catch(() => undefined);
    }
  }

  /** Runs the inventory's validation query as `credential`: a privilege the application needs, proven before promotion. */
  async function validate(credential: PostgresCredential, query: string): Promise<void> {
    let client: pg.Client;
    try {
      client = await connectTarget(await sessionAs(credential.username, credential.password));
    } catch (err) {
      throw new TargetUnavailableError(
        `cannot reach PostgreSQL at ${admin.host}:${admin.port}: ${scrub(connectFailure(err, endpoint, ssl), credential)}`,
      );
    }
    try {
      await client.query(query);
    } catch (err) {
      // A query stuck behind another session's lock says nothing about the credential: retry it.
      const blocked = lockWaitError(err, `what provider.validationQuery reads on database "${database}"`);
      if (blocked) throw blocked;
      throw new CredentialRejectedError(
        `role "${credential.username}" logs in, but provider.validationQuery failed: ${scrub((err as Error).message, credential)}`,
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
        // The SCRAM verifier (4,096 PBKDF2 rounds) is computed before the serialising lock is taken.
        const verifier = pg.escapeLiteral(scramVerifier(credential.password));
        await asAdmin(async (c) => {
          // What each statement waits for, so a lock timeout names what was locked.
          let waitingFor = `rotor's create-role section on ${where} (advisory lock, database "${database}")`;
          const run = async (what: string, sql: string) => {
            waitingFor = what;
            await c.query(sql);
          };
          // Creating the role and granting CONNECT is one transaction, serialised across workers:
          // concurrent GRANTs on one database collide ("tuple concurrently updated"), and a retry
          // after a half-done creation would otherwise find a role that can never connect.
          await c.query('BEGIN');
          try {
            await c.query("SELECT pg_advisory_xact_lock(hashtext('rotor:postgres-provider:create-role'))");
            waitingFor = `the role row of "${credential.username}"`;
            if (!(await roleExists(c, credential.username))) {
              await run(`the role name "${credential.username}"`, `CREATE ROLE ${role} LOGIN`);
              await run(`the database row of "${database}"`, `GRANT CONNECT ON DATABASE ${pg.escapeIdentifier(database)} TO ${role}`);
              // What the old credential could do, the new one can (none yet when seeding the first user).
              const parent = spec.grantRole ?? standbyOf(credential.username);
              if (await roleExists(c, parent))
                await run(`the membership of "${credential.username}" in "${parent}"`, `GRANT ${pg.escapeIdentifier(parent)} TO ${role}`);
            }
            await run(`the role row of "${credential.username}"`, `ALTER ROLE ${role} WITH LOGIN PASSWORD ${verifier}`);
            await c.query('COMMIT');
          } catch (err) {
            await c.query('ROLLBACK').catch(() => undefined);
            const reason = lockWaitError(err, waitingFor)?.message ?? scrub((err as Error).message, credential);
            throw new TargetUnavailableError(`could not set the password of role "${credential.username}": ${reason}`);
          }
        });
      },
    },

    async precheck(current) {
      const active = current.username;
      const standby = standbyOf(active);
      await asAdmin(async (c) => {
        if (spec.grantRole && !(await roleExists(c, spec.grantRole))) {
          throw new CredentialRejectedError(
            `provider.grantRole: role "${spec.grantRole}" does not exist on ${admin.host}:${admin.port}; create it or remove grantRole`,
          );
        }
        if (!(await roleExists(c, standby))) return; // apply creates it as a member of the active role
        const missing = (await c.query<{ missing: string }>(MISSING_PRIVILEGES, [active, standby])).rows.map((r) => r.missing);
        if (missing.length) {
          const listed = missing.length > 20 ? `${missing.slice(0, 20).join(', ')}, …` : missing.join(', ');
          throw new CredentialRejectedError(
            `provider.users: role "${standby}" would get the new password but lacks what "${active}" can do on database "${database}": ${listed}. ` +
              `Grant it the same, or make it a member (GRANT ${active} TO ${standby}), ` +
              `or name a group role both belong to in provider.grantRole`,
          );
        }
      });
    },

    async test(credential) {
      if ((await tryLogin(credential)) === 'refused') {
        throw new CredentialRejectedError(`PostgreSQL refused role "${credential.username}" on database "${database}"`);
      }
      if (spec.validationQuery) await validate(credential, spec.validationQuery);
    },

    async revoke(credential, { terminateSessions }) {
      const role = pg.escapeIdentifier(credential.username);
      await asAdmin(async (c) => {
        const exists = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [credential.username]);
        if (exists.rowCount === 0) return;
        try {
          await c.query(`ALTER ROLE ${role} WITH PASSWORD NULL`);
        } catch (err) {
          const blocked = lockWaitError(err, `the role row of "${credential.username}"`);
          throw blocked ? new TargetUnavailableError(`could not revoke role "${credential.username}": ${blocked.message}`) : err;
        }
        if (terminateSessions) {
          await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [credential.username]);
        }
      });
    },

    async isRevoked(credential) {
      return (await tryLogin(credential)) === 'refused';
    },

    async activeSessions(credential, { clientName } = {}) {
      return asAdmin(async (c) => {
        const rows = await c.query<{ n: string }>(
          'SELECT count(*) AS n FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid() AND ($2::text IS NULL OR application_name = $2)',
          [credential.username, clientName ?? null],
        );
        return Number(rows.rows[0]?.n ?? 0);
      });
    },

    async close() {},
  };
}

/**
 * Break-glass roles from Vault's postgresql plugin: a login role with CONNECT on the target
 * database that expires with its lease; revoking it ends its sessions and drops it.
 */
async function postgresBreakGlass(ctx: ActivityContext, spec: PostgresSpec, secretId: string): Promise<BreakGlassTarget> {
  const target = await postgresTarget(ctx, spec, secretId);
  const { admin, database, ssl } = target;
  // Vault's own connection to the target: encrypted when the provider's sessions are (the CA
  // file is the worker's, so Vault checks the certificate against its host's trusted CAs).
  const sslmode = !ssl || ssl.mode === 'disable' ? 'disable' : ssl.mode === 'prefer' ? 'prefer' : 'require';
  return {
    connection: {
      plugin_name: 'postgresql-database-plugin',
      connection_url: `postgresql://{{username}}:{{password}}@${admin.host}:${admin.port}/${database}?sslmode=${sslmode}`,
      username: admin.username,
      password: admin.password,
      // Vault sends PostgreSQL a SCRAM verifier, never the password, in CREATE ROLE: a
      // statement log (log_statement = 'all') holds nothing that logs in.
      password_authentication: 'scram-sha-256',
    },
    creationStatements: [
      `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'`,
      `GRANT CONNECT ON DATABASE "${database}" TO "{{name}}"`,
    ],
    revocationStatements: [
      `REVOKE ALL ON DATABASE "${database}" FROM "{{name}}"`,
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{{name}}'`,
      `DROP ROLE IF EXISTS "{{name}}"`,
    ],
    endpoint: { host: admin.host, port: String(admin.port), database },
    async userExists(username) {
      // As every target session: provider.ssl, and no wait on another session's lock without end.
      const client = await adminSession(ctx.providerCaches, target);
      try {
        return ((await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [username])).rowCount ?? 0) > 0;
      } finally {
        await client.end();
      }
    },
  };
}

export const postgresDefinition: ProviderDefinition<'postgres'> = {
  inventory: postgresSpec,
  credential: postgresCredential,
  create: async (ctx, spec, secretId) => postgresProvider(spec, await postgresTarget(ctx, spec, secretId), ctx.providerCaches),
  breakGlass: postgresBreakGlass,
};
