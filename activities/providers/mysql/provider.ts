import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type mysql from 'mysql2/promise';
import type { ActivityContext } from '../../activity-context.js';
import { readAdminCredential } from '../admin-credential.js';
import type { ProviderCaches } from '../provider-caches.js';
import {
  CredentialRejectedError,
  scrub,
  TargetUnavailableError,
  type BreakGlassTarget,
  type Credential,
  type GeneratedCredential,
  type Provider,
  type ProviderDefinition,
} from '../provider.js';
import {
  account,
  copyGrantStatements,
  identifier,
  literal,
  missingGrants,
  readGrants,
  standbyShortfall,
  type Privilege,
  type StandbyGrants,
} from './grants.js';
import { mysqlAdmin, mysqlCredential, mysqlSpec, type MysqlAdmin, type MysqlCredential, type MysqlSpec, type MysqlTls } from './schema.js';
import {
  adminPool,
  connectFailure,
  connectTarget,
  lockWaitError,
  nativePasswordHash,
  REFUSED_ERRNOS,
  TARGET_SESSION_LIMITS,
  targetConnectionOptions,
  verifyPeerName,
  type TargetEndpoint,
} from './target-connection.js';

/** Serialises user creation across workers: two creations copying grants at once would interleave. */
const CREATE_USER_LOCK = 'rotor:mysql-provider:create-user';

/** Error numbers of statements the admin user lacks a privilege for: retrying does not help. */
const ADMIN_DENIED_ERRNOS = new Set([1044, 1142, 1143, 1227, 1410]);

/** Where a secret's users live: the admin credential (from Vault) and the TLS setting of rotor's sessions. */
export interface MysqlTarget {
  admin: MysqlAdmin;
  endpoint: TargetEndpoint;
  tls?: MysqlTls;
}

/** The admin credential of a MySQL secret's target (cached briefly per worker) and its TLS setting. */
export async function mysqlTarget(ctx: ActivityContext, spec: MysqlSpec, secretId: string): Promise<MysqlTarget> {
  const admin = await readAdminCredential(ctx, mysqlAdmin, spec.adminPath, secretId);
  return { admin, endpoint: { host: admin.host, port: Number(admin.port) }, ...(spec.tls ? { tls: spec.tls } : {}) };
}

/** Runs `run` on a pooled admin session (session limits set); a session that saw an error is not reused. */
async function withAdmin<T>(caches: ProviderCaches, { admin, endpoint, tls }: MysqlTarget, run: (c: mysql.PoolConnection) => Promise<T>) {
  let conn: mysql.PoolConnection;
  try {
    const options = await targetConnectionOptions(endpoint, tls, { user: admin.username, password: admin.password });
    conn = await adminPool(caches, options, tls, admin).getConnection();
    verifyPeerName(conn, endpoint, tls);
  } catch (err) {
    throw new TargetUnavailableError(
      `cannot connect to MySQL at ${admin.host}:${admin.port} as the admin user (provider.adminPath): ${scrub(connectFailure(err, endpoint, tls), { password: admin.password })}`,
    );
  }
  let failed = false;
  try {
    return await run(conn);
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    if (failed) conn.destroy();
    else conn.release();
  }
}

/** True for MariaDB (its role and KILL syntax differ from MySQL's), remembered per target. */
function isMariadb(caches: ProviderCaches, target: MysqlTarget, c: mysql.PoolConnection): Promise<boolean> {
  return caches.remembered(`mysql-flavor|${target.admin.host}:${target.admin.port}`, 3_600_000, async () => {
    const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT VERSION() AS v');
    return /mariadb/i.test(String(rows[0]?.v ?? ''));
  });
}

const errnoOf = (err: unknown) => (err as { errno?: number }).errno;

/** What a user lacks, for an error message (the first 20). */
const listed = (missing: string[]) => (missing.length > 20 ? `${missing.slice(0, 20).join('; ')}; …` : missing.join('; '));

/** ER_PLUGIN_IS_NOT_LOADED: MySQL 8.4 loads mysql_native_password only when told, 9.0 has none. */
const PLUGIN_NOT_LOADED = 1524;

