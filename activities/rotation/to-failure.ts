import { ApplicationFailure } from '@temporalio/common';
import { CredentialRejectedError, TargetUnavailableError } from '../providers/provider.js';
import { VaultRequestError } from '../../vault/vault-error.js';

/**
 * Maps provider and Vault errors to typed Temporal failures: a refused credential, a CAS
 * conflict or a permission error cannot be fixed by retrying; an unreachable target can.
 */
export function toFailure(err: unknown): unknown {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof CredentialRejectedError) return ApplicationFailure.nonRetryable(err.message, 'CredentialRejected');
  if (err instanceof TargetUnavailableError) return ApplicationFailure.retryable(err.message, 'TargetUnavailable');
  if (err instanceof VaultRequestError) {
    if (err.isCasMismatch) return ApplicationFailure.nonRetryable(err.message, 'CasConflict');
    if (err.status === 403) return ApplicationFailure.nonRetryable(err.message, 'VaultPermissionDenied');
    if (err.status === 400) return ApplicationFailure.nonRetryable(err.message, 'VaultRejected');
    if (err.status === 503 && err.vaultErrors.some((e) => /sealed/i.test(e)))
      return ApplicationFailure.retryable(err.message, 'VaultSealed');
    return ApplicationFailure.retryable(err.message, 'VaultUnavailable');
  }
  return err;
}
