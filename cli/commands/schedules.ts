import { ScheduleNotFoundError } from '@temporalio/client';
import { diffSchedules, reconcileSchedules } from '../../schedules/reconcile-schedules.js';
import type { ScheduleChange } from '../../schedules/schedule-changes.js';
import { rotationScheduleId } from '../../workflows/contracts.js';
import { actor, requireSecret, type CliContext } from '../cli-context.js';
import { CliError, usageError } from '../cli-error.js';

export const schedulesHelp = `usage: rotor schedules <sync|diff|pause <secret>|resume <secret>> [--json]

  diff             show what sync would change (create/update/pause/unpause/delete); changes nothing
  sync             make Temporal's schedules (rotate/<secret>, overlap policy skip) match the inventory
  pause <secret>   pause one secret's schedule (kept until the inventory's own 'paused' changes)
  resume <secret>  resume it
--json prints the changes as an array of {action, scheduleId, secretId, detail}.`;

function print(changes: ScheduleChange[], json: boolean, verb: string): void {
  if (json) return console.log(JSON.stringify(changes, null, 2));
  if (!changes.length) return console.log('no secret in the inventory has a cadence, and no rotor schedule exists');
  for (const c of changes)
    console.log(`${c.action === 'unchanged' ? '  unchanged' : `${verb} ${c.action}`.padEnd(11)}  ${c.scheduleId.padEnd(28)} ${c.detail}`);
}

export async function schedules(ctx: CliContext, args: { sub?: string; secret?: string; json: boolean }): Promise<number> {
  switch (args.sub) {
    case 'diff':
      print(await diffSchedules(ctx.client, await ctx.inventory(), ctx.env.ROTOR_TASK_QUEUE), args.json, 'would');
      return 0;
    case 'sync':
      print(await reconcileSchedules(ctx.client, await ctx.inventory(), ctx.env.ROTOR_TASK_QUEUE), args.json, 'did');
      return 0;
    case 'pause':
    case 'resume': {
      const spec = await requireSecret(ctx, args.secret);
      const handle = ctx.client.schedule.getHandle(rotationScheduleId(spec.id));
      try {
        if (args.sub === 'pause') await handle.pause(`paused by ${await actor(ctx)}`);
        else await handle.unpause(`resumed by ${await actor(ctx)}`);
      } catch (err) {
        if (err instanceof ScheduleNotFoundError)
          throw new CliError(`${spec.id} has no schedule`, `give it a cadence in the inventory and run 'rotor schedules sync'`);
        throw err;
      }
      console.log(`${args.sub === 'pause' ? 'paused' : 'resumed'} schedule ${rotationScheduleId(spec.id)}`);
      return 0;
    }
    default:
      throw usageError(
        args.sub ? `unknown schedules command "${args.sub}"` : 'missing schedules command',
        'use one of: sync, diff, pause <secret>, resume <secret>',
      );
  }
}
