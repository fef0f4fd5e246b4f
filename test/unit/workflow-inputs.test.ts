import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  approvalInput,
  breakGlassRequestInput,
  confirmCutoverInput,
  denialInput,
  describeIssues,
  IDENTITY_REQUIRED,
  revokeGrantInput,
  rotateSecretInput,
  unfreezeInput,
} from '../../config/workflow-inputs.js';

/** The describeIssues text for an input the schema must reject. */
function rejection(schema: z.ZodType, input: unknown): string {
  const parsed = schema.safeParse(input);
  expect(parsed.success, `${JSON.stringify(input)} should be rejected`).toBe(false);
  return describeIssues(parsed.error!);
}

describe('rotateSecretInput', () => {
  it('accepts {secretId: "payments-db"} unchanged', () => {
    expect(rotateSecretInput.parse({ secretId: 'payments-db' })).toEqual({ secretId: 'payments-db' });
  });

  it('accepts every optional field', () => {
    const input = { secretId: 'payments-db', requestedBy: 'alice', emergency: true, reason: 'key leaked in a log' };
    expect(rotateSecretInput.parse(input)).toEqual(input);
  });

  it('rejects unknown keys (strict) instead of dropping them', () => {
    expect(rejection(rotateSecretInput, { secretId: 'payments-db', emergancy: true })).toBe('(input): Unrecognized key: "emergancy"');
  });

  it.each(['Payments-DB', 'payments_db', '-payments', 'payments db', '', 'a'.repeat(64)])(
    'rejects the id %j, naming secretId',
    (secretId) => {
      expect(rejection(rotateSecretInput, { secretId })).toBe('secretId: the id of a secret in the inventory, e.g. "payments-db"');
    },
  );

  it('rejects a missing secretId, naming the field', () => {
    expect(rejection(rotateSecretInput, {})).toBe('secretId: Invalid input: expected string, received undefined');
  });

  it('rejects a non-object input as a whole', () => {
    expect(rejection(rotateSecretInput, null)).toBe('(input): Invalid input: expected object, received null');
    expect(rejection(rotateSecretInput, 'payments-db')).toBe('(input): Invalid input: expected object, received string');
  });

  it('joins several problems with "; ", each naming its field', () => {
    const text = rejection(rotateSecretInput, { secretId: 'BAD', requestedBy: '', emergency: 'yes', reason: 'x'.repeat(501) });
    const parts = text.split('; ');
    expect(parts).toHaveLength(4);
    expect(parts[0]).toMatch(/^secretId: /);
    expect(parts[1]).toMatch(/^requestedBy: /);
    expect(parts[2]).toBe('emergency: Invalid input: expected boolean, received string');
    expect(parts[3]).toMatch(/^reason: .*500/);
  });
});

describe('confirmCutoverInput', () => {
  it('accepts a consumer and a positive integer version', () => {
    expect(confirmCutoverInput.parse({ consumer: 'billing', version: 7 })).toEqual({ consumer: 'billing', version: 7 });
    expect(confirmCutoverInput.parse({ consumer: 'billing', version: 1, confirmedBy: 'alice' })).toEqual({
      consumer: 'billing',
      version: 1,
      confirmedBy: 'alice',
    });
  });

  it('requires the consumer', () => {
    expect(rejection(confirmCutoverInput, { version: 3 })).toBe('consumer: Invalid input: expected string, received undefined');
    expect(rejection(confirmCutoverInput, { consumer: '', version: 3 })).toBe('consumer: name the consumer that cut over, e.g. "billing"');
  });

  it('requires the version', () => {
    expect(rejection(confirmCutoverInput, { consumer: 'billing' })).toBe('version: Invalid input: expected number, received undefined');
  });

  it.each([0, -1])('rejects the version %d (not positive)', (version) => {
    expect(rejection(confirmCutoverInput, { consumer: 'billing', version })).toBe('version: the Vault KV version the consumer now uses');
  });

  it('rejects a fractional version', () => {
    expect(rejection(confirmCutoverInput, { consumer: 'billing', version: 1.5 })).toMatch(/^version: .*int/);
  });

  it('rejects a version given as a string (no coercion)', () => {
    expect(rejection(confirmCutoverInput, { consumer: 'billing', version: '3' })).toBe(
      'version: Invalid input: expected number, received string',
    );
  });

  it('rejects unknown keys (strict)', () => {
    expect(rejection(confirmCutoverInput, { consumer: 'billing', version: 3, by: 'alice' })).toBe('(input): Unrecognized key: "by"');
  });
});

describe('identity-bearing inputs', () => {
  const token = `eyJhbGciOiJSUzI1NiJ9.${'x'.repeat(40)}.sig`;

  it('carry a Vault identity token instead of a name', () => {
    expect(confirmCutoverInput.parse({ consumer: 'billing', version: 3, identity: token })).toEqual({
      consumer: 'billing',
      version: 3,
      identity: token,
    });
    expect(approvalInput.parse({ identity: token, comment: 'ok' })).toEqual({ identity: token, comment: 'ok' });
    expect(revokeGrantInput.parse({ identity: token })).toEqual({ identity: token });
    expect(
      breakGlassRequestInput.parse({ policyId: 'bg-ops', identity: token, justification: 'payments are failing', ttl: '15m' }),
    ).toEqual({ policyId: 'bg-ops', identity: token, justification: 'payments are failing', ttl: '15m' });
    expect(unfreezeInput.parse({ incidentId: 'inc-1', identity: token })).toEqual({ incidentId: 'inc-1', identity: token });
  });

  it('rejects something that cannot be an identity token, saying where one comes from', () => {
    expect(rejection(approvalInput, { identity: 'carol' })).toMatch(
      /^identity: a Vault identity token \(JWT\) from identity\/oidc\/token\/rotor/,
    );
    expect(rejection(denialInput, { identity: 'x', comment: 'no' })).toMatch(/^identity: /);
  });

  it('the refusal of a payload without a token starts "identity: required"', () => {
    expect(IDENTITY_REQUIRED).toMatch(/^identity: required/);
  });
});
