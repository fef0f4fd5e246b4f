import { randomBytes } from 'node:crypto';
import type { ActivityContext } from '../../activity-context.js';
import { readAdminCredential } from '../admin-credential.js';
import type { ProviderCaches } from '../provider-caches.js';
import {
  CredentialRejectedError,
  scrub,
  TargetUnavailableError,
  type Credential,
  type GeneratedCredential,
  type Provider,
  type ProviderDefinition,
} from '../provider.js';
import { clientsOf, copyRules, isLive, parseAclUser, parseClientList, passwordHash, ruleDifferences, type AclUser } from './acl.js';
import { AdminConnection, connectAs, isWrongPass, type RedisConnection, type RedisEndpoint } from './connection.js';
import { redisAdmin, redisCredential, redisSpec, type RedisAdmin, type RedisCredential, type RedisSpec } from './schema.js';

/** Redis's answer to ACL SAVE when it runs without an ACL file: nothing to persist, not a failure. */
const NO_ACL_FILE = /not configured to use an ACL file/i;

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** The admin connection of one target and admin user, shared per worker; a new admin password in Vault replaces it. */
function adminConnection(caches: ProviderCaches, endpoint: RedisEndpoint, admin: RedisAdmin): AdminConnection {
  return caches.pooled(`redis-admin|${endpoint.host}:${endpoint.port}|${admin.username}`, admin.password, () => {
    const connection = new AdminConnection(endpoint, admin.username, admin.password);
    return { pool: connection, close: () => connection.close() };
  });
}

/**
 * Redis ACL users, in one of two shapes:
 * - `user`: one user holds two passwords during the overlap (apply adds the new one, revoke
 *   removes the old one), so every credential is its own principal (a digest of the password).
 * - `users: [a, b]`: alternating users; the standby gets the new password and exactly the active
 *   user's rules (copied from ACL GETUSER), so the new credential can do what the old one could,
 *   and CLIENT LIST tells old clients from new ones (observed cutover).
 * Passwords reach Redis only in AUTH: ACL SETUSER carries their SHA-256 (`#`/`!`), so no command
 * log, ACL LOG entry or SETUSER error ever holds one.
 */
