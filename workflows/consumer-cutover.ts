import { condition, upsertSearchAttributes } from '@temporalio/workflow';
import { failureMessage, isTimeout } from './failure-message.js';
import { bestEffort, confirmation, revocation, target } from './rotation-activities.js';
import { Phase, type RotationRef, type RotationSpec, type RotationStatus } from './rotation-types.js';
import { PHASE } from './search-attributes.js';

/** A failure after promotion: the previous version must come back (or, in an emergency, be reported). */
export class CutoverFailed extends Error {
  constructor(
    readonly phase: Phase,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Tells every consumer about `newVersion` and waits for each, in parallel, at most `maxWaitMs`
 * (or its own timeout, if shorter); throws CutoverFailed naming every consumer that failed or
 * timed out. Each consumer's progress shows in `state`.
 */
export async function awaitConfirmations(
  ref: RotationRef,
  state: RotationStatus,
  spec: RotationSpec,
  oldVersion: number,
  newVersion: number,
  maxWaitMs = Infinity,
): Promise<void> {
  const failures: string[] = [];
  await Promise.all(
    spec.consumers.map(async (c) => {
      const consumer = state.consumers.find((s) => s.name === c.name)!;
      consumer.status = 'notified';
      try {
        const waitMs = Math.min(c.timeoutMs, maxWaitMs);
        const act = confirmation(waitMs);
        switch (c.mode) {
          case 'webhook':
            await act.notifyConsumer({ ...ref, consumer: c.name, version: newVersion, purpose: 'cutover' });
            break;
          case 'health':
            await act.awaitHealthVersion({ ...ref, consumer: c.name, version: newVersion });
            break;
          case 'pg-sessions':
            await act.awaitSessionsDrained({ ...ref, consumer: c.name, oldVersion, newVersion });
            break;
          case 'manual':
            if (!(await condition(() => consumer.status === 'confirmed', waitMs))) {
              consumer.status = 'timed_out';
              consumer.detail = `no confirmation within ${waitMs / 1000}s`;
              failures.push(`${c.name}: ${consumer.detail}`);
            }
            return;
        }
        consumer.status = 'confirmed';
        consumer.confirmedVersion = newVersion;
        consumer.confirmedBy = `rotor (${c.mode})`;
      } catch (err) {
        consumer.status = isTimeout(err) ? 'timed_out' : 'failed';
        consumer.detail = failureMessage(err);
        failures.push(`${c.name}: ${consumer.detail}`);
      }
    }),
  );
  if (failures.length)
    throw new CutoverFailed(Phase.AWAITING_CONFIRMATION, `consumers did not confirm version ${newVersion}: ${failures.join('; ')}`);
}

/**
 * Re-promotes `previousVersion` (invariant rollback-to-a-version), tells consumers (best effort),
 * revokes the staged credential. Returns the version that is current again.
 */
export async function rollBack(
  ref: RotationRef,
  state: RotationStatus,
  spec: RotationSpec,
  previousVersion: number,
  promotedVersion: number,
): Promise<number> {
  state.phase = Phase.ROLLING_BACK;
  upsertSearchAttributes([{ key: PHASE, value: Phase.ROLLING_BACK }]);
  const { restoredVersion } = await target.rollbackToVersion({ ...ref, previousVersion, promotedVersion });
  state.toVersion = restoredVersion;
  await Promise.all(
    spec.consumers.map(async (c) => {
      try {
        if (c.mode === 'webhook')
          await bestEffort.notifyConsumer({ ...ref, consumer: c.name, version: restoredVersion, purpose: 'rollback' });
        if (c.mode === 'health') await bestEffort.awaitHealthVersion({ ...ref, consumer: c.name, version: restoredVersion });
      } catch {
        // Best effort: the restored version is current in Vault whatever the consumer says.
      }
    }),
  );
  await revocation.discardStaged({ ...ref, revoke: true });
  return restoredVersion;
}
