import {
  ApplicationFailure,
  condition,
  ParentClosePolicy,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
  type ChildWorkflowHandle,
} from '@temporalio/workflow';
import { describeIssues, rotatePlanInput, type RotatePlanInput } from '../config/workflow-inputs.js';
import { failureMessage } from './failure-message.js';
import { FailureType } from './failure-types.js';
import { gateDecisionSignal, gateReachedSignal, planStatusQuery, rotationWorkflowId } from './contracts.js';
import { PLAN_GATES, type GateReport, type PlanGate, type PlanResult, type PlanStatus } from './plan-types.js';
import { rotateSecret } from './rotate-secret.js';
import { quick } from './rotation-activities.js';
import { OUTCOME, PHASE } from './search-attributes.js';

/**
 * Rotates several secrets that must move together: all pre-checked, all staged, all promoted,
 * all confirmed, all post-validated - in lockstep, each a rotateSecret child. When any fails,
 * every other is told to abort at its gate, so each secret already promoted rolls back to its
 * previous version and each staged credential is discarded.
 */
export async function rotatePlan(rawInput: RotatePlanInput): Promise<PlanResult> {
  const parsed = rotatePlanInput.safeParse(rawInput ?? {});
  if (!parsed.success)
    throw ApplicationFailure.nonRetryable(
      `invalid rotatePlan input: ${describeIssues(parsed.error)}. Expected e.g. {"planId": "checkout"}`,
      FailureType.InvalidInput,
    );
  const input = parsed.data;
  const { secrets } = await quick.loadPlanSpec({ planId: input.planId });

  const reports: GateReport[] = [];
  const status: PlanStatus = { planId: input.planId, gate: PLAN_GATES[0], reports };
  setHandler(gateReachedSignal, (report) => void reports.push(report));
  setHandler(planStatusQuery, () => status);

  const children: ChildWorkflowHandle<typeof rotateSecret>[] = [];
  const failure = () => reports.find((r) => !r.ok);
  let startError: string | undefined;
  for (const secretId of secrets) {
    try {
      children.push(
        await startChild(rotateSecret, {
          workflowId: rotationWorkflowId(secretId),
          args: [
            {
              secretId,
              requestedBy: input.requestedBy ?? `plan:${input.planId}`,
              reason: input.reason,
              plan: { parentWorkflowId: workflowInfo().workflowId },
            },
          ],
          // A cancelled plan lets each child clean up (discard or roll back) instead of vanishing.
          parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        }),
      );
    } catch (err) {
      startError = `${secretId}: ${failureMessage(err)}`;
      break;
    }
  }

  let stoppedAt: PlanGate | undefined;
  let reason: string | undefined = startError;
  if (!startError) {
    for (const gate of PLAN_GATES) {
      status.gate = gate;
      upsertSearchAttributes([{ key: PHASE, value: `plan:${gate}` }]);
      await condition(() => failure() !== undefined || secrets.every((id) => reports.some((r) => r.secretId === id && r.gate === gate)));
      const failed = failure();
      if (failed) {
        stoppedAt = failed.gate;
        reason = `${failed.secretId} failed before ${failed.gate}: ${failed.reason ?? 'unknown'}`;
        break;
      }
      await Promise.all(children.map((c) => c.signal(gateDecisionSignal, { kind: 'proceed', gate })));
    }
  }
  if (reason)
    await Promise.all(children.map((c) => c.signal(gateDecisionSignal, { kind: 'abort', reason: reason! }).catch(() => undefined)));

  status.gate = 'finishing';
  const results = await Promise.all(children.map((c) => c.result()));
  const outcome: PlanResult['outcome'] =
    results.length === secrets.length && results.every((r) => r.outcome === 'rotated')
      ? 'rotated'
      : results.some((r) => r.outcome === 'rolled_back')
        ? 'rolled_back'
        : 'aborted';
  upsertSearchAttributes([{ key: OUTCOME, value: outcome }]);
  return { planId: input.planId, outcome, ...(stoppedAt ? { stoppedAt } : {}), ...(reason ? { reason } : {}), secrets: results };
}
