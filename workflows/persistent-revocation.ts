import { allHandlersFinished, ApplicationFailure, CancellationScope, condition, log, setHandler } from '@temporalio/workflow';
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
 * end-revocation`). Meanwhile the status query and (best effort) an audit row say so, and each
 * failed attempt is its own audit row and warning: the alert. An attempt already at the target when
 * a person ends it settles first: if it revoked, the rotation reports that.
 */
export async function revokeUntilRefused(
  run: RotationRun,
  firstFailure: unknown,
  /** The retire step's input, without the finish row: the workflow writes that, once, however it ends. */
  retire: Omit<Parameters<typeof persistentRevocation.emergencyRetire>[0], 'finishEventId'>,
): Promise<PersistentRetire> {
  const retrying = { since: new Date().toISOString(), firstFailure: failureMessage(firstFailure) };
  run.state.revocationRetrying = retrying;
  /** Set when an end is accepted (before its audit row), so that a second one is refused. */
  let ending: EndRevocationInput | undefined;
  /** Set once the end's audit row is written: only then does it take effect. */
  let ended: EndRevocationInput | undefined;
  setHandler(
    endRevocationUpdate,
    async (input) => {
      ending = input;
      try {
        // Audited first: a person's decision that left no row changes nothing.
        await run.event('revocation_ended_by_person', 'succeeded', { by: input.by, reason: input.reason });
      } catch (err) {
        ending = undefined;
        throw err;
      }
      ended = input;
      return run.state;
    },
    {
      validator: (raw) => {
        const parsed = endRevocationInput.safeParse(raw);
        if (!parsed.success)
          throw ApplicationFailure.nonRetryable(`invalid endRevocation: ${describeIssues(parsed.error)}`, FailureType.InvalidInput);
        if (!run.state.revocationRetrying || ending) {
          throw ApplicationFailure.nonRetryable(
            `${run.ref.secretId}: no emergency revocation is being retried${ending ? ` (${ending.by} already ended it)` : ''}`,
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

  const scope = new CancellationScope();
  const attempt = scope.run(() => persistentRevocation.emergencyRetire(retire));
  // The alert is best effort (rotor's own database may be what is down) and never delays the attempt.
  const alert = run.event('revocation_retrying', 'failed', { reason: retrying.firstFailure }).catch((err: unknown) => {
    log.error('could not record revocation_retrying; retrying the revocation anyway', { error: failureMessage(err) });
  });
  let outcome = await Promise.race([
    attempt.then((retired): PersistentRetire => ({ outcome: 'retired', retired })),
    condition(() => ended !== undefined).then((): PersistentRetire => ({ outcome: 'ended', by: ended!.by, reason: ended!.reason })),
  ]);
  if (outcome.outcome === 'ended') {
    // Stop retrying, but let an attempt already at the target settle: if it revoked and verified,
    // that is the truth to report (the persistentRevocation proxy waits for the cancellation).
    scope.cancel();
    // Cancelled, or failed once more: either way not revoked, and the person's end stands.
    const settled = await attempt.catch(() => undefined);
    if (settled) outcome = { outcome: 'retired', retired: settled };
  }
  run.state.revocationRetrying = undefined;
  await alert;
  // A person's update is answered (and its audit row written) before the rotation ends.
  await condition(allHandlersFinished);
  return outcome;
}
