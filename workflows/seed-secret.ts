import { ApplicationFailure } from '@temporalio/workflow';
import { describeIssues, rotateSecretInput } from '../config/workflow-inputs.js';
import { target } from './rotation-activities.js';
import { FailureType } from './failure-types.js';

/** Gives a secret from the inventory its first version (Vault first, then the target). */
export async function seedSecret(raw: { secretId: string; requestedBy?: string }): Promise<{ version: number; created: boolean }> {
  const parsed = rotateSecretInput.pick({ secretId: true, requestedBy: true }).safeParse(raw ?? {});
  if (!parsed.success)
    throw ApplicationFailure.nonRetryable(`invalid seedSecret input: ${describeIssues(parsed.error)}`, FailureType.InvalidInput);
  return target.seedSecret({ secretId: parsed.data.secretId, actor: parsed.data.requestedBy ?? 'unattributed' });
}
