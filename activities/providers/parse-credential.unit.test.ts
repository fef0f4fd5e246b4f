import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { approleCredential } from './approle-secret-id/schema.js';
import { parseCredential } from './parse-credential.js';
import { postgresAdmin, postgresCredential } from './postgres/schema.js';

const WHERE = 'version 3 of rotor/apps/payments-db';
const stored = { username: 'app_a', password: 'pw-9f2c1d7e5b', host: '127.0.0.1', port: '5544', database: 'demo' };

/** The failure parseCredential throws for `data`; fails the test if it parses. */
function failure(schema: Parameters<typeof parseCredential>[0], data: unknown): ApplicationFailure {
  try {
    parseCredential(schema, data, WHERE);
  } catch (err) {
    expect(err).toBeInstanceOf(ApplicationFailure);
    return err as ApplicationFailure;
  }
  throw new Error('the credential should have been rejected');
}

describe('parseCredential: a credential read from Vault, checked against its provider’s schema', () => {
  it('returns the typed credential and keeps extra string fields consumers may read', () => {
    const parsed = parseCredential(postgresCredential, { ...stored, sslmode: 'require' }, WHERE);
    expect(parsed).toEqual({ ...stored, sslmode: 'require' });
    expect(parsed.username).toBe('app_a');
  });

  it('names the missing field and where it was read, non-retryably, without any value', () => {
    const { password: _dropped, ...withoutPassword } = stored;
    const err = failure(postgresCredential, withoutPassword);
    expect(err.type).toBe('MalformedCredential');
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toContain(WHERE);
    expect(err.message).toContain('field "password" is missing');
    for (const value of Object.values(stored)) if (value.length > 4) expect(err.message).not.toContain(value);
  });

  it('names a field that is not a string without repeating it', () => {
    const secretId = '0d5c3e7a-2b1f-4c9e-8a6d-41f0e2b7c913';
    const err = failure(approleCredential, { role_id: 12345678, secret_id: secretId });
    expect(err.message).toContain('field "role_id" is not a string');
    expect(err.message).not.toContain('12345678');
    expect(err.message).not.toContain(secretId);
  });

  it('reports every problem at once, and data that is not an object at all', () => {
    const err = failure(postgresAdmin, { username: 'rotor_admin', password: 'admin-pw-5e1f' });
    expect(err.message).toContain('field "host" is missing; field "port" is missing; field "database" is missing');
    expect(err.message).not.toContain('admin-pw-5e1f');
    expect(failure(postgresAdmin, 'a string').message).toContain('is not an object of string fields');
  });
});
