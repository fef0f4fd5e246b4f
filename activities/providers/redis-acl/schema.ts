import { z } from 'zod';
import { adminCredentialRule, type ProviderTraits } from '../traits.js';

/* Pure zod (config/inventory-schema.ts builds the inventory from it): no client library here. */

/**
 * A Redis ACL user name. Spaces would split an ACL rule line; `default` is what unauthenticated
 * connections use (and the stack's superuser), so rotor never rotates it.
 */
const aclUser = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$/, 'a Redis ACL user name such as "sessions-app" (letters, digits, _ . : @ -)')
  .refine((name) => name !== 'default', 'the "default" user serves unauthenticated connections; rotate a named ACL user instead');

/**
 * One ACL rule that grants or limits access. Password and state modifiers (`>`, `<`, `#`, `!`,
 * nopass, resetpass, on, off, reset) are rotor's alone; selectors `( … )` hold spaces and are
 * left to an operator-created user.
 */
const ACL_RULE = /^(?:[~%&+-]\S+|allkeys|allchannels|allcommands|nocommands|resetkeys|resetchannels)$/;

/** The inventory's `provider:` entry of a redis-acl secret. */
export const redisSpec = z
  .strictObject({
    type: z.literal('redis-acl'),
    /** KV path of the admin credential ({username, password, host, port}): an ACL user allowed ACL SETUSER/GETUSER/SAVE and CLIENT LIST/KILL/ID. */
    adminPath: z.string().min(1, 'the KV path of the admin credential, e.g. "_rotor/admin/demo-redis"'),
    /** One ACL user with two passwords during the overlap (no observed cutover: see traits). */
    user: aclUser.optional(),
    /** Two ACL users that take turns: the standby gets the new password and the active user's rules. */
    users: z
      .tuple([aclUser, aclUser])
      .refine(([a, b]) => a !== b, 'the two alternating users must differ')
      .optional(),
    /**
     * ACL rules (e.g. "~app:* +@read +@write") for a user rotor must create at seeding; without
     * it the user must exist already (with `user`, enabled: rotor never switches on a user that is
     * off). Rules, not a secret: never put a password here.
     */
    createRules: z
      .string()
      .trim()
      .min(1, 'ACL rules such as "~app:* +@read +@write"')
      .max(2000, 'at most 2000 characters')
      .refine(
        (rules) => rules.split(/\s+/).every((rule) => ACL_RULE.test(rule)),
        'only key (~ %), channel (&) and command (+ -) rules such as "~app:* +@read +@write"; passwords, on/off, reset and selectors are not allowed',
      )
      .optional(),
  })
  .superRefine((spec, ctx) => {
    if ((spec.user === undefined) === (spec.users === undefined))
      ctx.addIssue({
        code: 'custom',
        path: [spec.user === undefined ? 'user' : 'users'],
        message:
          'give exactly one of user (one ACL user, two passwords during the overlap) or users: [a, b] (alternating ACL users, needed for confirm mode sessions)',
      });
  });

/** What consumers read at the secret's KV path; extra string fields are kept as they are. */
export const redisCredential = z
  .object({ username: z.string(), password: z.string(), host: z.string(), port: z.string() })
  .catchall(z.string());

/** The admin credential at `adminPath`. */
export const redisAdmin = z.object({ username: z.string(), password: z.string(), host: z.string(), port: z.string() });

export type RedisSpec = z.infer<typeof redisSpec>;
export type RedisCredential = z.infer<typeof redisCredential>;
export type RedisAdmin = z.infer<typeof redisAdmin>;

/**
 * Sessions in CLIENT LIST (by `user=`, and `name=` for clientName). With one user and two
 * passwords, CLIENT LIST cannot tell which password a client authenticated with: a client that
 * reconnects with the old password after promotion would count as cut over and be cut off at
 * revocation, so observed cutover needs alternating users.
 */
export const redisTraits: ProviderTraits<RedisSpec> = {
  sessions: {
    where: 'CLIENT LIST',
    clientName: true,
    unavailable: (spec) =>
      spec.user !== undefined
        ? `provider.user "${spec.user}" is one ACL user with two passwords during the overlap, and CLIENT LIST cannot tell which password a client used; use provider.users [a, b] for confirm mode sessions, or confirm by webhook, health or manual`
        : undefined,
  },
  secretRules: (spec, ctx) => [adminCredentialRule(spec.adminPath, ctx)],
  targets: (spec) => (spec.users ?? [spec.user!]).map((u) => `redis|${spec.adminPath}|${u}`),
};
