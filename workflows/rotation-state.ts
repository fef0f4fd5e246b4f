import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  patched,
  setHandler,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import { confirmCutoverInput, describeIssues, IDENTITY_REQUIRED, type ConfirmCutoverInput } from '../config/workflow-inputs.js';
import { confirmCutoverUpdate, statusQuery } from './contracts.js';
import { failureMessage } from './failure-message.js';
import { FailureType } from './failure-types.js';
import type { planGates } from './plan-gates.js';
import { quick, type revocation } from './rotation-activities.js';
import { Phase, type RotationRef, type RotationResult, type RotationSpec, type RotationStatus } from './rotation-types.js';
import { OUTCOME, PHASE, SECRET_ID } from './search-attributes.js';
import { Patch } from './patches.js';
import { proveIdentity } from './verified-identity.js';
import type { RotationEvent } from '../activities/rotation/rotation-events.js';

type Gates = ReturnType<typeof planGates>;

/**
 * The bookkeeping of one rotation, so the workflows can read as their phase list: the status
 * query, the confirmCutover update and its validator, the phase search attribute, audit events,
 * and the ways a rotation ends (finish, aborted, discard-then-abort, failing).
 *
 * Every command here is issued in the order rotateSecret issued it before this module existed:
 * the replay test (test/unit/replay.test.ts) holds histories of that code.
 */
export class RotationRun {
  readonly ref: RotationRef;
  readonly state: RotationStatus;
  /** Drawn first, as every rotation has since v1, so a replayed run derives the same event ids. */
  readonly finishEventId = uuid4();
  /** Set when an activity already wrote the rotation_finished row (an emergency rotation's retire step). */
  finishRecorded = false;

  constructor(
    input: { secretId: string; requestedBy?: string },
    private readonly gates: Gates,
    /** Discards a staged credential: ordinary rotations retry for long, emergency ones fail fast. */
    private readonly discard: Pick<typeof revocation, 'discardStaged'>,
    readonly emergency: boolean,
  ) {
    const info = workflowInfo();
    this.ref = { secretId: input.secretId, rotationId: info.runId, actor: input.requestedBy ?? 'unattributed' };
    this.state = { secretId: input.secretId, rotationId: info.runId, phase: Phase.PRECHECKS, emergency, consumers: [] };
    setHandler(statusQuery, () => this.state);
    setHandler(
      confirmCutoverUpdate,
      async (confirm) => {
        let confirmedBy = confirm.confirmedBy ?? 'unattributed';
        // Earlier histories recorded the declared name (Patch.VERIFIED_IDENTITY).
        if (patched(Patch.VERIFIED_IDENTITY)) {
          const who = await proveIdentity(
            confirm.identity,
            `confirm ${confirm.consumer} uses version ${confirm.version}`,
            this.ref.secretId,
          );
          // The rotation may have moved on (or another confirmation landed) while it was verified.
          validateConfirmation(this.state, confirm);
          confirmedBy = who.name;
        }
        const consumer = this.state.consumers.find((c) => c.name === confirm.consumer)!;
        consumer.status = 'confirmed';
        consumer.confirmedVersion = confirm.version;
        consumer.confirmedBy = confirmedBy;
        await this.event('confirmation', 'succeeded', { consumer: consumer.name, confirmedBy: consumer.confirmedBy });
        return consumer;
      },
      {
        validator: (confirm) => {
          validateConfirmation(this.state, confirm);
          if (!confirm.identity) throw ApplicationFailure.nonRetryable(IDENTITY_REQUIRED, FailureType.IdentityRefused);
        },
      },
    );
    // A parent that started this run with its search attributes (revokeAll) saved a visibility write.
    if (info.typedSearchAttributes.get(SECRET_ID) !== input.secretId) {
      upsertSearchAttributes([
        { key: SECRET_ID, value: input.secretId },
        { key: PHASE, value: this.state.phase },
      ]);
    }
  }

  phase(phase: Phase): void {
    this.state.phase = phase;
    // Each upsert is a visibility write on the server; an emergency rotation keeps only its outcome.
    if (!this.emergency) upsertSearchAttributes([{ key: PHASE, value: phase }]);
  }

  /** The consumers the spec names, all waiting. */
  expect(spec: RotationSpec): void {
    this.state.consumers = spec.consumers.map((c) => ({ name: c.name, mode: c.mode, status: 'waiting' }));
  }

  event(step: RotationEvent['step'], outcome: RotationEvent['outcome'], detail?: RotationEvent['detail']): Promise<void> {
    const { fromVersion, toVersion } = this.state;
    return quick.recordRotationEvent({ ...this.ref, step, outcome, fromVersion, toVersion, detail, eventId: uuid4() });
  }

  /** Every way out ends here: tells a plan about a failure, marks the run done, records the outcome. */
  async finish(result: RotationResult): Promise<RotationResult> {
    if (result.outcome !== 'rotated' && result.outcome !== 'skipped')
      await CancellationScope.nonCancellable(() => this.gates.failed(result.reason));
    this.phase(Phase.DONE);
    // A condition that already holds still costs a pass through the sandbox to resolve.
    if (!allHandlersFinished()) await condition(allHandlersFinished);
    // An emergency rotation upserts no phase on the way, so its outcome upsert also lists it as
    // done (not at the phase its parent started it with), with the same number of commands.
    upsertSearchAttributes([{ key: OUTCOME, value: result.outcome }, ...(this.emergency ? [{ key: PHASE, value: Phase.DONE }] : [])]);
    if (!this.finishRecorded) {
      await CancellationScope.nonCancellable(() =>
        this.event('rotation_finished', result.outcome === 'rotated' ? 'succeeded' : 'failed', {
          outcome: result.outcome,
          reason: 'reason' in result ? result.reason : null,
          // The audit log records a staged credential a rollback had to leave valid, and for whom.
          ...(result.outcome === 'rolled_back' && result.pendingRevocation
            ? { pendingRevocationOf: result.pendingRevocation.version, pendingFor: result.pendingRevocation.consumers.join(',') }
            : {}),
        }),
      );
    }
    return result;
  }

