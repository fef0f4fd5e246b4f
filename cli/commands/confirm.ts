import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { confirmCutoverUpdate, rotationWorkflowId, statusQuery } from '../../workflows/contracts.js';
import { requireSecret, type CliContext } from '../cli-context.js';
import { CliError, usageError } from '../cli-error.js';

export const confirmHelp = `usage: rotor confirm <secret> <consumer> [--version <n>]

Confirms that a manual-confirmation consumer now uses the promoted version of <secret>
(the confirmCutover update of workflow rotate/<secret>), as the operator you logged in as
('rotor login'): the worker verifies your Vault identity token. --version defaults to the
version being rolled out.`;

export async function confirm(ctx: CliContext, args: { secret?: string; consumer?: string; version?: string }): Promise<number> {
  const spec = await requireSecret(ctx, args.secret);
  if (!args.consumer) throw usageError('missing <consumer>', `name one of: ${spec.consumers.map((c) => c.name).join(', ')}`);
  const handle = ctx.client.workflow.getHandle(rotationWorkflowId(spec.id));
  let version = args.version === undefined ? undefined : Number(args.version);
  if (version !== undefined && !(Number.isInteger(version) && version > 0))
    throw usageError(`--version ${args.version} is not a version number`, 'pass a positive integer, e.g. --version 4');
  try {
    version ??= (await handle.query(statusQuery)).toVersion;
    if (version === undefined)
      throw new CliError(`the rotation of ${spec.id} has not promoted a version yet`, 'wait until it awaits confirmation');
    const state = await handle.executeUpdate(confirmCutoverUpdate, {
      args: [{ consumer: args.consumer, version, identity: await ctx.identity() }],
    });
    console.log(`confirmed: ${state.name} uses version ${state.confirmedVersion} of ${spec.id} (by ${state.confirmedBy})`);
    return 0;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError)
      throw new CliError(`no rotation of ${spec.id} is running`, `start one with 'rotor rotate ${spec.id}'`);
    if (err instanceof WorkflowUpdateFailedError)
      throw new CliError(`confirmation refused: ${(err.cause as Error | undefined)?.message ?? err.message}`);
    throw err;
  }
}
