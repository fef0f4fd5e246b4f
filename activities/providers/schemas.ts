import type { z } from 'zod';
import { approleCredential, approleSpec, approleTraits } from './approle-secret-id/schema.js';
import { iamCredential, iamSpec, iamTraits } from './aws-iam-access-key/schema.js';
import { mysqlCredential, mysqlSpec, mysqlTraits } from './mysql/schema.js';
import { postgresCredential, postgresSpec, postgresTraits } from './postgres/schema.js';
import { redisCredential, redisSpec, redisTraits } from './redis-acl/schema.js';
import type { ProviderTraits } from './traits.js';

/**
 * Every provider's schemas, keyed by its `type`: the inventory's `provider:` entry and the
 * credential stored at the secret's KV path. Pure zod (config/ and, as types, workflows/ load this
 * file); the runtime half of each provider is in registry.ts, which must list the same types.
 */
export const providerSchemas = {
  postgres: { inventory: postgresSpec, credential: postgresCredential, traits: postgresTraits },
  'approle-secret-id': { inventory: approleSpec, credential: approleCredential, traits: approleTraits },
  mysql: { inventory: mysqlSpec, credential: mysqlCredential, traits: mysqlTraits },
  'redis-acl': { inventory: redisSpec, credential: redisCredential, traits: redisTraits },
  'aws-iam-access-key': { inventory: iamSpec, credential: iamCredential, traits: iamTraits },
} as const;

/** A provider's name in the inventory (`provider.type`). */
export type ProviderType = keyof typeof providerSchemas;
/** The parsed inventory entry of a provider type. */
export type ProviderSpecOf<T extends ProviderType> = z.output<(typeof providerSchemas)[T]['inventory']>;
/** The credential a provider type stores in Vault. */
export type CredentialOf<T extends ProviderType> = z.output<(typeof providerSchemas)[T]['credential']>;

export const providerTypes = Object.keys(providerSchemas) as ProviderType[];

/** The traits (traits.ts) of a parsed `provider:` entry, typed for that entry. */
export function traitsOf<T extends ProviderType>(spec: ProviderSpecOf<T> & { type: T }): ProviderTraits<ProviderSpecOf<T>> {
  return providerSchemas[spec.type].traits as unknown as ProviderTraits<ProviderSpecOf<T>>;
}

/** The provider types whose traits include `trait`, for an error message ("postgres, mysql"). */
export function typesWith(trait: 'sessions' | 'breakGlass'): string {
  return providerTypes.filter((t) => providerSchemas[t].traits[trait as never]).join(', ');
}

/** `"a", "b" or "c"`: the provider types for an error message. */
export function providerTypeList(): string {
  const quoted = providerTypes.map((t) => `"${t}"`);
  return quoted.length > 1 ? `${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1)}` : (quoted[0] ?? '');
}
