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
import {
  clientsOf,
  copyRules,
  isDisabled,
  OlderRedisError,
  parseAclUser,
  parseClientList,
  passwordHash,
  ruleDifferences,
  type AclUser,
} from './acl.js';
import { AdminConnection, connectAs, isWrongPass, type RedisConnection, type RedisEndpoint } from './connection.js';
import { redisAdmin, redisCredential, redisSpec, type RedisAdmin, type RedisCredential, type RedisSpec } from './schema.js';

/**
 * Redis's answer to ACL SAVE when its users live in redis.conf (no `aclfile`): what rotor changes
 * would hold only until the next restart, which brings back a revoked password and drops the new one.
 */
const NO_ACL_FILE = /not configured to use an ACL file/i;
/** The admin user lacks a command (ACL rules of its own): retrying does not help. */
const NO_PERMISSION = /^NOPERM\b/;
/** ACL SETUSER refused a rule (from provider.createRules or copied from the other user): retrying does not help. */
const BAD_MODIFIER = /^ERR Error in ACL SETUSER modifier\b/;
/** What the admin user must be allowed, for the messages that say so. */
const ADMIN_COMMANDS = '+acl|getuser +acl|setuser +acl|save +client|list +client|kill +client|id';

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
 *
 * Every change is persisted with ACL SAVE (a target without an ACL file is refused: see NO_ACL_FILE),
 * and apply and revoke save even when they found nothing to change, so a step retried after a
 * failed save still persists what the first attempt changed. Needs Redis 7 or newer.
 *
 * One Redis node only: ACL users do not replicate (neither to replicas nor across a cluster's
 * nodes), so a replica or another shard would keep the old password and never learn the new one.
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
      throw adminFailure(err, what, credential);
    }
  }

  /** An error of a command the admin ran while `what`: only what retrying can fix stays retryable. */
  function adminFailure(err: unknown, what: string, credential: RedisCredential | undefined): Error {
    if (err instanceof CredentialRejectedError || err instanceof TargetUnavailableError) return err;
    const text = scrub(errorText(err), secretsOf(credential));
    if (err instanceof OlderRedisError) return new CredentialRejectedError(`Redis at ${where}: ${text}`);
    if (NO_ACL_FILE.test(text))
      return new CredentialRejectedError(
        `Redis at ${where} keeps its ACL users in redis.conf, not in an ACL file (ACL SAVE refused), so a restart would bring back ` +
          `a revoked password and drop the new one; configure an ACL file (the aclfile directive, with the user lines moved there) ` +
          `and restart Redis. What rotor already changed is in memory only until then (CONFIG REWRITE writes it to redis.conf)`,
      );
    if (NO_PERMISSION.test(text))
      return new CredentialRejectedError(
        `provider.adminPath: the admin user "${admin.username}" (${spec.adminPath}) lacks a permission for ${what} on ${where}: ${text}; ` +
          `give it ${ADMIN_COMMANDS}`,
      );
    if (BAD_MODIFIER.test(text))
      return new CredentialRejectedError(
        `Redis at ${where} refused an ACL rule while ${what}: ${text}; correct provider.createRules` +
          (pair ? `, or the rules of the ACL user they were copied from (${pair.join(' or ')})` : ''),
      );
    return new TargetUnavailableError(`Redis at ${where}: ${what} failed: ${text}`);
  }

  /** ACL GETUSER (undefined for a missing user); throws OlderRedisError on Redis 6. */
  const getUser = async (c: RedisConnection, username: string): Promise<AclUser | undefined> =>
    parseAclUser(await c.sendCommand(['ACL', 'GETUSER', username]));

  /** ACL SETUSER as one command: Redis 7 applies all its modifiers or none. */
  const setUser = async (c: RedisConnection, username: string, modifiers: string[]): Promise<void> => {
    await c.sendCommand(['ACL', 'SETUSER', username, ...modifiers]);
  };

  /** ACL SAVE: Redis writes its ACL file, so a restart keeps what changed. Fails (see adminFailure) without an ACL file. */
  const save = async (c: RedisConnection): Promise<void> => {
    await c.sendCommand(['ACL', 'SAVE']);
  };

  /**
   * What every rotation needs of the target before anything changes: Redis 7 (the admin user's own
   * GETUSER reply tells, without the INFO command the admin is not given) and an ACL file (ACL SAVE
   * of the current users, which changes nothing but the file; like any save, it overwrites an edit
   * of the file not yet loaded with ACL LOAD).
   */
  async function requireSupportedTarget(c: RedisConnection): Promise<void> {
    await getUser(c, admin.username);
    await save(c);
  }

  /**
   * Why apply must leave `username` alone: a disabled user, which an operator may have switched off
   * to contain an incident. With one user (`provider.user`) rotor never enables it; of a pair, it
   * enables only the standby, whose revocation removed every password (so only the new one logs in).
   */
  function disabledRefusal(username: string, target: AclUser | undefined): CredentialRejectedError | undefined {
    if (!target || !isDisabled(target) || (pair && target.passwords.length === 0)) return undefined;
    const unlessGone = pair
      ? `or remove its passwords (ACL SETUSER ${username} resetpass) so rotor treats it as the standby and enables it with the new password only`
      : `or delete it (ACL DELUSER ${username}) and give provider.createRules so rotor creates it with the new password only`;
    const why = target.passwords.length
      ? `that would let its ${target.passwords.length} password(s) log in again`
      : 'someone switched it off, maybe on purpose';
    return new CredentialRejectedError(
      `ACL user "${username}" is disabled (off) at ${where}; rotor will not enable it (${why}) — enable it yourself ` +
        `(ACL SETUSER ${username} on, after removing any password that must stay refused), ${unlessGone}`,
    );
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
          await requireSupportedTarget(c);
          const target = await getUser(c, username);
          const refusal = disabledRefusal(username, target);
          if (refusal) throw refusal;
          const otherName = otherOf(username);
          const other = otherName === undefined ? undefined : await getUser(c, otherName);
          // `on` only for a user rotor creates, or for the standby of a pair, which holds no password
          // but ours (disabledRefusal): never for a user that lets in a password rotor does not hold.
          const modifiers = pair || !target ? ['on', `#${hash}`] : [`#${hash}`];
          // The standby (no password but possibly ours, from a retried step) takes exactly the rules
          // of the user whose credential it replaces: the other one, while it holds a password, even
          // one disabled in an incident. A user someone logs in to with another password is no
          // standby: left as it is (test compares it).
          if (other && other.passwords.length > 0 && (!target || target.passwords.every((p) => p === hash))) {
            modifiers.push(...copyRules(other));
          } else if (!target) {
            if (!spec.createRules)
              throw new CredentialRejectedError(
                `provider.createRules: ACL user "${username}" does not exist on ${where}; create it with the rules the application needs ` +
                  `(ACL SETUSER ${username} ${pair ? '' : 'on '}~app:* +@read +@write) or give them in provider.createRules`,
              );
            modifiers.push(...spec.createRules.split(/\s+/));
          }
          // Adding a hash it already has changes nothing: a retried step is harmless.
          await setUser(c, username, modifiers);
          await save(c);
        });
      },
    },

    // Refused here, before anything is staged: Redis 6, a target without an ACL file, and a user
    // apply would have to enable (the same checks apply makes, for seeding, which has no pre-check).
    async precheck(current) {
      const username = pair ? otherOf(current.username)! : spec.user!;
      await asAdmin(undefined, `checking Redis and ACL user "${username}" before a rotation`, async (c) => {
        await requireSupportedTarget(c);
        const refusal = disabledRefusal(username, await getUser(c, username));
        if (refusal) throw refusal;
      });
    },

    async test(credential) {
      if ((await tryLogin(credential)) === 'refused') {
        throw new CredentialRejectedError(`Redis at ${where} refused ACL user "${credential.username}" (WRONGPASS)`);
      }
      const otherName = otherOf(credential.username);
      if (otherName === undefined) return; // one user: the same rules whichever password
      // Alternating users: while the other user holds a password (enabled or disabled in an
      // incident), this one must be able to do exactly what it can: it replaces that credential.
      // An other user without a password (absent at a first seeding, or the standby after its
      // revocation) replaces nothing; apply overwrites its rules when it is the standby again.
      await asAdmin(credential, `reading the rules of ACL users "${credential.username}" and "${otherName}"`, async (c) => {
        const me = await getUser(c, credential.username);
        const other = await getUser(c, otherName);
        if (!me || !other || other.passwords.length === 0) return;
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
        // A deleted user authenticates nobody, and Redis ended its clients; the save below still runs.
        const target = await getUser(c, username);
        if (target) {
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
        }
        // Always, even when nothing needed changing: a retry after a save that failed finds the
        // password gone from memory while the ACL file still holds it, and a restart would bring it
        // back. Last, so an emergency has ended the sessions even when the save is refused.
        await save(c);
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
