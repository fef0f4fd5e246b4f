import { condition, getExternalWorkflowHandle, setHandler } from '@temporalio/workflow';
import { gateDecisionSignal, gateReachedSignal } from './contracts.js';
import { PLAN_GATES, type PlanGate } from './plan-types.js';

export class PlanAborted extends Error {
  constructor(reason: string) {
    super(`plan aborted: ${reason}`);
  }
}

/**
 * The child's side of the lockstep. Outside a plan every gate passes at once. Inside one,
 * reaching a gate reports to the plan and waits for its decision; `failed` reports a failure
 * on the way to the next gate so the plan can stop the others.
 */
export function planGates(secretId: string, parentWorkflowId: string | undefined) {
  const passed = new Set<PlanGate>();
  let aborted: string | undefined;
  let heading: PlanGate = PLAN_GATES[0];
  if (parentWorkflowId) {
    setHandler(gateDecisionSignal, (d) => {
      if (d.kind === 'proceed') passed.add(d.gate);
      else aborted ??= d.reason;
    });
  }
  const parent = parentWorkflowId ? getExternalWorkflowHandle(parentWorkflowId) : undefined;
  return {
    async reach(gate: PlanGate): Promise<void> {
      if (!parent) return;
      await parent.signal(gateReachedSignal, { secretId, gate, ok: true });
      await condition(() => passed.has(gate) || aborted !== undefined);
      if (aborted !== undefined) throw new PlanAborted(aborted);
      heading = PLAN_GATES[PLAN_GATES.indexOf(gate) + 1] ?? gate;
    },
    async failed(reason: string): Promise<void> {
      if (!parent || aborted !== undefined) return;
      await parent.signal(gateReachedSignal, { secretId, gate: heading, ok: false, reason }).catch(() => undefined);
    },
  };
}