/**
 * Kills every connection of `username` but the caller's own and returns how many are still
 * listed after waiting briefly for them to end (0: none left). KILL only marks a thread; it leaves
 * the list when it notices, so a thread still listed (even as `Killed`) counts.
 *
 * Matched by user name only: PROCESSLIST's USER has no account host, so two accounts of one name
 * (`app`@`10.%`, `app`@`%`) are both counted and both killed. rotor's accounts share one
 * `provider.accountHost` and break-glass names are unique, so this errs on the side of ending more.
 */
export async function endConnections(c: mysql.Connection, username: string): Promise<number> {
  const list = async () =>
    (
      await c.query<mysql.RowDataPacket[]>('SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ? AND ID <> CONNECTION_ID()', [
        username,
      ])
    )[0].map((t) => Number(t.ID));
  let threads = await list();
  for (let attempt = 0; threads.length > 0 && attempt < 10; attempt++) {
    for (const id of threads) {
      await c.query(`KILL CONNECTION ${id}`).catch((err: unknown) => {
        if (errnoOf(err) !== 1094) throw err; // 1094: the connection ended meanwhile
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    threads = await list();
  }
  return threads.length;
}

/**
 * Alternating users: the standby account gets the new password, so the old and the new
 * credential both log in during the overlap; revoking the old one locks it and replaces its
 * password with one nobody knows. The standby can do what the active user can: a user rotor
 * creates gets a copy of the active user's grants (or `grantRole` as its default role), and before
 * each rotation the pre-check compares what the two can do.
 */
export function mysqlProvider(
  spec: MysqlSpec,
  target: MysqlTarget,
  caches: ProviderCaches,
): Provider<MysqlCredential, GeneratedCredential<MysqlCredential>> {
  const { admin, endpoint } = target;
  const where = `${admin.host}:${admin.port}`;
  const host = spec.accountHost;
  /** TLS of logins as the rotated users: REQUIRE SSL users need it even when rotor's own sessions are plaintext. */
  const userTls: MysqlTls | undefined = spec.tls ?? (spec.requireSsl ? { mode: 'require' } : undefined);
  const standbyOf = (username: string) => (username === spec.users[0] ? spec.users[1] : spec.users[0]);
  /**
   * A message without the credential's password nor its hash (the hash is in statements rotor
   * sends); user names and hosts stay, they say what failed.
   */
  const clean = (message: string, credential?: Credential) =>
    credential?.password ? scrub(message, { password: credential.password, hash: nativePasswordHash(credential.password) }) : message;

  const asAdmin = <T>(run: (c: mysql.PoolConnection) => Promise<T>) => withAdmin(caches, target, run);

  const userExists = async (c: mysql.PoolConnection, name: string) =>
    (await c.query<mysql.RowDataPacket[]>('SELECT 1 FROM mysql.user WHERE User = ? AND Host = ?', [name, host]))[0].length > 0;

  async function showGrants(c: mysql.PoolConnection, grantee: string): Promise<string[]> {
    const [rows] = await c.query<mysql.RowDataPacket[]>(`SHOW GRANTS FOR ${grantee}`);
    return rows.map((r) => String(Object.values(r)[0]));
  }

  /**
   * The default roles MySQL 8 keeps in `mysql.default_roles` (its SHOW GRANTS leaves them out);
   * none on MariaDB, whose SHOW GRANTS prints them as `SET DEFAULT ROLE`, nor on a server without the table.
   */
  async function tableDefaultRoles(c: mysql.PoolConnection, name: string): Promise<string[]> {
    if (await isMariadb(caches, target, c)) return [];
    try {
      const [rows] = await c.query<mysql.RowDataPacket[]>(
        'SELECT DEFAULT_ROLE_USER AS r FROM mysql.default_roles WHERE USER = ? AND HOST = ?',
        [name, host],
      );
      return rows.map((r) => String(r.r));
    } catch (err) {
      if (errnoOf(err) === 1146) return []; // no such table: MySQL before 8.0
      throw err;
    }
  }

  /**
   * What `name` can do at login: its own privileges and those of its default roles (and their
   * roles), the roles it may SET and its default roles. A SHOW GRANTS line rotor cannot read
   * throws CredentialRejectedError (readGrants).
   */
  async function effectiveGrants(c: mysql.PoolConnection, name: string): Promise<StandbyGrants> {
    const grantee = account(name, host);
    const own = readGrants(await showGrants(c, grantee), grantee);
    const defaultRoles = [...new Set([...own.defaultRoles, ...(await tableDefaultRoles(c, name))])];
    const privileges: Privilege[] = [...own.privileges];
    const seen = new Set<string>();
    const queue = [...defaultRoles];
    while (queue.length) {
      const role = queue.shift()!;
      if (seen.has(role)) continue;
      seen.add(role);
      const grants = readGrants(await showGrants(c, identifier(role)), identifier(role));
      privileges.push(...grants.privileges);
      queue.push(...grants.roles);
    }
    return { privileges, roles: own.roles, defaultRoles };
  }

  /** True when the account is locked (created by an `apply` not yet finished, or revoked). */
  async function accountLocked(c: mysql.PoolConnection, name: string): Promise<boolean> {
    const [rows] = await c.query<mysql.RowDataPacket[]>(`SHOW CREATE USER ${account(name, host)}`);
    // Quoted parts (names, the password hash) removed: only the statement's own keywords count.
    const statement = String(Object.values(rows[0] ?? {})[0] ?? '').replace(/'(?:[^'\\]|\\.)*'|`(?:[^`]|``)*`/g, "''");
    return /\bACCOUNT LOCK\b/.test(statement);
  }

  /** What keeps `name` from being unlocked as the standby: see standbyShortfall (compared with the other user when it exists). */
  async function shortfallOf(c: mysql.PoolConnection, name: string): Promise<string[]> {
    const source = standbyOf(name);
    const active = (await userExists(c, source)) ? await effectiveGrants(c, source) : undefined;
    return standbyShortfall(await effectiveGrants(c, name), active, spec.grantRole);
  }

  /**
   * Gives a user rotor creates what the other user can do (or `grantRole`). Every statement is
   * idempotent: run again on a user whose creation was cut short half-way, it finishes it.
   */
  async function giveGrants(c: mysql.PoolConnection, name: string): Promise<void> {
    const to = account(name, host);
    const mariadb = await isMariadb(caches, target, c);
    if (spec.grantRole) {
      await c.query(`GRANT ${identifier(spec.grantRole)} TO ${to}`);
      // A role's privileges count at login only as the default role.
      await c.query(
        mariadb ? `SET DEFAULT ROLE ${identifier(spec.grantRole)} FOR ${to}` : `SET DEFAULT ROLE ${identifier(spec.grantRole)} TO ${to}`,
      );
      return;
    }
    const source = standbyOf(name);
    if (!(await userExists(c, source))) return; // seeding the first user: nothing to copy yet
    let statements: string[];
    try {
      const lines = await showGrants(c, account(source, host));
      statements = copyGrantStatements(lines, to, { mysql: !mariadb, defaultRoles: await tableDefaultRoles(c, source) });
    } catch (err) {
      if (lockWaitError(err, '') || errnoOf(err) !== undefined) throw err;
      throw new CredentialRejectedError(
        `provider.users: cannot copy the grants of ${account(source, host)} to ${to}: ${(err as Error).message}; ` +
          'grant them to it by hand, or name a role both users get in provider.grantRole',
      );
    }
    for (const statement of statements) await c.query(statement);
  }

  async function tryLogin(credential: MysqlCredential, database?: string): Promise<'ok' | 'refused'> {
    let conn: mysql.Connection | undefined;
    try {
      conn = await connectTarget(endpoint, userTls, {
        user: credential.username,
        password: credential.password,
        ...(database ? { database } : {}),
      });
      await conn.query('SELECT 1');
      return 'ok';
    } catch (err) {
      const errno = errnoOf(err);
      if (errno !== undefined && REFUSED_ERRNOS.has(errno)) return 'refused';
      if (errno === 1130)
        throw new TargetUnavailableError(
          `MySQL at ${where} refuses every login from this worker's address (host not allowed): provider.accountHost "${host}" ` +
            "must match the worker's address for rotor to test and verify the users",
        );
      throw new TargetUnavailableError(`cannot reach MySQL at ${where}: ${clean(connectFailure(err, endpoint, userTls), credential)}`);
    } finally {
      await conn?.end().catch(() => conn?.destroy());
    }
  }

  /** Runs the inventory's validation query as `credential`: a privilege the application needs, proven before promotion. */
  async function validate(credential: MysqlCredential, query: string): Promise<void> {
    let conn: mysql.Connection;
    try {
      conn = await connectTarget(endpoint, userTls, {
        user: credential.username,
        password: credential.password,
        ...(credential.database ? { database: credential.database } : {}),
      });
    } catch (err) {
      throw new TargetUnavailableError(`cannot reach MySQL at ${where}: ${clean(connectFailure(err, endpoint, userTls), credential)}`);
    }
    try {
      // Bounded like every other statement rotor runs (MariaDB; MySQL ignores the variable's absence here).
      await conn.query(`SET SESSION max_statement_time = ${TARGET_SESSION_LIMITS.max_statement_time}`).catch(() => undefined);
      await conn.query(`SET SESSION lock_wait_timeout = ${TARGET_SESSION_LIMITS.lock_wait_timeout}`).catch(() => undefined);
      await conn.query(query);
    } catch (err) {
      const blocked = lockWaitError(err, `what provider.validationQuery reads`);
      if (blocked) throw blocked;
      throw new CredentialRejectedError(
        `user "${credential.username}" logs in, but provider.validationQuery failed: ${clean((err as Error).message, credential)}`,
      );
    } finally {
      await conn.end().catch(() => conn.destroy());
    }
  }

  /** Errors of statements the admin ran on `what`: lock waits retry, missing admin privileges do not. */
  function adminFailure(err: unknown, what: string, credential?: Credential): Error {
    if (err instanceof CredentialRejectedError || err instanceof TargetUnavailableError) return err;
    const blocked = lockWaitError(err, what);
    if (blocked) return blocked;
    const message = clean((err as Error).message, credential);
    const errno = errnoOf(err);
    if (errno === PLUGIN_NOT_LOADED)
      return new CredentialRejectedError(
        `MySQL at ${where} does not load the mysql_native_password plugin (${message}), and this provider needs it: ` +
          'it sets every password as a mysql_native_password hash, so the password itself never reaches the server. ' +
          'Load it (MySQL 8.4: mysql_native_password=ON in the server configuration; MySQL 9 has none: this provider cannot rotate there)',
      );
    if (errno !== undefined && ADMIN_DENIED_ERRNOS.has(errno))
      return new CredentialRejectedError(
        `the admin user "${admin.username}" (provider.adminPath) may not change ${what}: ${message}; ` +
          'grant it CREATE USER, SELECT on mysql.* (and UPDATE there for grantRole), PROCESS, CONNECTION ADMIN (or SUPER) and every privilege it copies WITH GRANT OPTION',
      );
    return new TargetUnavailableError(`could not change ${what} on ${where}: ${message}`);
  }

  return {
    principal: (credential) => `mysql-user:${credential.username}@${host}`,

    source: {
      kind: 'generate',

      async generate(current) {
        const [first, second] = spec.users;
        const username = current?.username === first ? second : first;
        return {
          username,
          password: randomBytes(24).toString('base64url'),
          host: admin.host,
          port: admin.port,
          ...(spec.database ? { database: spec.database } : {}),
        };
      },

      async apply(credential) {
        const user = account(credential.username, host);
        // The hash, never the password: statements reach the general log, the process list and error messages.
        const auth = `IDENTIFIED WITH mysql_native_password AS ${literal(nativePasswordHash(credential.password))}`;
        const requireSsl = spec.requireSsl ? ' REQUIRE SSL' : '';
        const what = `user ${user}`;
        await asAdmin(async (c) => {
          const [locked] = await c.query<mysql.RowDataPacket[]>('SELECT GET_LOCK(?, ?) AS l', [
            CREATE_USER_LOCK,
            TARGET_SESSION_LIMITS.get_lock_timeout,
          ]);
          if (locked[0]?.l !== 1)
            throw new TargetUnavailableError(
              `rotor's create-user section on ${where} (GET_LOCK "${CREATE_USER_LOCK}") is held by another session ` +
                `(waited ${TARGET_SESSION_LIMITS.get_lock_timeout} s); retried`,
            );
          try {
            const name = credential.username;
            const exists = await userExists(c, name);
            // Created locked: it logs in only once it can do what the other user can (statements here are not one transaction).
            if (!exists) await c.query(`CREATE USER ${user} ${auth}${requireSsl} ACCOUNT LOCK`);
            if (!exists || (await accountLocked(c, name))) {
              // Locked: new, a creation cut short (a retry may find any prefix of the grants, e.g. a
              // role without its default role), or a revoked user becoming the standby again. The
              // grants are given again while anything is missing, and it is unlocked only once
              // nothing is (invariant one-working-credential, docs/invariants.md).
              if ((await shortfallOf(c, name)).length) await giveGrants(c, name);
              const missing = await shortfallOf(c, name);
              if (missing.length)
                throw new CredentialRejectedError(
                  `provider.users: user ${user} stays locked: after rotor gave it ${spec.grantRole ? `role ${identifier(spec.grantRole)}` : `the grants of ${account(standbyOf(name), host)}`} ` +
                    `it still lacks ${listed(missing)}. Grant it the same by hand, or name a role both users have as their default role in provider.grantRole`,
                );
            } else {
              // Unlocked and made by hand: the pre-check compared it; one without any grant gets what the other user can do.
              const grants = await effectiveGrants(c, name);
              if (grants.privileges.length + grants.roles.length === 0) await giveGrants(c, name);
            }
            await c.query(`ALTER USER ${user} ${auth}${requireSsl} ACCOUNT UNLOCK`);
          } catch (err) {
            throw adminFailure(err, what, credential);
          } finally {
            await c.query('SELECT RELEASE_LOCK(?)', [CREATE_USER_LOCK]).catch(() => undefined);
          }
        });
      },
    },

    async precheck(current) {
      const active = current.username;
      const standby = standbyOf(active);
      await asAdmin(async (c) => {
        if (spec.grantRole) {
          const [role] = await c.query<mysql.RowDataPacket[]>("SELECT 1 FROM mysql.user WHERE User = ? AND Host IN ('', '%')", [
            spec.grantRole,
          ]);
          if (role.length === 0)
            throw new CredentialRejectedError(
              `provider.grantRole: role "${spec.grantRole}" does not exist on ${where}; create it (CREATE ROLE) or remove grantRole`,
            );
        }
        if (!(await userExists(c, active)))
          throw new CredentialRejectedError(
            `provider.users: the current credential's user ${account(active, host)} does not exist on ${where}; ` +
              'check provider.accountHost, or restore the user',
          );
        if (!(await userExists(c, standby))) return; // apply creates it with the active user's grants
        let missing: string[];
        try {
          missing = missingGrants(await effectiveGrants(c, active), await effectiveGrants(c, standby));
        } catch (err) {
          throw adminFailure(err, `the grants of ${account(standby, host)}`);
        }
        if (missing.length) {
          throw new CredentialRejectedError(
            `provider.users: user ${account(standby, host)} would get the new password but lacks what ${account(active, host)} can do: ${listed(missing)}. ` +
              `Grant it the same (SHOW GRANTS FOR ${account(active, host)}), drop it so rotor creates it with a copy of those grants, ` +
              'or name a role both users have as their default role in provider.grantRole',
          );
        }
      });
    },

    async test(credential) {
      if ((await tryLogin(credential, credential.database)) === 'refused') {
        throw new CredentialRejectedError(
          `MySQL at ${where} refused user "${credential.username}"${credential.database ? ` on database "${credential.database}"` : ''}`,
        );
      }
      if (spec.validationQuery) await validate(credential, spec.validationQuery);
    },

    async revoke(credential, { terminateSessions }) {
      const user = account(credential.username, host);
      await asAdmin(async (c) => {
        try {
          if (await userExists(c, credential.username)) {
            // Locked, and a password nobody knows (its hash is all the server ever sees): refused even if unlocked by mistake.
            const unusable = nativePasswordHash(randomBytes(32).toString('base64url'));
            await c.query(`ALTER USER ${user} IDENTIFIED WITH mysql_native_password AS ${literal(unusable)} ACCOUNT LOCK`);
          }
          if (!terminateSessions) return;
          // A locked account keeps its open connections: end them (emergency), one by one on MySQL and
          // MariaDB alike (matched by user name only: see endConnections).
          // A thread still listed after that was killed and ends when it next checks (as before: not a failure here).
          await endConnections(c, credential.username);
        } catch (err) {
          throw adminFailure(err, user, credential);
        }
      });
    },

    async isRevoked(credential) {
      return (await tryLogin(credential)) === 'refused';
    },

    async activeSessions(credential) {
      return asAdmin(async (c) => {
        // Matched by user name only: PROCESSLIST has no account host, so sessions of another account
        // of the same name on another host pattern count too (it errs towards "not moved yet").
        const [rows] = await c.query<mysql.RowDataPacket[]>(
          "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ? AND ID <> CONNECTION_ID() AND COMMAND <> 'Killed'",
          [credential.username],
        );
        return Number(rows[0]?.n ?? 0);
      });
    },

    async close() {},
  };
}

/**
 * Break-glass users from Vault's mysql plugin: a user that logs in (USAGE, and SELECT on
 * `provider.database` when set) and expires with its lease; revoking it locks it, ends its
 * connections (MariaDB's KILL CONNECTION USER; MySQL has none, and its DROP USER leaves them open)
 * and drops it. The proof (`userExists`) kills what is left and holds until the user and every
 * connection of it are gone, on MySQL and MariaDB alike.
 */
async function mysqlBreakGlass(ctx: ActivityContext, spec: MysqlSpec, secretId: string): Promise<BreakGlassTarget> {
  const target = await mysqlTarget(ctx, spec, secretId);
  const { admin, tls } = target;
  const mariadb = await withAdmin(ctx.providerCaches, target, (c) => isMariadb(ctx.providerCaches, target, c));
  const user = `'{{name}}'@${literal(spec.accountHost)}`;
  // Vault's own connection: encrypted when rotor's sessions are. Go verifies the certificate against
  // the CA (and its name, stricter than verify-ca); without a CA file, against Vault's host's CAs.
  const ca = tls?.caFile && tls.mode !== 'require' && tls.mode !== 'disable' ? (await readFile(tls.caFile)).toString('utf8') : undefined;
  const tlsParam = !tls || tls.mode === 'disable' ? '' : tls.mode === 'require' ? '?tls=skip-verify' : ca ? '' : '?tls=true';
  return {
    connection: {
      plugin_name: 'mysql-database-plugin',
      connection_url: `{{username}}:{{password}}@tcp(${admin.host}:${admin.port})/${tlsParam}`,
      username: admin.username,
      password: admin.password,
      ...(ca ? { tls_ca: ca } : {}),
    },
    creationStatements: [
      `CREATE USER ${user} IDENTIFIED BY '{{password}}'${spec.requireSsl ? ' REQUIRE SSL' : ''}`,
      spec.database ? `GRANT SELECT ON ${identifier(spec.database)}.* TO ${user}` : `GRANT USAGE ON *.* TO ${user}`,
    ],
    revocationStatements: [
      `ALTER USER IF EXISTS ${user} ACCOUNT LOCK`,
      ...(mariadb ? [`KILL CONNECTION USER ${user}`] : []),
      `DROP USER IF EXISTS ${user}`,
    ],
    endpoint: { host: admin.host, port: String(admin.port), ...(spec.database ? { database: spec.database } : {}) },
    /**
     * True while the user exists or any connection of it is open (after killing them): a dropped
     * user's open sessions still work, so the break-glass revocation is proved only once both are
     * gone (invariant revocation-verified, docs/invariants.md). Connections are matched by user
     * name only (see endConnections); Vault's generated names are unique.
     */
    async userExists(username) {
      return withAdmin(ctx.providerCaches, target, async (c) => {
        const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT 1 FROM mysql.user WHERE User = ?', [username]);
        const open = await endConnections(c, username);
        return rows.length > 0 || open > 0;
      });
    },
  };
}

export const mysqlDefinition: ProviderDefinition<'mysql'> = {
  inventory: mysqlSpec,
  credential: mysqlCredential,
  create: async (ctx, spec, secretId) => mysqlProvider(spec, await mysqlTarget(ctx, spec, secretId), ctx.providerCaches),
  breakGlass: mysqlBreakGlass,
};