export function redisProvider(
  spec: RedisSpec,
  admin: RedisAdmin,
  caches: ProviderCaches,
): Provider<RedisCredential, GeneratedCredential<RedisCredential>> {
  const endpoint: RedisEndpoint = { host: admin.host, port: Number(admin.port) };
  const where = `${admin.host}:${admin.port}`;
  const pair = spec.users;
  /** The other user of the pair (the active one while `username` is the standby), or undefined for `user`. */
  const otherOf = (username: string): string | undefined => (pair ? (username === pair[0] ? pair[1] : pair[0]) : undefined);
  /** Values to strip from a message about `credential`: its password and that password's hash, and the admin's password. */
  const secretsOf = (credential?: RedisCredential): Credential => ({
    ...(credential ? { password: credential.password, hash: passwordHash(credential.password) } : {}),
    adminPassword: admin.password,
  });

  async function asAdmin<T>(credential: RedisCredential | undefined, what: string, run: (c: RedisConnection) => Promise<T>): Promise<T> {
    let client: RedisConnection;
    try {
      client = await adminConnection(caches, endpoint, admin).get();
    } catch (err) {
      throw new TargetUnavailableError(
        `cannot connect to Redis at ${where} as admin user "${admin.username}": ${scrub(errorText(err), secretsOf(credential))}`,
      );
    }
    try {
      return await run(client);
    } catch (err) {
      if (err instanceof CredentialRejectedError || err instanceof TargetUnavailableError) throw err;
      const text = scrub(errorText(err), secretsOf(credential));
      const hint = /^NOPERM/.test(text)
        ? ` (admin user "${admin.username}" needs +acl|getuser +acl|setuser +acl|save +client|list +client|kill +client|id)`
        : '';
      throw new TargetUnavailableError(`Redis at ${where}: ${what} failed: ${text}${hint}`);
    }
  }

  const getUser = async (c: RedisConnection, username: string): Promise<AclUser | undefined> =>
    parseAclUser(await c.sendCommand(['ACL', 'GETUSER', username]));

  /** ACL SETUSER, then ACL SAVE so a restart of Redis keeps it (one command: Redis 7 applies all modifiers or none). */
  async function setUser(c: RedisConnection, username: string, modifiers: string[]): Promise<void> {
    await c.sendCommand(['ACL', 'SETUSER', username, ...modifiers]);
    try {
      await c.sendCommand(['ACL', 'SAVE']);
    } catch (err) {
      if (!NO_ACL_FILE.test(errorText(err))) throw err;
    }
  }

  async function tryLogin(credential: RedisCredential): Promise<'ok' | 'refused'> {
    let client: RedisConnection | undefined;
    try {
      client = await connectAs(endpoint, credential.username, credential.password);
      return 'ok';
    } catch (err) {
      // Only WRONGPASS proves refusal; a timeout or a refused TCP connection says nothing (invariant revocation-verified).
      if (isWrongPass(err)) return 'refused';
      throw new TargetUnavailableError(`cannot reach Redis at ${where}: ${scrub(errorText(err), secretsOf(credential))}`);
    } finally {
      client?.destroy();
    }
  }

  return {
    // Two passwords of one user can be revoked apart, so each is its own principal, named by a
    // digest (never the value); alternating users are principals themselves.
    principal: (credential) =>
      pair ? `redis-acl:${credential.username}` : `redis-acl:${credential.username}:${passwordHash(credential.password)}`,

    source: {
      kind: 'generate',

      async generate(current) {
        const username = pair ? (current?.username === pair[0] ? pair[1] : pair[0]) : spec.user!;
        return { username, password: randomBytes(32).toString('base64url'), host: admin.host, port: admin.port };
      },

      async apply(credential) {
        const username = credential.username;
        const hash = passwordHash(credential.password);
        await asAdmin(credential, `setting a password of ACL user "${username}"`, async (c) => {
          const target = await getUser(c, username);
          const otherName = otherOf(username);
          const other = otherName === undefined ? undefined : await getUser(c, otherName);
          const modifiers = ['on', `#${hash}`];
          // The standby (no password but possibly ours, from a retried step) takes exactly the live
          // user's rules. A user someone logs in to with another password is no standby: left as it is.
          if (other && isLive(other) && (!target || target.passwords.every((p) => p === hash))) {
            modifiers.push(...copyRules(other));
          } else if (!target) {
            if (!spec.createRules)
              throw new CredentialRejectedError(
                `provider.createRules: ACL user "${username}" does not exist on ${where}; create it with the rules the application needs ` +
                  `(ACL SETUSER ${username} ~app:* +@read +@write) or give them in provider.createRules`,
              );
            modifiers.push(...spec.createRules.split(/\s+/));
          }
          // Adding a hash it already has changes nothing: a retried step is harmless.
          await setUser(c, username, modifiers);
        });
      },
    },

    async test(credential) {
      if ((await tryLogin(credential)) === 'refused') {
        throw new CredentialRejectedError(`Redis at ${where} refused ACL user "${credential.username}" (WRONGPASS)`);
      }
      const otherName = otherOf(credential.username);
      if (otherName === undefined) return; // one user: the same rules whichever password
      // Alternating users: while the other user is live, this one must be able to do what it can.
      await asAdmin(credential, `reading the rules of ACL users "${credential.username}" and "${otherName}"`, async (c) => {
        const me = await getUser(c, credential.username);
        const other = await getUser(c, otherName);
        if (!me || !other || !isLive(other)) return;
        const differences = ruleDifferences(other, me);
        if (differences.length)
          throw new CredentialRejectedError(
            `provider.users: ACL user "${credential.username}" cannot do exactly what "${otherName}" can (${differences.join('; ')}); ` +
              `give both the same rules, or remove the other user's password so rotor copies them at the next rotation`,
          );
      });
    },

    async revoke(credential, { terminateSessions }) {
      const username = credential.username;
      const hash = passwordHash(credential.password);
      await asAdmin(credential, `revoking a password of ACL user "${username}"`, async (c) => {
        const target = await getUser(c, username);
        if (!target) return; // a deleted user authenticates nobody, and Redis ended its clients
        const modifiers: string[] = [];
        // By hash: removing a password that is not there is an error, so a retry checks first.
        if (target.passwords.includes(hash)) modifiers.push(`!${hash}`);
        // The revoked user of a pair is the standby now: disabled until apply enables it again.
        if (pair && target.flags.includes('on') && target.passwords.every((p) => p === hash)) modifiers.push('off');
        if (modifiers.length) await setUser(c, username, modifiers);
        // Emergency: after the password is gone (a reconnect is refused), every client of the user
        // ends. With one user (`provider.user`) that includes clients already on the new password;
        // they reconnect with it.
        if (terminateSessions) await c.sendCommand(['CLIENT', 'KILL', 'USER', username]);
      });
    },

    async isRevoked(credential) {
      return (await tryLogin(credential)) === 'refused';
    },

    // With `provider.user` this counts every client of the user, whichever password it used:
    // why traits.sessions.unavailable refuses confirm mode sessions for that shape.
    async activeSessions(credential, { clientName } = {}) {
      return asAdmin(credential, 'listing clients (CLIENT LIST)', async (c) => {
        const self = String(await c.sendCommand(['CLIENT', 'ID']));
        const entries = parseClientList(String(await c.sendCommand(['CLIENT', 'LIST'])));
        return clientsOf(entries, credential.username, { exceptId: self, ...(clientName === undefined ? {} : { clientName }) }).length;
      });
    },

    async close() {},
  };
}

export const redisDefinition: ProviderDefinition<'redis-acl'> = {
  inventory: redisSpec,
  credential: redisCredential,
  create: async (ctx: ActivityContext, spec, secretId) =>
    redisProvider(spec, await readAdminCredential(ctx, redisAdmin, spec.adminPath, secretId), ctx.providerCaches),
};
