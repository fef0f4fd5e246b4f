import { ApplicationFailure } from '@temporalio/common';
import { CredentialRejectedError, TargetUnavailableError } from '../providers/provider.js';
import { VaultRequestError } from '../../vault/vault-error.js';
import { FailureType } from '../../workflows/failure-types.js';

/**
 * Maps provider and Vault errors to typed Temporal failures: a refused credential, a CAS
 * conflict or a permission error cannot be fixed by retrying; an unreachable target can.
 */
export function toFailure(err: unknown): unknown {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof CredentialRejectedError) return ApplicationFailure.nonRetryable(err.message, FailureType.CredentialRejected);
  if (err instanceof TargetUnavailableError) return ApplicationFailure.retryable(err.message, FailureType.TargetUnavailable);
  if (err instanceof VaultRequestError) {
    if (err.isCasMismatch) return ApplicationFailure.nonRetryable(err.message, FailureType.CasConflict);
    if (err.status === 403) return ApplicationFailure.nonRetryable(err.message, FailureType.VaultPermissionDenied);
    if (err.status === 400) return ApplicationFailure.nonRetryable(err.message, FailureType.VaultRejected);
    if (err.status === 503 && err.vaultErrors.some((e) => /sealed/i.test(e)))
      return ApplicationFailure.retryable(err.message, FailureType.VaultSealed);
    return ApplicationFailure.retryable(err.message, FailureType.VaultUnavailable);
  }
  return err;
}
