import { ApplicationFailure, CancellationScope, patched, uuid4, workflowInfo } from '@temporalio/workflow';
import { describeIssues, emergencyRotateInput, type EmergencyRotateInput, type RotateSecretInput } from '../config/workflow-inputs.js';
import { awaitConfirmations, CutoverFailed } from './consumer-cutover.js';
import { rotationWorkflowId } from './contracts.js';
import { failureMessage, failureType } from './failure-message.js';
import { FailureType } from './failure-types.js';
import { planGates } from './plan-gates.js';
import { Patch } from './patches.js';
import { revokeUntilRefused } from './persistent-revocation.js';
import { emergencyTarget, verification } from './rotation-activities.js';
import { RotationRun } from './rotation-state.js';
import { Phase, type EmergencyCutoverResult, type RetireResult, type RotationResult, type RotationStatus } from './rotation-types.js';
import { failedStepOf, type FailedStep } from './step-failure.js';
import { refuseEmergencyOutsideIncident } from './verified-identity.js';

/** How long an emergency rotation waits for any one consumer before reporting it and moving on. */
const EMERGENCY_CONFIRM_MS = 30_000;

/**
 * Incident response for one secret (started by revokeAll under `rotate/<secretId>`): pre-check →
 * stage → apply → test → promote, tell consumers (30 s each at most), then revoke the old
 * credential with its sessions ended and verify it is refused. The old credential is presumed
 * compromised, so there is no overlap and no rollback: a consumer that does not confirm is
 * reported, not waited for. Same audit rows as rotateSecret.
 */
export async function emergencyRotate(rawInput: EmergencyRotateInput): Promise<RotationResult> {
  const parsed = emergencyRotateInput.safeParse(rawInput ?? {});
  if (!parsed.success) {
    throw ApplicationFailure.nonRetryable(
      `invalid emergencyRotate input: ${describeIssues(parsed.error)}. Expected e.g. {"secretId": "payments-db", "requestedBy": "alice"}`,
      FailureType.InvalidInput,
    );
  }
  const input = parsed.data;
  if (patched(Patch.EMERGENCY_FROM_INCIDENT_ONLY)) refuseEmergencyOutsideIncident(input.secretId);
  // One rotation per secret: this workflow claims no id of its own, its starter gives it the right one.
  if (workflowInfo().workflowId !== rotationWorkflowId(input.secretId)) {
    throw ApplicationFailure.nonRetryable(
      `emergencyRotate must run as workflow ${rotationWorkflowId(input.secretId)}: start it with that id (rotor incident revoke-all does)`,
      FailureType.InvalidInput,
    );
  }
  // Incident response is not stopped half-way: cancelled after promotion, it would leave the
  // compromised version valid with nothing trying to revoke it (invariant compromised-never-left-valid).
  return CancellationScope.nonCancellable(() => rotateInEmergency(input, prepareThenPromote));
}

/** How an emergency rotation reaches promotion, and how it reads the step a failure happened in. */
export interface CutoverStep {
  run(run: RotationRun, reason: string | null): Promise<EmergencyCutoverResult>;
  failedStep(err: unknown): FailedStep | undefined;
}

/**
 * Everything before promotion runs as one activity; promotion is an activity of its own, so a retry
 * of it resumes from the version history already holds instead of pre-checking again against the
 * version it just promoted. With no consumer to tell, promotion also retires the old version.
 */
export const prepareThenPromote: CutoverStep = {
  async run(run, reason) {
    const prepared = await emergencyTarget.emergencyPrepare({ ...run.ref, reason, eventId: uuid4() });
    run.state.phase = Phase.PROMOTING;
    const retire = prepared.spec.consumers.length === 0 ? { finishEventId: run.finishEventId } : undefined;
    try {
      return { ...prepared, ...(await emergencyTarget.emergencyPromote({ ...run.ref, fromVersion: prepared.fromVersion, retire })) };
    } catch (err) {
      // A promotion that failed after its KV write promoted: the compromised version must still go.
      if (!patched(Patch.EMERGENCY_REVOCATION_PERSISTS)) throw err;
      const { promotedVersion } = await verification.findPromotion({ ...run.ref, expectedVersion: prepared.fromVersion });
      if (promotedVersion === null) throw err;
      return { ...prepared, promotedVersion, retired: false };
    }
  },
  failedStep: failedStepOf,
};

