import { z } from 'zod';
import { validationQuery } from '../validation-query.js';
import { adminCredentialRule, type ProviderTraits } from '../traits.js';

/*
 * Pure zod: config/inventory-schema.ts builds the inventory's `provider:` union from this file, so
 * it must not import mysql2 or anything else with side effects.
 */

/**
 * Account and role names rotor puts in statements (quoted, but never from free text): letters,
 * digits, `_`, `-`, `.`, `$` and at most 80 characters (MariaDB's limit; MySQL's is 32).
 */
const accountName = z.string().regex(/^[A-Za-z0-9_$][A-Za-z0-9_$.-]{0,79}$/, 'an account name such as "app_a" (letters, digits, _ $ . -)');

/** A database name as it appears in `GRANT … ON db.*`: no wildcard, no quote. */
const databaseName = z.string().regex(/^[A-Za-z0-9_$]{1,64}$/, 'a database name such as "demo" (letters, digits, _ $)');

/** TLS modes for rotor's own sessions, named as libpq/MySQL's ssl-mode do. */
export const TLS_MODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const;

/**
 * TLS on every session rotor opens at the target (admin, test logins, session counts). Not a
 * secret, so it lives in the inventory; the CA file is read on the worker's host.
 */
export const mysqlTls = z
  .strictObject({
    mode: z.enum(TLS_MODES, { error: `one of ${TLS_MODES.join(', ')}` }),
    /** PEM CA bundle the server certificate must chain to; unset with verify-*: the CAs Node trusts. */
    caFile: z.string().min(1, 'the path of a PEM CA file on the worker host, e.g. "/etc/rotor/mysql-ca.pem"').optional(),
  })
  .refine((s) => s.caFile === undefined || s.mode === 'verify-ca' || s.mode === 'verify-full', {
    path: ['caFile'],
    message: 'a CA file is used only by mode verify-ca or verify-full; set one of those or remove caFile',
  });

/** The inventory's `provider:` entry of a MySQL/MariaDB secret. */
export const mysqlSpec = z
  .strictObject({
    type: z.literal('mysql'),
    /** KV path of the admin credential rotor uses to change passwords ({username, password, host, port}). */
    adminPath: z.string().min(1, 'the KV path of the admin credential, e.g. "_rotor/admin/demo-mysql"'),
    /** The two accounts that take turns: the standby gets the new password, so both log in during the overlap. */
    users: z
      .tuple([accountName, accountName], { error: 'two account names, e.g. [app_a, app_b]' })
      .refine(([a, b]) => a !== b, 'the two alternating users must differ; name two accounts, e.g. [app_a, app_b]'),
    /** The host part of both accounts ('app_a'@'%'); both users live on the same host pattern. */
    accountHost: z
      .string()
      .regex(/^[A-Za-z0-9_.%:/-]{1,255}$/, 'a host pattern such as "%", "10.0.%" or "app.example.com" (no quotes or spaces)')
      .default('%'),
    /** Put in the credential for consumers; test logins and validation connect to it. */
    database: databaseName.optional(),
    /**
     * A role both users get as their DEFAULT ROLE when rotor creates one. Without it, a user rotor
     * creates gets a copy of the active user's grants (SHOW GRANTS, grantee rewritten).
     */
    grantRole: accountName.optional(),
    /** SQL run as the new credential at test and post-validation (validation-query.ts). */
    validationQuery: validationQuery.optional(),
    /** TLS on rotor's own sessions at the target; unset: plaintext (or TLS without verification for test logins under requireSsl). */
    tls: mysqlTls.optional(),
    /** Users rotor creates or alters get `REQUIRE SSL`; rotor's test logins then use TLS too. */
    requireSsl: z.boolean({ error: 'true or false' }).optional(),
  })
  .refine((s) => !(s.requireSsl && s.tls?.mode === 'disable'), {
    path: ['tls', 'mode'],
    message:
      'requireSsl makes the users log in over TLS only, so rotor cannot test them without it; set tls.mode to require or verify-*, or remove requireSsl',
  });

/** What consumers read at the secret's KV path; extra string fields are kept as they are. */
export const mysqlCredential = z
  .object({ username: z.string(), password: z.string(), host: z.string(), port: z.string(), database: z.string().optional() })
  .catchall(z.string());

/** The admin credential at `adminPath`: an account that may create users, grant, and see and kill connections. */
export const mysqlAdmin = z.object({
  username: z.string(),
  password: z.string(),
  host: z.string(),
  port: z.string(),
});

export type MysqlSpec = z.infer<typeof mysqlSpec>;
export type MysqlTls = z.infer<typeof mysqlTls>;
export type MysqlCredential = z.infer<typeof mysqlCredential>;
export type MysqlAdmin = z.infer<typeof mysqlAdmin>;

/** Sessions in the process list (by user only: MySQL has no client name there); break-glass users from Vault's mysql plugin. */
export const mysqlTraits: ProviderTraits<MysqlSpec> = {
  sessions: { where: 'information_schema.PROCESSLIST', clientName: false },
  breakGlass: true,
  secretRules: (spec, ctx) => [adminCredentialRule(spec.adminPath, ctx)],
  targets: (spec) => spec.users.map((u) => `mysql|${spec.adminPath}|${u}@${spec.accountHost}`),
};
