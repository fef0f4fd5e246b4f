import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { WorkflowIdConflictPolicy } from '@temporalio/common';
import { rotationWorkflowId, statusQuery } from '../../workflows/contracts.js';
import { rotateSecret } from '../../workflows/rotate-secret.js';
import type { RotationResult } from '../../workflows/rotation-types.js';
import { actor, requireSecret, type CliContext } from '../cli-context.js';
import { CliError } from '../cli-error.js';
import { liveProgress } from '../live-progress.js';

export const rotateHelp = `usage: rotor rotate <secret> [--wait] [--json] [--reason <text>]

Starts the rotateSecret workflow (id rotate/<secret>) for a secret of the inventory.
  --wait         follow the phases live and exit with the outcome
  --json         print the final result as JSON (with --wait)
  --reason <t>   why, for the audit log
Exit codes: 0 rotated (or started, without --wait), 1 failed or aborted, 2 bad arguments, 3 rolled back.`;

export async function rotate(ctx: CliContext, args: { secret?: string; wait: boolean; json: boolean; reason?: string }): Promise<number> {
  const spec = await requireSecret(ctx, args.secret);
  let handle: WorkflowHandle<typeof rotateSecret>;
  try {
    handle = await ctx.client.workflow.start(rotateSecret, {
      taskQueue: ctx.env.ROTOR_TASK_QUEUE,
      workflowId: rotationWorkflowId(spec.id),
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
      args: [{ secretId: spec.id, requestedBy: await actor(ctx), ...(args.reason ? { reason: args.reason } : {}) }],
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw new CliError(
        `a rotation of ${spec.id} is already running (workflow ${rotationWorkflowId(spec.id)})`,
        `follow it with 'rotor status' or wait for it to finish`,
      );
    }
    throw err;
  }
  if (!args.wait) {
    if (args.json) console.log(JSON.stringify({ started: true, workflowId: handle.workflowId }));
    else console.log(`started ${handle.workflowId}; follow it with 'rotor status' or in the Temporal UI`);
    return 0;
  }
  return follow(handle, args.json);
}

/** Prints a line whenever the phase or a consumer's state changes, then the outcome. */
export async function follow(handle: WorkflowHandle<typeof rotateSecret>, json: boolean): Promise<number> {
  const stop = liveProgress(
    handle,
    statusQuery,
    (s) =>
      `phase=${s.phase}${s.toVersion ? ` v${s.fromVersion}→v${s.toVersion}` : ''}  ${s.consumers.map((c) => `${c.name}=${c.status}`).join(' ')}`,
    json,
  );
  try {
    const result = await handle.result();
    if (json) console.log(JSON.stringify(result, null, 2));
    else console.log(describe(result));
    return result.outcome === 'rotated' ? 0 : result.outcome === 'rolled_back' ? 3 : result.outcome === 'skipped' ? 0 : 1;
  } catch (err) {
    if (err instanceof WorkflowFailedError)
      throw new CliError(
        `rotation failed: ${(err.cause as Error | undefined)?.message ?? err.message}`,
        'see the workflow in the Temporal UI and the audit log',
      );
    throw err;
  } finally {
    stop();
  }
}

export function describe(result: RotationResult): string {
  switch (result.outcome) {
    case 'rotated':
      return `rotated ${result.secretId}: version ${result.fromVersion} → ${result.toVersion}; consumers: ${result.consumers.map((c) => `${c.name} ${c.status}`).join(', ') || 'none'}`;
    case 'rolled_back':
      return (
        `ROLLED BACK ${result.secretId}: version ${result.attemptedVersion} failed in ${result.failedPhase} (${result.reason}); version ${result.fromVersion} is current again as ${result.restoredVersion}` +
        (result.pendingRevocation
          ? `; version ${result.pendingRevocation.version} stays valid for ${result.pendingRevocation.consumers.join(', ')}, which did not confirm the restored version: once they use version ${result.restoredVersion}, rotate again to revoke it`
          : '')
      );
    case 'aborted':
      return `ABORTED ${result.secretId} in ${result.failedPhase}: ${result.reason}; nothing consumers see changed`;
    case 'skipped':
      return `skipped ${result.secretId}: ${result.reason}`;
  }
}
