import type { z } from 'zod';
import { approleCredential, approleSpec } from './approle-secret-id/schema.js';
import { postgresCredential, postgresSpec } from './postgres/schema.js';

/**
 * Every provider's schemas, keyed by its `type`: the inventory's `provider:` entry and the
 * credential stored at the secret's KV path. Pure zod (config/ and, as types, workflows/ load this
 * file); the runtime half of each provider is in registry.ts, which must list the same types.
 */
export const providerSchemas = {
  postgres: { inventory: postgresSpec, credential: postgresCredential },
  'approle-secret-id': { inventory: approleSpec, credential: approleCredential },
} as const;

/** A provider's name in the inventory (`provider.type`). */
export type ProviderType = keyof typeof providerSchemas;
/** The parsed inventory entry of a provider type. */
export type ProviderSpecOf<T extends ProviderType> = z.output<(typeof providerSchemas)[T]['inventory']>;
/** The credential a provider type stores in Vault. */
export type CredentialOf<T extends ProviderType> = z.output<(typeof providerSchemas)[T]['credential']>;

export const providerTypes = Object.keys(providerSchemas) as ProviderType[];

/** `"a", "b" or "c"`: the provider types for an error message. */
export function providerTypeList(): string {
  const quoted = providerTypes.map((t) => `"${t}"`);
  return quoted.length > 1 ? `${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1)}` : (quoted[0] ?? '');
}
