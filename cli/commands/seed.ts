import { seedWorkflowId } from '../../workflows/contracts.js';
import { seedSecret } from '../../workflows/seed-secret.js';
import { actor, requireSecret, type CliContext } from '../cli-context.js';

export const seedHelp = `usage: rotor seed [<secret> ...]

Gives secrets of the inventory that have no Vault version yet their first credential (written
to Vault first, then applied at the target). Secrets that already have one are left alone.
Without arguments, seeds every secret of the inventory.`;

export async function seed(ctx: CliContext, args: { secrets: string[] }): Promise<number> {
  const ids = args.secrets.length ? args.secrets : (await ctx.inventory()).secrets.map((s) => s.id);
  for (const id of ids) {
    await requireSecret(ctx, id);
    const r = await ctx.client.workflow.execute(seedSecret, {
      taskQueue: ctx.env.ROTOR_TASK_QUEUE,
      workflowId: seedWorkflowId(id),
      args: [{ secretId: id, requestedBy: await actor(ctx) }],
    });
    console.log(`${id}: ${r.created ? 'seeded version' : 'already at version'} ${r.version}`);
  }
  return 0;
}
