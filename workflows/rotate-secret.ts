import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  defineQuery,
  defineUpdate,
  executeChild,
  setHandler,
  sleep,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  confirmCutoverInput,
  describeIssues,
  rotateSecretInput,
  type ConfirmCutoverInput,
  type RotateSecretInput,
} from '../config/workflow-inputs.js';
import { failureMessage, failureType, isTimeout } from './failure-message.js';
import { PlanAborted, planGates } from './plan-gates.js';
import { bestEffort, confirmation, emergencyTarget, quick, revocation, target, validation } from './rotation-activities.js';
import {
  Phase,
  type ConsumerState,
  type RotationRef,
  type RotationResult,
  type RotationSpec,
  type RotationStatus,
  type RetireResult,
} from './rotation-types.js';
import { OUTCOME, PHASE, SECRET_ID } from './search-attributes.js';

export const statusQuery = defineQuery<RotationStatus>('status');
export const confirmCutoverUpdate = defineUpdate<ConsumerState, [ConfirmCutoverInput]>('confirmCutover');

/** How long an emergency rotation waits for any one consumer before reporting it and moving on. */
const EMERGENCY_CONFIRM_MS = 30_000;

export function rotationWorkflowId(secretId: string): string {
  return `rotate/${secretId}`;
}

/** A failure after which the previous version must come back. */
class CutoverFailed extends Error {
  constructor(
    readonly phase: Phase,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Rotates one secret used by several services without an outage: pre-check → stage (Vault
 * first) → apply → test → promote (CAS) → every consumer confirms → post-validate → overlap →
 * revoke the old credential and verify. Any failure after promotion re-promotes the previous
 * version; any failure before it discards the staged credential. Takes one object argument so
 * the Temporal UI's Start Workflow form can start it.
 */
export async function rotateSecret(rawInput: RotateSecretInput): Promise<RotationResult> {
  const parsed = rotateSecretInput.safeParse(rawInput ?? {});
  if (!parsed.success) {
    throw ApplicationFailure.nonRetryable(
      `invalid rotateSecret input: ${describeIssues(parsed.error)}. Expected e.g. {"secretId": "payments-db"}`,
      'InvalidInput',
    );
  }
  const input = parsed.data;
  const info = workflowInfo();

  // Invariant 5: one rotation per secret, enforced by the workflow id. A run started under any
  // other id (a schedule's timestamped id, a UI user's choice) claims rotate/<secretId> as a child.
  if (info.workflowId !== rotationWorkflowId(input.secretId)) {
    try {
      return await executeChild(rotateSecret, { workflowId: rotationWorkflowId(input.secretId), args: [input] });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        return {
          outcome: 'skipped',
          secretId: input.secretId,
          reason: `a rotation of ${input.secretId} is already running`,
          runningWorkflowId: rotationWorkflowId(input.secretId),
        };
      }
      throw err;
    }
  }

  const gates = planGates(input.secretId, input.plan?.parentWorkflowId);
  const emergency = input.emergency ?? false;
  // An emergency rotation outside a plan has no gates to stop at: the steps that run back to back
  // run as one activity each side of the consumers (see activities/rotation/emergency-steps.ts).
  const batchedSteps = emergency && !input.plan;
  // Per-kind retry policies; an emergency rotation uses short ones everywhere (see emergencyTarget).
  const act = {
    target: emergency ? emergencyTarget : target,
    revocation: emergency ? emergencyTarget : revocation,
    validation: emergency ? emergencyTarget : validation,
  };
  const ref: RotationRef = { secretId: input.secretId, rotationId: info.runId, actor: input.requestedBy ?? 'unattributed' };
  const state: RotationStatus = { secretId: input.secretId, rotationId: info.runId, phase: Phase.PRECHECKS, emergency, consumers: [] };
  const setPhase = (phase: Phase) => {
    state.phase = phase;
    // Each upsert is a visibility write on the server; an emergency rotation keeps only its outcome.
    if (!emergency) upsertSearchAttributes([{ key: PHASE, value: phase }]);
  };
  const event = (
    step: 'rotation_finished' | 'confirmation',
    outcome: 'started' | 'succeeded' | 'failed' | 'refused' | 'skipped',
    detail?: Record<string, string | number | boolean | null>,
  ) =>
    quick.recordRotationEvent({
      ...ref,
      step,
      outcome,
      fromVersion: state.fromVersion,
      toVersion: state.toVersion,
      detail,
      eventId: uuid4(),
    });

  setHandler(statusQuery, () => state);
  setHandler(
    confirmCutoverUpdate,
    async (confirm) => {
      const consumer = state.consumers.find((c) => c.name === confirm.consumer)!;
      consumer.status = 'confirmed';
      consumer.confirmedVersion = confirm.version;
      consumer.confirmedBy = confirm.confirmedBy ?? 'unattributed';
      await event('confirmation', 'succeeded', { consumer: consumer.name, confirmedBy: consumer.confirmedBy });
      return consumer;
    },
    { validator: (confirm) => validateConfirmation(state, confirm) },
  );
  // A parent that started this run with its search attributes (revokeAll) saved a visibility write.
  if (info.typedSearchAttributes.get(SECRET_ID) !== input.secretId) {
    upsertSearchAttributes([
      { key: SECRET_ID, value: input.secretId },
      { key: PHASE, value: state.phase },
    ]);
  }

  // Recorded by emergencyRetire when the steps are batched and the rotation succeeds.
  const finishEventId = uuid4();
  let finishRecorded = false;
  const finish = async (result: RotationResult): Promise<RotationResult> => {
    if (result.outcome !== 'rotated' && result.outcome !== 'skipped')
      await CancellationScope.nonCancellable(() => gates.failed(result.reason));
    setPhase(Phase.DONE);
    // A condition that already holds still costs a pass through the sandbox to resolve.
    if (!allHandlersFinished()) await condition(allHandlersFinished);
    // An emergency rotation upserts no phase on the way, so its outcome upsert also lists it as
    // done (not at the phase its parent started it with), with the same number of commands.
    upsertSearchAttributes([{ key: OUTCOME, value: result.outcome }, ...(emergency ? [{ key: PHASE, value: Phase.DONE }] : [])]);
    if (!finishRecorded) {
      await CancellationScope.nonCancellable(() =>
        event('rotation_finished', result.outcome === 'rotated' ? 'succeeded' : 'failed', {
          outcome: result.outcome,
          reason: 'reason' in result ? result.reason : null,
        }),
      );
    }
    return result;
  };

  // A plan waits at its gates for every child: any way out of this workflow must tell it.
  const failing = async (err: unknown): Promise<never> => {
    await CancellationScope.nonCancellable(() => gates.failed(failureMessage(err)));
    throw err;
  };
  const aborted = (err: unknown, failedPhase: Phase = Phase.PRECHECKS, currentVersion?: number) =>
    finish({ outcome: 'aborted', secretId: input.secretId, currentVersion, failedPhase, reason: failureMessage(err) });
  // Before promotion, failures change nothing consumers see: a staged credential is discarded.
  const discardAndAbort = async (err: unknown, failedPhase: Phase, currentVersion: number) => {
    await CancellationScope.nonCancellable(async () => {
      setPhase(Phase.DISCARDING);
      await act.revocation.discardStaged({ ...ref, revoke: true });
    }).catch(failing);
    return aborted(err, failedPhase, currentVersion);
  };
  let spec: RotationSpec;
  let currentVersion: number;
  let promotedVersion: number;
  let retired: RetireResult | undefined; // set when the cutover activity also retired the old version
  if (batchedSteps) {
    setPhase(Phase.EMERGENCY_CUTOVER);
    try {
      const cutover = await emergencyTarget.emergencyCutover({ ...ref, reason: input.reason ?? null, eventId: uuid4(), finishEventId });
      ({ spec, fromVersion: currentVersion, promotedVersion } = cutover);
      if (cutover.retired) retired = cutover;
    } catch (err) {
      const at = failedAt(err);
      if (!at) return failing(err); // the secret is not in the inventory: nothing began
      if (at.phase === Phase.PRECHECKS || at.fromVersion === undefined) return aborted(err);
      state.fromVersion = at.fromVersion;
      return discardAndAbort(err, at.phase, at.fromVersion);
    }
    state.consumers = spec.consumers.map((c) => ({ name: c.name, mode: c.mode, status: 'waiting' }));
    state.fromVersion = currentVersion;
  } else {
    spec = await quick.beginRotation({ ...ref, emergency, reason: input.reason ?? null, eventId: uuid4() }).catch(failing);
    state.consumers = spec.consumers.map((c) => ({ name: c.name, mode: c.mode, status: 'waiting' }));
    try {
      currentVersion = (await quick.precheck({ ...ref, emergency })).currentVersion;
    } catch (err) {
      return aborted(err);
    }
    state.fromVersion = currentVersion;
    try {
      await gates.reach('prechecked');
      setPhase(Phase.STAGING);
      await quick.stageCredential({ ...ref, fromVersion: currentVersion });
      setPhase(Phase.APPLYING);
      await act.target.applyStaged(ref);
      setPhase(Phase.TESTING);
      await act.target.testStaged(ref);
      await gates.reach('staged');
      setPhase(Phase.PROMOTING);
      promotedVersion = (await quick.promote({ ...ref, expectedVersion: currentVersion })).promotedVersion;
    } catch (err) {
      return discardAndAbort(err, state.phase, currentVersion);
    }
  }
  state.toVersion = promotedVersion;

  // --- after promotion: any failure re-promotes the previous version ---
  let cutoverFailure: { phase: Phase; reason: string; planAborted: boolean } | undefined;
  try {
    await gates.reach('promoted');
    setPhase(Phase.AWAITING_CONFIRMATION);
    await awaitConfirmations(ref, state, spec, currentVersion, promotedVersion);
    await gates.reach('confirmed');
    if (!batchedSteps) {
      setPhase(Phase.POST_VALIDATION);
      await act.validation.postValidate({ ...ref, version: promotedVersion }).catch((err: unknown) => {
        throw new CutoverFailed(Phase.POST_VALIDATION, `post-validation failed: ${failureMessage(err)}`);
      });
      await gates.reach('validated');
    }
  } catch (err) {
    cutoverFailure = {
      phase: err instanceof CutoverFailed ? err.phase : state.phase,
      reason: err instanceof CutoverFailed ? err.message : failureMessage(err),
      planAborted: err instanceof PlanAborted,
    };
  }
  if (cutoverFailure && emergency && !cutoverFailure.planAborted) {
    // Incident response: the old credential is presumed compromised, so rotor never goes back
    // to it. Consumers that did not confirm are reported in the result, not waited for.
    state.emergencyNote = `${cutoverFailure.phase}: ${cutoverFailure.reason}`;
  } else if (cutoverFailure) {
    const restoredVersion = await CancellationScope.nonCancellable(() => rollBack(ref, state, spec, currentVersion, promotedVersion)).catch(
      failing,
    );
    return finish({
      outcome: 'rolled_back',
      secretId: input.secretId,
      fromVersion: currentVersion,
      attemptedVersion: promotedVersion,
      restoredVersion,
      failedPhase: cutoverFailure.phase,
      reason: cutoverFailure.reason,
      consumers: state.consumers,
    });
  }

  // --- proven: keep both valid for the overlap, then revoke the old one and verify ---
  if (!emergency && spec.overlapMs > 0) {
    setPhase(Phase.OVERLAP);
    await sleep(spec.overlapMs);
  }
  setPhase(Phase.REVOKING);
  try {
    if (emergency) {
      const { validationFailure } =
        retired ??
        (await emergencyTarget.emergencyRetire({
          ...ref,
          version: currentVersion,
          ...(batchedSteps ? { validateVersion: promotedVersion, finishEventId } : {}),
        }));
      finishRecorded = batchedSteps;
      if (validationFailure) {
        state.emergencyNote = [state.emergencyNote, `${Phase.POST_VALIDATION}: post-validation failed: ${validationFailure}`]
          .filter(Boolean)
          .join('; ');
      }
    } else await act.revocation.revokeVersion({ ...ref, version: currentVersion, terminateSessions: false });
  } catch (err) {
    // The new version is current and proven, so no rollback: an operator must finish revocation.
    await event('rotation_finished', 'failed', { outcome: 'revocation_failed', reason: failureMessage(err) });
    throw ApplicationFailure.nonRetryable(
      `version ${promotedVersion} is current and confirmed, but revoking version ${currentVersion} failed: ${failureMessage(err)}`,
      failureType(err) ?? 'RevocationFailed',
    );
  }
  if (!emergency) await quick.discardStaged({ ...ref, revoke: false });
  return finish({
    outcome: 'rotated',
    secretId: input.secretId,
    fromVersion: currentVersion,
    toVersion: promotedVersion,
    consumers: state.consumers,
    ...(state.emergencyNote ? { emergencyNote: state.emergencyNote } : {}),
  });
}

/** Where an emergency step activity failed: the phase and version it reported (emergencyCutover's details). */
function failedAt(err: unknown): { phase: Phase; fromVersion?: number } | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : undefined;
  const [phase, fromVersion] = cause instanceof ApplicationFailure ? (cause.details ?? []) : [];
  const known = Object.values(Phase).find((p) => p === phase);
  if (!known) return undefined;
  return typeof fromVersion === 'number' ? { phase: known, fromVersion } : { phase: known };
}

