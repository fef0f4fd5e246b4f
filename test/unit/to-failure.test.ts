import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { CredentialRejectedError, TargetUnavailableError } from '../../activities/providers/provider.js';
import { toFailure } from '../../activities/rotation/to-failure.js';
import { VaultRequestError } from '../../vault/vault-error.js';

const typed = (err: unknown) => {
  const failure = toFailure(err);
  expect(failure).toBeInstanceOf(ApplicationFailure);
  const { type, nonRetryable } = failure as ApplicationFailure;
  return { type, nonRetryable };
};

describe('toFailure: provider and Vault errors become typed Temporal failures', () => {
  it('retries what may pass (target down, Vault sealed or unreachable), not what cannot', () => {
    expect(typed(new TargetUnavailableError('connection refused'))).toEqual({ type: 'TargetUnavailable', nonRetryable: false });
    expect(typed(new CredentialRejectedError('password authentication failed'))).toEqual({
      type: 'CredentialRejected',
      nonRetryable: true,
    });
    expect(typed(new VaultRequestError('GET', 'rotor/metadata/db', 503, ['Vault is sealed']))).toEqual({
      type: 'VaultSealed',
      nonRetryable: false,
    });
    expect(typed(new VaultRequestError('GET', 'rotor/metadata/db', 502, ['bad gateway']))).toEqual({
      type: 'VaultUnavailable',
      nonRetryable: false,
    });
    expect(
      typed(new VaultRequestError('POST', 'rotor/data/db', 400, ['check-and-set parameter did not match the current version'])),
    ).toEqual({
      type: 'CasConflict',
      nonRetryable: true,
    });
    expect(typed(new VaultRequestError('GET', 'rotor/data/db', 403, ['permission denied']))).toEqual({
      type: 'VaultPermissionDenied',
      nonRetryable: true,
    });
  });

  it('leaves other errors as they are', () => {
    const plain = new Error('bug');
    expect(toFailure(plain)).toBe(plain);
  });
});
