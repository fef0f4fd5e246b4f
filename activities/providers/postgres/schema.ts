import { z } from 'zod';
import { validationQuery } from '../validation-query.js';
import { adminCredentialRule, type ProviderTraits } from '../traits.js';

/*
 * Pure zod: config/inventory-schema.ts builds the inventory's `provider:` union from this file, so
 * it must not import pg or anything else with side effects.
 */

const pgIdentifier = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case PostgreSQL role name such as "app_a"');

/** libpq's sslmode names; what each does with node-postgres is in target-connection.ts. */
export const SSL_MODES = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;

/**
 * TLS to the target (every session rotor opens there: admin, test logins, session counts). Not a
 * secret, so it lives in the inventory; the CA file is read on the worker's host.
 */
export const postgresSsl = z
  .strictObject({
    mode: z.enum(SSL_MODES, { error: `one of ${SSL_MODES.join(', ')} (libpq's sslmode)` }),
    /** PEM CA bundle the server certificate must chain to; unset with verify-*: the CAs Node trusts. */
    caFile: z.string().min(1, 'the path of a PEM CA file on the worker host, e.g. "/etc/rotor/pg-ca.pem"').optional(),
  })
  .refine((s) => s.caFile === undefined || s.mode === 'verify-ca' || s.mode === 'verify-full', {
    path: ['caFile'],
    // libpq would quietly verify under "require" when a root certificate is present; here a CA is
    // used only when verification is asked for, so say so rather than ignore it.
    message: 'a CA file is used only by mode verify-ca or verify-full; set one of those or remove caFile',
  });

/** The inventory's `provider:` entry of a PostgreSQL secret. */
export const postgresSpec = z.strictObject({
  type: z.literal('postgres'),
  /** KV path of the admin credential rotor uses to change passwords ({username, password, host, port, database}). */
  adminPath: z.string().min(1, 'the KV path of the admin credential, e.g. "_rotor/admin/demo-postgres"'),
  /** The two roles that take turns: the standby gets the new password, so both log in during the overlap. */
  users: z.tuple([pgIdentifier, pgIdentifier]).refine(([a, b]) => a !== b, 'the two alternating users must differ'),
  database: pgIdentifier.optional(),
  /**
   * A group role both users are members of. Without it, a role rotor creates is made a member of
   * the other (active) user, so the new credential can do what the old one could.
   */
  grantRole: pgIdentifier.optional(),
  /** SQL run as the new credential at test and post-validation (validation-query.ts). */
  validationQuery: validationQuery.optional(),
  /** TLS to the target; unset: plaintext (mode disable), as before this option existed. */
  ssl: postgresSsl.optional(),
});

/** What consumers read at the secret's KV path; extra string fields are kept as they are. */
export const postgresCredential = z
  .object({ username: z.string(), password: z.string(), host: z.string(), port: z.string(), database: z.string() })
  .catchall(z.string());

/** The admin credential at `adminPath`: a role that may create roles and set their passwords. */
export const postgresAdmin = z.object({
  username: z.string(),
  password: z.string(),
  host: z.string(),
  port: z.string(),
  database: z.string(),
});

export type PostgresSpec = z.infer<typeof postgresSpec>;
export type PostgresSsl = z.infer<typeof postgresSsl>;
export type PostgresCredential = z.infer<typeof postgresCredential>;
export type PostgresAdmin = z.infer<typeof postgresAdmin>;

/** Sessions in pg_stat_activity (by application_name too); break-glass roles from Vault's postgresql plugin. */
export const postgresTraits: ProviderTraits<PostgresSpec> = {
  sessions: { where: 'pg_stat_activity', clientName: true },
  breakGlass: true,
  secretRules: (spec, ctx) => [adminCredentialRule(spec.adminPath, ctx)],
  targets: (spec) => spec.users.map((u) => `postgres|${spec.adminPath}|${u}`),
};
