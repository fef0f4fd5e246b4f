import { z } from 'zod';

/*
 * Pure zod: config/inventory-schema.ts builds the inventory's `provider:` union from this file, so
 * it must not import node-vault or anything else with side effects.
 */

/** Who creates a new secret ID: rotor (custom-secret-id, Vault KV learns it first) or Vault itself (minted, staged at once). */
export const SecretIdSource = { ROTOR: 'rotor', VAULT: 'vault' } as const;
export type SecretIdSource = (typeof SecretIdSource)[keyof typeof SecretIdSource];

/** The inventory's `provider:` entry of an AppRole secret ID. */
export const approleSpec = z.strictObject({
  type: z.literal('approle-secret-id'),
  /** The consumer's AppRole whose secret ID is rotated (several secret IDs are valid at once). */
  role: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'an AppRole name such as "billing-service"'),
  mount: z.string().default('approle'),
  secretIdSource: z
    .enum([SecretIdSource.ROTOR, SecretIdSource.VAULT], {
      error: 'secretIdSource must be "rotor" (rotor generates the secret ID) or "vault" (Vault generates it and rotor stages it at once)',
    })
    .default(SecretIdSource.ROTOR),
});

/** What consumers read at the secret's KV path; extra string fields are kept as they are. */
export const approleCredential = z.object({ role_id: z.string(), secret_id: z.string() }).catchall(z.string());

export type AppRoleSpec = z.infer<typeof approleSpec>;
export type AppRoleCredential = z.infer<typeof approleCredential>;
