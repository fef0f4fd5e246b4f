import { describe, expect, it } from 'vitest';
import { registry } from './registry.js';
import { providerSchemas, providerTypeList, providerTypes } from './schemas.js';

describe('the provider registry', () => {
  it('has one definition per provider type, filed under the type its inventory schema declares', () => {
    expect(Object.keys(registry).sort()).toEqual(Object.keys(providerSchemas).sort());
    for (const type of providerTypes) {
      expect(providerSchemas[type].inventory.shape.type.value).toBe(type);
      // The runtime half uses the very schemas the inventory and the workflow types are built from.
      expect(registry[type].inventory).toBe(providerSchemas[type].inventory);
      expect(registry[type].credential).toBe(providerSchemas[type].credential);
    }
  });

  it('lists every provider type for the inventory error', () => {
    expect(providerTypeList()).toBe('"postgres", "approle-secret-id", "mysql", "redis-acl" or "aws-iam-access-key"');
  });

  it('a definition offers break-glass exactly when its traits say so', () => {
    for (const type of providerTypes) expect(Boolean(registry[type].breakGlass)).toBe(Boolean(providerSchemas[type].traits.breakGlass));
  });
});