/** The emergency rotation's phase list, after whichever cutover step its history started with. */
export async function rotateInEmergency(
  input: Pick<RotateSecretInput, 'secretId' | 'requestedBy' | 'reason'>,
  cutover: CutoverStep,
): Promise<RotationResult> {
  const run = new RotationRun(input, planGates(input.secretId, undefined), emergencyTarget, true);
  const { ref, state } = run;

  // 1. pre-checks (no freeze check, no login with the compromised credential) → stage → apply → test → promote
  run.phase(Phase.EMERGENCY_CUTOVER);
  let promoted: EmergencyCutoverResult;
  try {
    promoted = await cutover.run(run, input.reason ?? null);
  } catch (err) {
    const at = cutover.failedStep(err);
    if (!at) return run.failing(err); // the secret is not in the inventory: nothing began
    if (at.phase === Phase.PRECHECKS || at.fromVersion === undefined) return run.aborted(err);
    state.fromVersion = at.fromVersion;
    return run.discardAndAbort(err, at.phase, at.fromVersion);
  }
  const { spec, fromVersion, promotedVersion } = promoted;
  run.expect(spec);
  state.fromVersion = fromVersion;
  state.toVersion = promotedVersion;

  // 2. consumers: each gets at most 30 s; one that does not confirm is reported, never rolled back for
  run.phase(Phase.AWAITING_CONFIRMATION);
  await awaitConfirmations(ref, state, spec, fromVersion, promotedVersion, EMERGENCY_CONFIRM_MS).catch((err: unknown) => {
    state.emergencyNote = `${err instanceof CutoverFailed ? err.phase : state.phase}: ${failureMessage(err)}`;
  });

  // 3. the compromised version: post-validate the new one once, revoke, end sessions, verify refused
  run.phase(Phase.REVOKING);
  let retired: RetireResult;
  // Promotion may have post-validated already (it retires when nobody has to be told): not twice.
  const retireRef = { ...ref, version: fromVersion, toVersion: promotedVersion };
  const validate = promoted.retired || promoted.validated ? {} : { validateVersion: promotedVersion };
  try {
    retired = promoted.retired
      ? promoted
      : {
          ...(promoted.validated ? { validationFailure: promoted.validationFailure } : {}),
          ...(await emergencyTarget.emergencyRetire({ ...retireRef, ...validate, finishEventId: run.finishEventId })),
        };
  } catch (err) {
    if (!patched(Patch.EMERGENCY_REVOCATION_PERSISTS)) return run.revocationFailed(err, promotedVersion, fromVersion, failureType(err));
    // The fast attempts' post-validation result went with their failure: validate once more.
    const persisted = await revokeUntilRefused(run, err, { ...retireRef, ...validate }).catch((final: unknown) =>
      run.revocationFailed(final, promotedVersion, fromVersion, failureType(final)),
    );
    if (persisted.outcome === 'ended') {
      return run.revocationFailed(
        `ended by ${persisted.by}: ${persisted.reason}`,
        promotedVersion,
        fromVersion,
        FailureType.RevocationEndedByPerson,
      );
    }
    // The finish row is written here, once, however the retried attempts went.
    const note = emergencyNote(state, {
      ...(promoted.retired ? {} : { validationFailure: promoted.validationFailure }),
      ...persisted.retired,
    });
    return run.rotated(fromVersion, promotedVersion, note);
  }
  run.finishRecorded = true;
  return run.rotated(fromVersion, promotedVersion, emergencyNote(state, retired));
}

/** What did not go to plan after promotion, with a failed post-validation. */
function emergencyNote(state: RotationStatus, retired: RetireResult): string | undefined {
  if (retired.validationFailure) {
    state.emergencyNote = [state.emergencyNote, `${Phase.POST_VALIDATION}: post-validation failed: ${retired.validationFailure}`]
      .filter(Boolean)
      .join('; ');
  }
  return state.emergencyNote;
}
