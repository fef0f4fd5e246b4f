import { allHandlersFinished, ApplicationFailure, CancellationScope, condition, log, patched, setHandler } from '@temporalio/workflow';
import { describeIssues, endRevocationInput, IDENTITY_REQUIRED } from '../config/workflow-inputs.js';
import { endRevocationUpdate } from './contracts.js';
import { failureMessage } from './failure-message.js';
import { FailureType } from './failure-types.js';
import { Patch } from './patches.js';
import { persistentRevocation, quick } from './rotation-activities.js';
import type { RotationRun } from './rotation-state.js';
import type { RetireResult } from './rotation-types.js';
import { proveIdentity, requireGroup } from './verified-identity.js';

export type PersistentRetire = { outcome: 'retired'; retired: RetireResult } | { outcome: 'ended'; by: string; reason: string };

/**
 * Invariant compromised-never-left-valid: an emergency revocation whose fast attempts failed (the
 * target down, the role row locked) keeps trying with backoff until the old credential is verified
 * refused, or until a verified incident responder ends it with the endRevocation update (`rotor
 * incident end-revocation`). Meanwhile the status query and (best effort) an audit row say so, and each
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
  /** Set when an end is accepted (before its identity and audit row), so that a second one is refused. */
  let ending = false;
  /** Set once the end's audit row is written: only then does it take effect. */
  let ended: { by: string; reason: string } | undefined;
  setHandler(
    endRevocationUpdate,
    async (input) => {
      ending = true;
      try {
        let by = input.by ?? '';
        // Earlier histories took the declared name (Patch.VERIFIED_IDENTITY).
        if (patched(Patch.VERIFIED_IDENTITY)) {
          const who = await proveIdentity(input.identity, `end the emergency revocation of ${run.ref.secretId}`, run.ref.secretId);
          requireGroup(who, await quick.incidentResponderGroups(), `end the emergency revocation of ${run.ref.secretId}`);
          by = who.name;
          // The attempt in flight may have revoked while the identity was verified.
          if (!run.state.revocationRetrying)
            throw ApplicationFailure.nonRetryable(
              `${run.ref.secretId}: the emergency revocation succeeded meanwhile; nothing to end`,
              FailureType.RevocationNotRetrying,
            );
        }
        // Audited first: a person's decision that left no row changes nothing.
        await run.event('revocation_ended_by_person', 'succeeded', { by, reason: input.reason });
        ended = { by, reason: input.reason };
      } catch (err) {
        ending = false;
        throw err;
      }
      return run.state;
    },
    {
      validator: (raw) => {
        const parsed = endRevocationInput.safeParse(raw);
        if (!parsed.success)
          throw ApplicationFailure.nonRetryable(`invalid endRevocation: ${describeIssues(parsed.error)}`, FailureType.InvalidInput);
        if (!parsed.data.identity) throw ApplicationFailure.nonRetryable(IDENTITY_REQUIRED, FailureType.IdentityRefused);
        if (!run.state.revocationRetrying || ending) {
          throw ApplicationFailure.nonRetryable(
            `${run.ref.secretId}: no emergency revocation is being retried${ended ? ` (${ended.by} already ended it)` : ending ? ' (someone is ending it)' : ''}`,
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
