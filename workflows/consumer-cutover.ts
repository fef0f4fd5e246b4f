import { ApplicationFailure, condition, patched, upsertSearchAttributes } from '@temporalio/workflow';
import { failureMessage, isTimeout } from './failure-message.js';
import { tellRestoredV1 } from './legacy/tell-restored-v1.js';
import { FailureType } from './failure-types.js';
import { Patch } from './patches.js';
import { confirmation, revocation, target } from './rotation-activities.js';
import {
  Phase,
  type ConsumerState,
  type PendingRevocation,
  type RotationRef,
  type RotationSpec,
  type RotationStatus,
} from './rotation-types.js';
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
      const waitMs = Math.min(c.timeoutMs, maxWaitMs);
      try {
        if (await confirmThroughMode(ref, c, consumer, { from: oldVersion, to: newVersion, purpose: 'cutover' }, waitMs)) return;
        consumer.status = 'timed_out';
        consumer.detail = noConfirmation(waitMs);
      } catch (err) {
        consumer.status = isTimeout(err) ? 'timed_out' : 'failed';
        consumer.detail = failureMessage(err);
      }
      failures.push(`${c.name}: ${consumer.detail}`);
    }),
  );
  if (failures.length)
    throw new CutoverFailed(Phase.AWAITING_CONFIRMATION, `consumers did not confirm version ${newVersion}: ${failures.join('; ')}`);
}

/**
 * Re-promotes `previousVersion` (invariant rollback-to-a-version), tells every consumer, and
 * revokes the staged credential once no consumer uses it any more (invariant
 * one-working-credential): each consumer that had confirmed the new version must confirm the
 * restored one through its own mode first. One that does not within its timeout is returned as a
 * pending revocation, and the staged credential stays valid for it.
 */
export async function rollBack(
  ref: RotationRef,
  state: RotationStatus,
  spec: RotationSpec,
  previousVersion: number,
  promotedVersion: number,
  { preempted }: { preempted: boolean },
): Promise<{ restoredVersion: number; pendingRevocation?: PendingRevocation }> {
  state.phase = Phase.ROLLING_BACK;
  upsertSearchAttributes([{ key: PHASE, value: Phase.ROLLING_BACK }]);
  const { restoredVersion } = await target.rollbackToVersion({ ...ref, previousVersion, promotedVersion });
  state.toVersion = restoredVersion;
  // Pre-empted by an incident: the emergency rotation that waits for this one tells every
  // consumer of its own new version within seconds, so nobody waits here for consumers to move back.
  if (!patched(Patch.ROLLBACK_WAITS_FOR_CONSUMERS) || preempted) {
    await tellRestoredV1(ref, spec, restoredVersion);
  } else {
    const stranded = await awaitRestored(ref, state, spec, promotedVersion, restoredVersion);
    if (stranded.length) return { restoredVersion, pendingRevocation: { version: promotedVersion, consumers: stranded } };
  }
  await revocation.discardStaged({ ...ref, revoke: true });
  return { restoredVersion };
}

/**
 * Tells each consumer about the restored version. One still on the previous version only needs to
 * hear it; one that had moved to the new version must confirm, as it confirmed the cutover (a
 * manual consumer through the confirmCutover update with the restored version). Returns the
 * consumers that had moved and did not confirm.
 */
async function awaitRestored(
  ref: RotationRef,
  state: RotationStatus,
  spec: RotationSpec,
  promotedVersion: number,
  restoredVersion: number,
): Promise<string[]> {
  const stranded: string[] = [];
  await Promise.all(
    spec.consumers.map(async (c) => {
      const consumer = state.consumers.find((s) => s.name === c.name)!;
      if (consumer.status !== 'confirmed') {
        await tellRestoredV1(ref, { ...spec, consumers: [c] }, restoredVersion);
        return;
      }
      Object.assign(consumer, { status: 'notified', restoring: true, detail: `must confirm the restored version ${restoredVersion}` });
      let why: string;
      try {
        const move = { from: promotedVersion, to: restoredVersion, purpose: 'rollback' } as const;
        if (await confirmThroughMode(ref, c, consumer, move, c.timeoutMs)) {
          Object.assign(consumer, { restoring: false, detail: undefined });
          return;
        }
        consumer.status = 'timed_out';
        why = noConfirmation(c.timeoutMs);
      } catch (err) {
        consumer.status = isTimeout(err) ? 'timed_out' : 'failed';
        why = failureMessage(err);
      }
      consumer.detail = `did not confirm the restored version ${restoredVersion}: ${why}; version ${promotedVersion} stays valid for it`;
      stranded.push(c.name);
    }),
  );
  return stranded;
}

const noConfirmation = (waitMs: number) => `no confirmation within ${waitMs / 1000}s`;

/**
 * Waits for one consumer to confirm version `move.to` through its own mode, at most `waitMs`.
 * False when a manual consumer did not confirm in time; throws when the mode's activity failed or
 * timed out. On success the consumer's state says so (a manual one's update already did).
 */
async function confirmThroughMode(
  ref: RotationRef,
  c: RotationSpec['consumers'][number],
  consumer: ConsumerState,
  move: { from: number; to: number; purpose: 'cutover' | 'rollback' },
  waitMs: number,
): Promise<boolean> {
  const act = confirmation(waitMs);
  switch (c.mode) {
    case 'webhook':
      await act.notifyConsumer({ ...ref, consumer: c.name, version: move.to, purpose: move.purpose });
      break;
    case 'health':
      await act.awaitHealthVersion({ ...ref, consumer: c.name, version: move.to });
      break;
    case 'pg-sessions':
    case 'sessions':
      await act.awaitSessionsDrained({ ...ref, consumer: c.name, oldVersion: move.from, newVersion: move.to });
      break;
    case 'manual':
      return condition(() => consumer.status === 'confirmed', waitMs);
    default:
      // A mode this code does not know (an inventory ahead of this worker) must never count as confirmed.
      throw ApplicationFailure.nonRetryable(
        `consumer "${c.name}": unknown confirm mode "${String(c.mode satisfies never)}"`,
        FailureType.WrongConfirmMode,
      );
  }
  Object.assign(consumer, { status: 'confirmed', confirmedVersion: move.to, confirmedBy: `rotor (${c.mode})` });
  return true;
}
