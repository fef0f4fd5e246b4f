import {
  Phase,
  PREPARE_STEPS,
  type EmergencyCutoverResult,
  type EmergencyPrepareResult,
  type EmergencyPromoteResult,
  type RetireResult,
  type RotationRef,
} from '../../workflows/rotation-types.js';
import { withFailedStep } from '../../workflows/step-failure.js';
import type { ActivityContext } from '../activity-context.js';
import { prepareRotationActivities } from './prepare-rotation.js';
import { appendRotationEvent } from './rotation-events.js';
import { toFailure } from './to-failure.js';
import { readStagedCredential, stagedCredentialActivities } from './staged-credential.js';
import { readKvVersion } from './secret-handle.js';
import { sameCredential } from './same-credential.js';
import { versionActivities } from './versions.js';

/**
 * Incident response rotates hundreds of secrets at once, and each workflow step costs the worker a
 * round trip into the workflow sandbox. An emergency rotation has no gates and no overlap, so the
 * steps that run back to back run as one activity each side of promotion (and of the consumers).
 * Every step keeps its own audit row and its idempotency, so retrying a whole activity is safe.
 */
export function emergencyStepActivities(ctx: ActivityContext) {
  const prepare = prepareRotationActivities(ctx);
  const staged = stagedCredentialActivities(ctx);
  const versions = versionActivities(ctx);

  /**
   * Everything before promotion: the start row and the spec, pre-checks, then the prepare steps
   * (stage → apply → test). A failure after the spec carries its step (workflows/step-failure.ts).
   * A run that already promoted (its worker died before history recorded this activity's result,
   * so the workflow runs it again) reports the version it promoted from, read from the promotion's
   * stamp, rather than its own promotion: rotating away from that would leave the compromised
   * version valid.
   */
  async function emergencyPrepare(start: RotationRef & { reason: string | null; eventId: string }): Promise<EmergencyPrepareResult> {
    const spec = await prepare.beginRotation({ ...start, emergency: true });
    const ref: RotationRef = { secretId: start.secretId, rotationId: start.rotationId, actor: start.actor };
    let phase: Phase = Phase.PRECHECKS;
    let fromVersion: number | undefined;
    try {
      const { currentVersion, promotion } = await prepare.precheck({ ...ref, emergency: true });
      // Already promoted by this rotation: what comes before promotion is done (and its staged
      // copy may be gone); staging again would change the password of the role now current.
      if (promotion?.rotationId === ref.rotationId) return { spec, fromVersion: promotion.previousVersion };
      fromVersion = currentVersion;
      const steps = { stageCredential: staged.stageCredential, applyStaged: staged.applyStaged, testStaged: staged.testStaged };
      for (const step of PREPARE_STEPS) {
        phase = step.phase;
        await steps[step.step]({ ...ref, fromVersion });
        // The same, when the worker died between the promotion's write and its stamp: the staged
        // credential (an earlier attempt's, which staging keeps) is already the current version.
        if (step.step === 'stageCredential' && (await isCurrent(ref, spec.path, currentVersion)))
          return { spec, fromVersion: currentVersion - 1 };
      }
    } catch (err) {
      throw withFailedStep(toFailure(err), { phase, fromVersion });
    }
    return { spec, fromVersion };
  }

  /** True when this rotation's staged credential is `version` of `path` (both reads come from the worker's cache when fresh). */
  async function isCurrent(ref: RotationRef, path: string, version: number): Promise<boolean> {
    const stagedCredential = await readStagedCredential(ctx, ref);
    const current = await readKvVersion(ctx, ref.secretId, path, version);
    return Boolean(stagedCredential && current && sameCredential(current.data, stagedCredential));
  }

  /**
   * Promotes the staged credential over `fromVersion` (a retry recognises its own earlier write).
   * With `retire`, nobody has to be told, so it retires the old version too; if retiring fails it
   * still reports the promotion, and the workflow retires with an activity of its own.
   */
  async function emergencyPromote(
    ref: RotationRef & { fromVersion: number; retire?: { finishEventId: string } },
  ): Promise<EmergencyPromoteResult> {
    let promotedVersion: number;
    try {
      ({ promotedVersion } = await versions.promote({ ...ref, expectedVersion: ref.fromVersion }));
    } catch (err) {
      throw withFailedStep(toFailure(err), { phase: Phase.PROMOTING, fromVersion: ref.fromVersion });
    }
    if (!ref.retire) return { promotedVersion, retired: false };
    const validated = await validateOnce(ref, promotedVersion);
    try {
      await emergencyRetire({ ...ref, version: ref.fromVersion, toVersion: promotedVersion, finishEventId: ref.retire.finishEventId });
      return { promotedVersion, retired: true, ...validated };
    } catch (err) {
      ctx.logger.warn(
        { secretId: ref.secretId, err: (toFailure(err) as Error).message },
        'retiring the old version after promotion failed; the workflow retries it',
      );
      return { promotedVersion, retired: false, validated: true, ...validated };
    }
  }

  /** Post-validation of the new version in an emergency: its failure is reported, never a reason to stop. */
  async function validateOnce(ref: RotationRef, version: number): Promise<RetireResult> {
    try {
      await versions.postValidate({ ...ref, version });
      return {};
    } catch (err) {
      return { validationFailure: (err as Error).message };
    }
  }

  /**
   * Post-validates the promoted version once (with `validateVersion`), then revokes the old
   * version (its sessions ended), verifies it is refused, removes the staged copy and (with
   * `finishEventId`) records that the rotation finished (`toVersion`: the new version, when it is
   * not validated here). In an emergency the old credential goes whatever post-validation says, so
   * its failure is returned for the report, not thrown.
   */
  async function emergencyRetire(
    ref: RotationRef & { version: number; validateVersion?: number; finishEventId?: string; toVersion?: number },
  ): Promise<RetireResult> {
    const validated = ref.validateVersion === undefined ? {} : await validateOnce(ref, ref.validateVersion);
    await versions.revokeVersion({ ...ref, terminateSessions: true });
    await staged.discardStaged({ ...ref, revoke: false });
    if (ref.finishEventId !== undefined) {
      await appendRotationEvent(ctx, {
        ...ref,
        eventId: ref.finishEventId,
        step: 'rotation_finished',
        outcome: 'succeeded',
        fromVersion: ref.version,
        toVersion: ref.toVersion ?? ref.validateVersion,
        detail: { outcome: 'rotated', reason: null },
      });
    }
    return validated;
  }

  /**
   * v1 histories only (workflows/legacy/emergency-cutover-v1.ts): prepare and promote in one
   * activity, retiring too when `finishEventId` is given and nobody has to be told.
   */
  async function emergencyCutover(
    start: RotationRef & { reason: string | null; eventId: string; finishEventId?: string },
  ): Promise<EmergencyCutoverResult> {
    const prepared = await emergencyPrepare(start);
    const retire =
      start.finishEventId !== undefined && prepared.spec.consumers.length === 0 ? { finishEventId: start.finishEventId } : undefined;
    return { ...prepared, ...(await emergencyPromote({ ...start, fromVersion: prepared.fromVersion, retire })) };
  }

  return { emergencyPrepare, emergencyPromote, emergencyRetire, emergencyCutover };
}
