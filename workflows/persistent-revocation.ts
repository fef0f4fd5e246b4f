import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  log,
  setHandler,
} from '@temporalio/workflow';
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
  /** The retire step's input, without the finish row: the workflow writes that, once, however it ends. */
  retire: Omit<Parameters<typeof persistentRevocation.emergencyRetire>[0], 'finishEventId'>,
): Promise<PersistentRetire> {
  const retrying = { since: new Date().toISOString(), firstFailure: failureMessage(firstFailure) };
  run.state.revocationRetrying = retrying;
  let ended: EndRevocationInput | undefined;
  setHandler(
    endRevocationUpdate,
    async (input) => {
      // Audited first: a person's decision that left no row changes nothing.
      await run.event('revocation_ended_by_person', 'succeeded', { by: input.by, reason: input.reason });
      ended ??= input;
      return run.state;
    },
    {
      validator: (raw) => {
        const parsed = endRevocationInput.safeParse(raw);
        if (!parsed.success)
          throw ApplicationFailure.nonRetryable(`invalid endRevocation: ${describeIssues(parsed.error)}`, FailureType.InvalidInput);
        if (!run.state.revocationRetrying || ended) {
          throw ApplicationFailure.nonRetryable(
            `${run.ref.secretId}: no emergency revocation is being retried${ended ? ` (${ended.by} already ended it)` : ''}`,
            FailureType.RevocationNotRetrying,
          );
        }
      },
    },
  );
  log.error('emergency revocation failed; retrying until the old credential is refused', {
    secretId: run.ref.secretId,
    failure: retrying.firstFailure,
  });
  // The alert is best effort: rotor's own database may be what is down.
  await run.event('revocation_retrying', 'failed', { reason: retrying.firstFailure }).catch((err: unknown) => {
    log.error('could not record revocation_retrying; retrying the revocation anyway', { error: failureMessage(err) });
  });

  const scope = new CancellationScope();
  const attempt = scope.run(() => persistentRevocation.emergencyRetire(retire));
  const outcome = await Promise.race([
    attempt.then((retired): PersistentRetire => ({ outcome: 'retired', retired })),
    condition(() => ended !== undefined).then((): PersistentRetire => ({ outcome: 'ended', by: ended!.by, reason: ended!.reason })),
  ]);
  run.state.revocationRetrying = undefined;
  if (outcome.outcome === 'ended') {
    // An attempt already waiting on the target may still finish (and revoke) after this.
    scope.cancel();
    await attempt.catch((err: unknown) => {
      if (!isCancellation(err) && !(err instanceof ActivityFailure && isCancellation(err.cause))) throw err;
    });
    // The person's update is answered (and its audit row written) before the rotation ends.
    await condition(allHandlersFinished);
  }
  return outcome;
}
