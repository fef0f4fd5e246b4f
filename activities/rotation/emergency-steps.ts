import { ApplicationFailure } from '@temporalio/common';
import { Phase, type EmergencyCutoverResult, type RetireResult, type RotationRef } from '../../workflows/rotation-types.js';
import type { ActivityContext } from '../activity-context.js';
import { prepareRotationActivities } from './prepare-rotation.js';
import { appendRotationEvent } from './rotation-events.js';
import { toFailure } from './to-failure.js';
import { stagedCredentialActivities } from './staged-credential.js';
import { versionActivities } from './versions.js';

/**
 * Incident response rotates hundreds of secrets at once, and each workflow step costs the worker a
 * round trip into the workflow sandbox. An emergency rotation outside a plan has no gates and no
 * overlap, so the steps that run back to back run as one activity each side of the consumers, and
 * as one activity in all when there are no consumers to wait for.
 * Every step keeps its own audit row and its idempotency (a retry reuses the staged credential and
 * recognises its own promotion), so retrying the whole activity is safe.
 */
export function emergencyStepActivities(ctx: ActivityContext) {
  const prepare = prepareRotationActivities(ctx);
  const staged = stagedCredentialActivities(ctx);
  const versions = versionActivities(ctx);

  /**
   * Post-validates the promoted version once (with `validateVersion`), then revokes the old
   * version (its sessions ended), verifies it is refused, removes the staged copy and (with
   * `finishEventId`) records that the rotation finished. In an emergency the old credential goes
   * whatever post-validation says, so its failure is returned for the report, not thrown.
   */
  async function emergencyRetire(
    ref: RotationRef & { version: number; validateVersion?: number; finishEventId?: string },
  ): Promise<RetireResult> {
    let validationFailure: string | undefined;
    if (ref.validateVersion !== undefined) {
      await versions.postValidate({ ...ref, version: ref.validateVersion }).catch((err: unknown) => {
        validationFailure = (err as Error).message;
      });
    }
    await versions.revokeVersion({ ...ref, terminateSessions: true });
    await staged.discardStaged({ ...ref, revoke: false });
    if (ref.finishEventId !== undefined) {
      await appendRotationEvent(ctx, {
        ...ref,
        eventId: ref.finishEventId,
        step: 'rotation_finished',
        outcome: 'succeeded',
        fromVersion: ref.version,
        toVersion: ref.validateVersion,
        detail: { outcome: 'rotated', reason: null },
      });
    }
    return validationFailure === undefined ? {} : { validationFailure };
  }

  /**
   * Everything before the consumers: the start row and the spec, pre-checks, then stage → apply →
   * test → promote. A failure after the spec carries the phase it happened in and the version
   * that was current (once known) as its details. With `finishEventId` and a secret that has no
   * consumers, nothing stands between promotion and retirement, so it retires the old version too.
   */
  async function emergencyCutover(
    start: RotationRef & { reason: string | null; eventId: string; finishEventId?: string },
  ): Promise<EmergencyCutoverResult> {
    const spec = await prepare.beginRotation({ ...start, emergency: true });
    const ref: RotationRef = { secretId: start.secretId, rotationId: start.rotationId, actor: start.actor };
    let phase: Phase = Phase.PRECHECKS;
    let fromVersion: number | undefined;
    let promotedVersion: number;
    try {
      fromVersion = (await prepare.precheck({ ...ref, emergency: true })).currentVersion;
      phase = Phase.STAGING;
      await staged.stageCredential({ ...ref, fromVersion });
      phase = Phase.APPLYING;
      await staged.applyStaged(ref);
      phase = Phase.TESTING;
      await staged.testStaged(ref);
      phase = Phase.PROMOTING;
      ({ promotedVersion } = await versions.promote({ ...ref, expectedVersion: fromVersion }));
    } catch (err) {
      throw withDetails(err, phase, fromVersion);
    }
    const promoted = { spec, fromVersion, promotedVersion };
    if (start.finishEventId === undefined || spec.consumers.length > 0) return { ...promoted, retired: false };
    // Past promotion this activity must not fail: a retry would begin the cutover again. If
    // retiring fails, the workflow retires with its own activity, which has retries of its own.
    try {
      const finishEventId = start.finishEventId;
      return {
        ...promoted,
        retired: true,
        ...(await emergencyRetire({ ...ref, version: fromVersion, validateVersion: promotedVersion, finishEventId })),
      };
    } catch (err) {
      ctx.logger.warn(
        { secretId: ref.secretId, err: (toFailure(err) as Error).message },
        'retiring the old version after cutover failed; the workflow retries it',
      );
      return { ...promoted, retired: false };
    }
  }

  return { emergencyCutover, emergencyRetire };
}

function withDetails(err: unknown, phase: Phase, fromVersion: number | undefined): unknown {
  const failure = toFailure(err);
  const details = [phase, fromVersion ?? null];
  if (!(failure instanceof ApplicationFailure)) {
    return ApplicationFailure.create({ message: failure instanceof Error ? failure.message : String(failure), details });
  }
  return ApplicationFailure.create({
    message: failure.message,
    type: failure.type ?? undefined,
    nonRetryable: failure.nonRetryable ?? undefined,
    details,
  });
}
