import {
  ApplicationFailure,
  CancellationScope,
  executeChild,
  isCancellation,
  patched,
  sleep,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { describeIssues, rotateSecretInput, type RotateSecretInput } from '../config/workflow-inputs.js';
import { awaitConfirmations, CutoverFailed, rollBack } from './consumer-cutover.js';
import { rotationWorkflowId } from './contracts.js';
import { prepareThenPromote, rotateInEmergency } from './emergency-rotate.js';
import { failureMessage, failureType } from './failure-message.js';
import { FailureType } from './failure-types.js';
import { cutoverV1 } from './legacy/emergency-cutover-v1.js';
import { Patch } from './patches.js';
import { planGates } from './plan-gates.js';
import { quick, revocation, target, validation, verification } from './rotation-activities.js';
import { RotationRun } from './rotation-state.js';
import { refuseEmergencyOutsideIncident } from './verified-identity.js';
import { Phase, PREPARE_STEPS, type RotationResult } from './rotation-types.js';

/** The activity that runs each step before promotion: staging is quick bookkeeping, the others talk to the target. */
const prepare = { stageCredential: quick.stageCredential, applyStaged: target.applyStaged, testStaged: target.testStaged };

/**
 * Rotates one secret used by several services without an outage: pre-check → stage (Vault
 * first) → apply → test → promote (CAS) → every consumer confirms → post-validate → overlap →
 * revoke the old credential and verify. Any failure after promotion re-promotes the previous
 * version; any failure before it discards the staged credential. Takes one object argument so
 * the Temporal UI's Start Workflow form can start it. Invariants: docs/invariants.md.
 */
export async function rotateSecret(rawInput: RotateSecretInput): Promise<RotationResult> {
  const parsed = rotateSecretInput.safeParse(rawInput ?? {});
  if (!parsed.success) {
    throw ApplicationFailure.nonRetryable(
      `invalid rotateSecret input: ${describeIssues(parsed.error)}. Expected e.g. {"secretId": "payments-db"}`,
      FailureType.InvalidInput,
    );
  }
  const input = parsed.data;
  if (input.emergency && patched(Patch.EMERGENCY_FROM_INCIDENT_ONLY)) refuseEmergencyOutsideIncident(input.secretId);
  if (workflowInfo().workflowId !== rotationWorkflowId(input.secretId)) return claimRotationId(input);
  if (input.emergency) {
    if (!patched(Patch.EMERGENCY_ROTATE_WORKFLOW)) return rotateInEmergency(input, cutoverV1);
    return CancellationScope.nonCancellable(() => rotateInEmergency(input, prepareThenPromote));
  }

  const gates = planGates(input.secretId, input.plan?.parentWorkflowId);
  const run = new RotationRun(input, gates, revocation, false);
  const { ref, state } = run;

  // 1. pre-checks: no incident freeze, the current version authenticates, consumers healthy
  const spec = await quick.beginRotation({ ...ref, emergency: false, reason: input.reason ?? null, eventId: uuid4() }).catch(run.failing);
  run.expect(spec);
  let fromVersion: number;
  try {
    fromVersion = (await quick.precheck({ ...ref, emergency: false })).currentVersion;
  } catch (err) {
    return run.aborted(err);
  }
  state.fromVersion = fromVersion;

  // A failure after promotion re-promotes fromVersion and tells every consumer.
  const rollBackAndFinish = async (err: unknown, failedPhase: Phase, promotedVersion: number): Promise<RotationResult> => {
    const preempted = CancellationScope.current().consideredCancelled;
    const { restoredVersion, pendingRevocation } = await CancellationScope.nonCancellable(() =>
      rollBack(ref, state, spec, fromVersion, promotedVersion, { preempted }),
    ).catch(run.failing);
    return run.finish({
      outcome: 'rolled_back',
      secretId: input.secretId,
      fromVersion,
      attemptedVersion: promotedVersion,
      restoredVersion,
      failedPhase,
      reason: failureMessage(err),
      consumers: state.consumers,
      ...(pendingRevocation ? { pendingRevocation } : {}),
    });
  };

  // 2. stage (Vault learns it first) → apply → test → promote with CAS; a failure discards the staged credential
  let promotedVersion: number;
  try {
    await gates.reach('prechecked');
    for (const { phase, step } of PREPARE_STEPS) {
      run.phase(phase);
      await prepare[step]({ ...ref, fromVersion });
    }
    await gates.reach('staged');
    run.phase(Phase.PROMOTING);
    promotedVersion = (await quick.promote({ ...ref, expectedVersion: fromVersion })).promotedVersion;
  } catch (err) {
    // A promotion that failed after its KV write is a failure after promotion.
    const written =
      state.phase === Phase.PROMOTING && patched(Patch.PROMOTION_FAILURE_CHECKS_KV)
        ? (
            await CancellationScope.nonCancellable(() => verification.findPromotion({ ...ref, expectedVersion: fromVersion })).catch(
              run.failing,
            )
          ).promotedVersion
        : null;
    if (written === null) return run.discardAndAbort(err, state.phase, fromVersion);
    state.toVersion = written;
    return rollBackAndFinish(err, Phase.PROMOTING, written);
  }
  state.toVersion = promotedVersion;

  // 3. every consumer confirms, then post-validation; a failure re-promotes fromVersion
  try {
    await gates.reach('promoted');
    run.phase(Phase.AWAITING_CONFIRMATION);
    await awaitConfirmations(ref, state, spec, fromVersion, promotedVersion);
    await gates.reach('confirmed');
    run.phase(Phase.POST_VALIDATION);
    await validation.postValidate({ ...ref, version: promotedVersion }).catch((err: unknown) => {
      throw new CutoverFailed(Phase.POST_VALIDATION, `post-validation failed: ${failureMessage(err)}`);
    });
    await gates.reach('validated');
  } catch (err) {
    return rollBackAndFinish(err, err instanceof CutoverFailed ? err.phase : state.phase, promotedVersion);
  }

  // 4. overlap: both credentials log in; then revoke the old one and verify it is refused
  let cancelled = false;
  if (spec.overlapMs > 0) {
    run.phase(Phase.OVERLAP);
    await sleep(spec.overlapMs).catch((err: unknown) => {
      // Cancelled in the overlap (an incident pre-empts the rotation): the new version is proven, so the old one goes now.
      if (!isCancellation(err) || !patched(Patch.REVOKE_WHEN_CANCELLED_IN_OVERLAP)) throw err;
      cancelled = true;
    });
  }
  const retire = async () => {
    run.phase(Phase.REVOKING);
    await revocation
      .revokeVersion({ ...ref, version: fromVersion, terminateSessions: false })
      .catch((err: unknown) => run.revocationFailed(err, promotedVersion, fromVersion, failureType(err)));
    await quick.discardStaged({ ...ref, revoke: false });
    return run.rotated(fromVersion, promotedVersion);
  };
  // A cancellation (an incident pre-empting) must not stop a revocation half-way: the emergency
  // rotation that follows rotates away from the new version and would never revoke this one.
  return cancelled || patched(Patch.RETIRE_NOT_CANCELLABLE) ? CancellationScope.nonCancellable(retire) : retire();
}

/**
 * One rotation per secret (invariant one-rotation-per-secret), enforced by the workflow id. A run
 * started under any other id (a schedule's timestamped id, a UI user's choice) claims
 * rotate/<secretId> as a child, or reports that a rotation is already running.
 */
async function claimRotationId(input: RotateSecretInput): Promise<RotationResult> {
  try {
    return await executeChild(rotateSecret, { workflowId: rotationWorkflowId(input.secretId), args: [input] });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    return {
      outcome: 'skipped',
      secretId: input.secretId,
      reason: `a rotation of ${input.secretId} is already running`,
      runningWorkflowId: rotationWorkflowId(input.secretId),
    };
  }
}
