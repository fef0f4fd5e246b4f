import { z } from 'zod';

/*
 * Pure zod: config/inventory-schema.ts builds the inventory's `provider:` union from this file, so
 * it must not import pg or anything else with side effects.
 */

const pgIdentifier = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case PostgreSQL role name such as "app_a"');

/** The inventory's `provider:` entry of a PostgreSQL secret. */
export const postgresSpec = z.strictObject({
  type: z.literal('postgres'),
  /** KV path of the admin credential rotor uses to change passwords ({username, password, host, port, database}). */
  adminPath: z.string().min(1, 'the KV path of the admin credential, e.g. "_rotor/admin/demo-postgres"'),
  /** The two roles that take turns: the standby gets the new password, so both log in during the overlap. */
  users: z.tuple([pgIdentifier, pgIdentifier]).refine(([a, b]) => a !== b, 'the two alternating users must differ'),
  database: pgIdentifier.optional(),
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
export type PostgresCredential = z.infer<typeof postgresCredential>;
export type PostgresAdmin = z.infer<typeof postgresAdmin>;
