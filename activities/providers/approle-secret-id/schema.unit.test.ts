import { describe, expect, it } from 'vitest';
import { approleSpec } from './schema.js';

describe('the approle-secret-id inventory entry', () => {
  it('lets rotor choose the secret ID unless told otherwise', () => {
    expect(approleSpec.parse({ type: 'approle-secret-id', role: 'billing-service' })).toEqual({
      type: 'approle-secret-id',
      role: 'billing-service',
      mount: 'approle',
      secretIdSource: 'rotor',
    });
    expect(approleSpec.parse({ type: 'approle-secret-id', role: 'billing-service', secretIdSource: 'vault' }).secretIdSource).toBe('vault');
  });

  it('rejects an unknown secretIdSource, naming both choices', () => {
    const parsed = approleSpec.safeParse({ type: 'approle-secret-id', role: 'billing-service', secretIdSource: 'consumer' });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([
      'secretIdSource: secretIdSource must be "rotor" (rotor generates the secret ID) or "vault" (Vault generates it and rotor stages it at once)',
    ]);
  });
});
