import { approleDefinition } from './approle-secret-id/provider.js';
import { iamDefinition } from './aws-iam-access-key/provider.js';
import { mysqlDefinition } from './mysql/provider.js';
import { postgresDefinition } from './postgres/provider.js';
import { redisDefinition } from './redis-acl/provider.js';
import type { ProviderDefinition } from './provider.js';
import type { ProviderType } from './schemas.js';

/** Every provider type's definition; the same keys as schemas.ts (a missing one is a type error). */
export const registry: { readonly [T in ProviderType]: ProviderDefinition<T> } = {
  postgres: postgresDefinition,
  'approle-secret-id': approleDefinition,
  mysql: mysqlDefinition,
  'redis-acl': redisDefinition,
  'aws-iam-access-key': iamDefinition,
};

/** The definition of one provider type. */
export function definitionOf<T extends ProviderType>(type: T): ProviderDefinition<T> {
  return registry[type];
}