  /**
   * A failure with nothing to clean up: a plan waits at its gates for every child, so tell it first.
   * The audit log hears of it too (metrics count it, notifications go out), best effort: the
   * failure itself is what the run ends with.
   */
  readonly failing = async (err: unknown): Promise<never> => {
    await CancellationScope.nonCancellable(() => this.gates.failed(failureMessage(err)));
    // A cancellation (an incident pre-empting the run) is not a failure of the rotation.
    if (!this.finishRecorded && !isCancellation(err) && patched(Patch.FAILURE_RECORDED)) {
      this.finishRecorded = true;
      await CancellationScope.nonCancellable(() =>
        this.event('rotation_finished', 'failed', { outcome: 'failed', reason: failureMessage(err) }),
      ).catch(() => undefined);
    }
    throw err;
  };

  /** The new version is current and the old one revoked. */
  rotated(fromVersion: number, toVersion: number, emergencyNote?: string): Promise<RotationResult> {
    const { secretId } = this.ref;
    return this.finish({
      outcome: 'rotated',
      secretId,
      fromVersion,
      toVersion,
      consumers: this.state.consumers,
      ...(emergencyNote ? { emergencyNote } : {}),
    });
  }

  aborted(err: unknown, failedPhase: Phase = Phase.PRECHECKS, currentVersion?: number): Promise<RotationResult> {
    return this.finish({ outcome: 'aborted', secretId: this.ref.secretId, currentVersion, failedPhase, reason: failureMessage(err) });
  }

  /** Before promotion, failures change nothing consumers see: the staged credential is discarded. */
  async discardAndAbort(err: unknown, failedPhase: Phase, currentVersion: number): Promise<RotationResult> {
    await CancellationScope.nonCancellable(async () => {
      this.phase(Phase.DISCARDING);
      await this.discard.discardStaged({ ...this.ref, revoke: true });
    }).catch(this.failing);
    return this.aborted(err, failedPhase, currentVersion);
  }

  /** The new version is current and proven, so no rollback: an operator must finish revocation. */
  async revocationFailed(err: unknown, promotedVersion: number, oldVersion: number, type: string | undefined): Promise<never> {
    // An update still writing its audit row is answered first (a failed workflow drops it otherwise).
    if (!allHandlersFinished()) await condition(allHandlersFinished);
    await this.event('rotation_finished', 'failed', { outcome: 'revocation_failed', reason: failureMessage(err) });
    this.finishRecorded = true;
    throw ApplicationFailure.nonRetryable(
      `version ${promotedVersion} is current and confirmed, but revoking version ${oldVersion} failed: ${failureMessage(err)}`,
      type ?? FailureType.RevocationFailed,
    );
  }
}

/** Synchronous update validator: reject without touching state. */
function validateConfirmation(state: RotationStatus, raw: ConfirmCutoverInput): void {
  const refuse = (message: string, type: FailureType) => ApplicationFailure.nonRetryable(message, type);
  const parsed = confirmCutoverInput.safeParse(raw);
  if (!parsed.success) throw refuse(`invalid confirmation: ${describeIssues(parsed.error)}`, FailureType.InvalidInput);
  const confirm = parsed.data;
  const consumer = state.consumers.find((c) => c.name === confirm.consumer);
  if (!consumer) {
    throw refuse(
      `unknown consumer "${confirm.consumer}"; consumers of ${state.secretId}: ${state.consumers.map((c) => c.name).join(', ')}`,
      FailureType.UnknownConsumer,
    );
  }
  if (consumer.status === 'confirmed') {
    throw refuse(
      `consumer "${consumer.name}" already confirmed version ${consumer.confirmedVersion} (by ${consumer.confirmedBy})`,
      FailureType.AlreadyConfirmed,
    );
  }
  // A rollback asks the consumers that had moved to the new version to confirm the restored one.
  const restoring = state.phase === Phase.ROLLING_BACK && consumer.restoring === true;
  if (state.phase !== Phase.AWAITING_CONFIRMATION && !restoring)
    throw refuse(`rotation of ${state.secretId} is not awaiting confirmation (phase: ${state.phase})`, FailureType.NotAwaitingConfirmation);
  if (consumer.mode !== 'manual')
    throw refuse(`consumer "${consumer.name}" confirms by ${consumer.mode}, not manually`, FailureType.WrongConfirmMode);
  if (confirm.version !== state.toVersion) {
    const expected = restoring ? `the restored version ${state.toVersion}` : `the promoted version ${state.toVersion}`;
    throw refuse(`version ${confirm.version} is not ${expected}`, FailureType.WrongVersion);
  }
  if (consumer.status !== 'waiting' && consumer.status !== 'notified')
    throw refuse(`consumer "${consumer.name}" can no longer confirm (${consumer.status})`, FailureType.ConfirmationClosed);
}
