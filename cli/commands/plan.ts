import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError } from '@temporalio/client';
import { WorkflowIdConflictPolicy } from '@temporalio/common';
import { planStatusQuery, planWorkflowId } from '../../workflows/contracts.js';
import { rotatePlan } from '../../workflows/rotate-plan.js';
import { actor, type CliContext } from '../cli-context.js';
import { CliError, usageError } from '../cli-error.js';
import { liveProgress } from '../live-progress.js';
import { describe } from './rotate.js';

export const planHelp = `usage: rotor plan <plan> [--wait] [--json] [--reason <text>]

Starts the rotatePlan workflow (id plan/<plan>): every secret of the plan is pre-checked,
staged, promoted, confirmed and post-validated in lockstep; if one fails, all roll back.
Exit codes: 0 rotated (or started, without --wait), 1 failed or aborted, 2 bad arguments, 3 rolled back.`;

export async function plan(ctx: CliContext, args: { plan?: string; wait: boolean; json: boolean; reason?: string }): Promise<number> {
  const inventory = await ctx.inventory();
  const known = inventory.plans.map((p) => p.id).join(', ') || 'none (add plans: to the inventory)';
  if (!args.plan) throw usageError('missing <plan>', `name one of: ${known}`);
  if (!inventory.plans.some((p) => p.id === args.plan)) throw usageError(`unknown plan "${args.plan}"`, `name one of: ${known}`);
  let handle;
  try {
    handle = await ctx.client.workflow.start(rotatePlan, {
      taskQueue: ctx.env.ROTOR_TASK_QUEUE,
      workflowId: planWorkflowId(args.plan),
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
      args: [{ planId: args.plan, requestedBy: await actor(ctx), ...(args.reason ? { reason: args.reason } : {}) }],
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError)
      throw new CliError(`plan ${args.plan} is already running (workflow ${planWorkflowId(args.plan)})`, 'wait for it to finish');
    throw err;
  }
  if (!args.wait) {
    if (args.json) console.log(JSON.stringify({ started: true, workflowId: handle.workflowId }));
    else console.log(`started ${handle.workflowId}; follow it with 'rotor status' or in the Temporal UI`);
    return 0;
  }
  const stop = liveProgress(
    handle,
    planStatusQuery,
    (s) =>
      `gate=${s.gate}  ${s.reports
        .filter((r) => r.gate === s.gate)
        .map((r) => `${r.secretId}=${r.ok ? 'reached' : 'FAILED'}`)
        .join(' ')}`,
    args.json,
  );
  try {
    const result = await handle.result();
    if (args.json) console.log(JSON.stringify(result, null, 2));
    else {
      console.log(`plan ${result.planId}: ${result.outcome}${result.reason ? ` (${result.reason})` : ''}`);
      for (const s of result.secrets) console.log(`  ${describe(s)}`);
    }
    return result.outcome === 'rotated' ? 0 : result.outcome === 'rolled_back' ? 3 : 1;
  } catch (err) {
    if (err instanceof WorkflowFailedError) throw new CliError(`plan failed: ${(err.cause as Error | undefined)?.message ?? err.message}`);
    throw err;
  } finally {
    stop();
  }
}
