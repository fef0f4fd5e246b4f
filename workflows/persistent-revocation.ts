import { ActivityFailure, ApplicationFailure, CancellationScope, condition, isCancellation, log, setHandler } from '@temporalio/workflow';
import { describeIssues, endRevocationInput, type EndRevocationInput } from '../config/workflow-inputs.js';
import { endRevocationUpdate } from './contracts.js';
import { failureMessage } from './failure-message.js';
import { FailureType } from './failure-types.js';
import { persistentRevocation } from './rotation-activities.js';
import type { RotationRun } from './rotation-state.js';
import type { RetireResult } from './rotation-types.js';

export type PersistentRetire = { outcome: 'retired'; retired: RetireResult } | { outcome: 'ended'; by: string; reason: string };

/**
 * Invariant compromised-never-left-valid: an emergency revocation whose fast attempts failed (the
 * target down, the role row locked) keeps trying with backoff until the old credential is verified
 * refused, or until a person ends it with the endRevocation update (`rotor incident
 * end-revocation`). Meanwhile the status query and an audit row say so, and each failed attempt is
 * its own audit row and warning: the alert.
 */
export async function revokeUntilRefused(
  run: RotationRun,
  firstFailure: unknown,
  retire: Parameters<typeof persistentRevocation.emergencyRetire>[0],
): Promise<PersistentRetire> {
  const retrying = { since: new Date().toISOString(), firstFailure: failureMessage(firstFailure) };
  run.state.revocationRetrying = retrying;
  let ended: EndRevocationInput | undefined;
  setHandler(
    endRevocationUpdate,
    async (input) => {
      ended = input;
      await run.event('revocation_ended_by_person', 'succeeded', { by: input.by, reason: input.reason });
      return run.state;
    },
    {
      validator: (raw) => {
        const parsed = endRevocationInput.safeParse(raw);
        if (!parsed.success)
          throw ApplicationFailure.nonRetryable(`invalid endRevocation: ${describeIssues(parsed.error)}`, FailureType.InvalidInput);
      },
    },
  );
  log.error('emergency revocation failed; retrying until the old credential is refused', {
    secretId: run.ref.secretId,
    failure: retrying.firstFailure,
  });
  await run.event('revocation_retrying', 'failed', { reason: retrying.firstFailure });

  const scope = new CancellationScope();
  const attempt = scope.run(() => persistentRevocation.emergencyRetire(retire));
  const outcome = await Promise.race([
    attempt.then((retired): PersistentRetire => ({ outcome: 'retired', retired })),
    condition(() => ended !== undefined).then((): PersistentRetire => ({ outcome: 'ended', by: ended!.by, reason: ended!.reason })),
  ]);
  if (outcome.outcome === 'ended') {
    scope.cancel();
    await attempt.catch((err: unknown) => {
      if (!isCancellation(err) && !(err instanceof ActivityFailure && isCancellation(err.cause))) throw err;
    });
  }
  run.state.revocationRetrying = undefined;
  return outcome;
}