/** Synchronous update validator: reject without touching state. */
function validateConfirmation(state: RotationStatus, raw: ConfirmCutoverInput): void {
  const parsed = confirmCutoverInput.safeParse(raw);
  if (!parsed.success) throw ApplicationFailure.nonRetryable(`invalid confirmation: ${describeIssues(parsed.error)}`, 'InvalidInput');
  const confirm = parsed.data;
  const consumer = state.consumers.find((c) => c.name === confirm.consumer);
  if (!consumer) {
    throw ApplicationFailure.nonRetryable(
      `unknown consumer "${confirm.consumer}"; consumers of ${state.secretId}: ${state.consumers.map((c) => c.name).join(', ')}`,
      'UnknownConsumer',
    );
  }
  if (consumer.status === 'confirmed') {
    throw ApplicationFailure.nonRetryable(
      `consumer "${consumer.name}" already confirmed version ${consumer.confirmedVersion} (by ${consumer.confirmedBy})`,
      'AlreadyConfirmed',
    );
  }
  if (state.phase !== Phase.AWAITING_CONFIRMATION) {
    throw ApplicationFailure.nonRetryable(
      `rotation of ${state.secretId} is not awaiting confirmation (phase: ${state.phase})`,
      'NotAwaitingConfirmation',
    );
  }
  if (consumer.mode !== 'manual') {
    throw ApplicationFailure.nonRetryable(`consumer "${consumer.name}" confirms by ${consumer.mode}, not manually`, 'WrongConfirmMode');
  }
  if (confirm.version !== state.toVersion) {
    throw ApplicationFailure.nonRetryable(`version ${confirm.version} is not the promoted version ${state.toVersion}`, 'WrongVersion');
  }
  if (consumer.status !== 'waiting' && consumer.status !== 'notified') {
    throw ApplicationFailure.nonRetryable(`consumer "${consumer.name}" can no longer confirm (${consumer.status})`, 'ConfirmationClosed');
  }
}

/** Waits for every consumer in parallel; the first one that fails or times out fails the cutover. */
async function awaitConfirmations(
  ref: RotationRef,
  state: RotationStatus,
  spec: RotationSpec,
  oldVersion: number,
  newVersion: number,
): Promise<void> {
  const failures: string[] = [];
  await Promise.all(
    spec.consumers.map(async (c) => {
      const consumer = state.consumers.find((s) => s.name === c.name)!;
      consumer.status = 'notified';
      try {
        // In an emergency nobody waits long for a consumer: the old credential is revoked anyway.
        const waitMs = state.emergency ? Math.min(c.timeoutMs, EMERGENCY_CONFIRM_MS) : c.timeoutMs;
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

/** Re-promotes `previousVersion`, tells consumers (best effort), revokes the staged credential. */
async function rollBack(
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
