import { z } from 'zod';
import type { ProviderTraits } from '../traits.js';

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

/** The secret's AppRole role endpoints; no sessions to observe, no break-glass. */
export const approleTraits: ProviderTraits<AppRoleSpec> = {
  secretRules(spec, ctx) {
    const role = `auth/${ctx.safe('mount', spec.mount)}/role/${ctx.safe('role', spec.role)}`;
    const why = `${ctx.secretId}: secret IDs of AppRole ${spec.role}`;
    return [
      { path: `${role}/role-id`, capabilities: ['read'], why },
      // rotor-chosen secret IDs go through custom-secret-id, Vault-minted ones through secret-id.
      { path: `${role}/${spec.secretIdSource === 'vault' ? 'secret-id' : 'custom-secret-id'}`, capabilities: ['update'], why },
      { path: `${role}/secret-id/lookup`, capabilities: ['update'], why },
      { path: `${role}/secret-id-accessor/destroy`, capabilities: ['update'], why },
    ];
  },
  targets: (spec) => [`approle|${spec.mount}|${spec.role}`],
  workerRules() {
    // An emergency AppRole rotation ends the tokens issued with the compromised secret ID: Vault has
    // no index from secret ID to tokens, so every accessor is listed (sudo) and looked up.
    const why = 'emergency AppRole rotation: tokens of a compromised secret ID';
    return [
      { path: 'auth/token/accessors', capabilities: ['list', 'sudo'], why },
      { path: 'auth/token/lookup-accessor', capabilities: ['update'], why },
      { path: 'auth/token/revoke-accessor', capabilities: ['update'], why },
    ];
  },
};
