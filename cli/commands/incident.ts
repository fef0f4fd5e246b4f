import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import {
  dryRunWorkflowId,
  endRevocationUpdate,
  incidentProgressQuery,
  incidentReportQuery,
  incidentWorkflowId,
  rotationWorkflowId,
  unfreezeWorkflowId,
} from '../../workflows/contracts.js';
import type { IncidentReport } from '../../workflows/incident-types.js';
import { revokeAll, unfreeze } from '../../workflows/revoke-all.js';
import { actor, type CliContext } from '../cli-context.js';
import { CliError, usageError } from '../cli-error.js';
import { liveProgress } from '../live-progress.js';

export const incidentHelp = `usage: rotor incident <command> ...

  revoke-all --incident <id> --reason <text> --scope <items> [--dry-run] [--wait] [--json]
             [--concurrency <n>] [--force] [--freeze everything|in-scope]
      <items> is a comma-separated list of secret:<id>, tag:<tag> and lease:<prefix/> (a Vault
      lease folder under database/creds/). Freezes first (new break-glass grants and ordinary
      rotations are refused), revokes leases and break-glass grants, emergency-rotates every secret
      in scope. --dry-run lists what would happen and changes nothing.
  report <id> [--json]      what was done, when, how long it took, and what failed
  unfreeze <id>   lift the freeze (not by the person who started the incident)
  end-revocation <secret> --reason <text>
      stop an emergency rotation that keeps retrying to revoke the old credential (say how it was
      dealt with by hand); it ends failed, the old credential possibly still valid
Exit codes: 0 all done, 1 something failed (see the report), 2 bad arguments.`;

function parseScope(raw: string | undefined): { secretIds: string[]; tags: string[]; leasePrefixes: string[] } {
  if (!raw) throw usageError('missing --scope', 'e.g. --scope tag:pci,secret:payments-db,lease:database/creds/breakglass-x/');
  const scope = { secretIds: [] as string[], tags: [] as string[], leasePrefixes: [] as string[] };
  for (const item of raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [kind, ...rest] = item.split(':');
    const value = rest.join(':');
    if (!value) throw usageError(`--scope item "${item}" has no value`, 'write kind:value, e.g. tag:pci');
    if (kind === 'secret') scope.secretIds.push(value);
    else if (kind === 'tag') scope.tags.push(value);
    else if (kind === 'lease') scope.leasePrefixes.push(value);
    else throw usageError(`--scope item "${item}": unknown kind "${kind}"`, 'use secret:<id>, tag:<tag> or lease:<prefix/>');
  }
  return scope;
}

function printReport(r: IncidentReport): void {
  console.log(`incident ${r.incidentId}${r.dryRun ? ' (DRY RUN: nothing changed)' : ''}: ${r.reason}`);
  console.log(
    `  started ${r.startedAt} by ${r.requestedBy}${r.finishedAt ? `, finished ${r.finishedAt}` : ''}; freeze ${r.frozen ? 'ON' : 'off'}`,
  );
  for (const l of r.leases)
    console.log(
      `  lease ${l.prefix.padEnd(40)} ${l.status.padEnd(7)} ${l.leasesBefore} lease(s)${l.forced ? ' FORCED' : ''}${l.durationMs ? ` ${l.durationMs}ms` : ''}${l.reason ? `  ${l.reason}` : ''}`,
    );
  for (const g of r.grants) console.log(`  grant ${g.workflowId.padEnd(40)} ${g.status.padEnd(7)}${g.reason ? ` ${g.reason}` : ''}`);
  for (const s of r.secrets) {
    const versions = s.toVersion ? ` v${s.fromVersion}→v${s.toVersion}` : '';
    console.log(
      `  secret ${s.secretId.padEnd(39)} ${s.status.padEnd(7)}${versions}${s.durationMs ? ` ${s.durationMs}ms` : ''}${s.preempted ? `  pre-empted ${s.preempted}` : ''}${s.reason ? `  ${s.reason}` : ''}`,
    );
  }
  console.log(`  done ${r.summary.done}, failed ${r.summary.failed}, planned ${r.summary.planned}`);
}

export async function incident(
  ctx: CliContext,
  [sub, id]: string[],
  v: {
    incident?: string;
    reason?: string;
    scope?: string;
    dryRun: boolean;
    wait: boolean;
    json: boolean;
    concurrency?: string;
    force: boolean;
    freeze?: string;
  },
): Promise<number> {
  switch (sub) {
    case 'revoke-all': {
      if (!v.incident) throw usageError('missing --incident', 'name the incident, e.g. --incident inc-2041');
      if (!v.reason) throw usageError('missing --reason', 'say what happened, e.g. --reason "CI runner compromised"');
      const concurrency = v.concurrency === undefined ? undefined : Number(v.concurrency);
      if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= 64))
        throw usageError(`--concurrency ${v.concurrency} is not 1..64`, 'pass a whole number such as --concurrency 8');
      if (v.freeze !== undefined && v.freeze !== 'everything' && v.freeze !== 'in-scope')
        throw usageError(`--freeze ${v.freeze} is not valid`, 'use --freeze everything (default) or --freeze in-scope');
      const workflowId = v.dryRun ? dryRunWorkflowId(v.incident, Date.now()) : incidentWorkflowId(v.incident);
      let handle;
      try {
        handle = await ctx.client.workflow.start(revokeAll, {
          taskQueue: ctx.env.ROTOR_TASK_QUEUE,
          workflowId,
          args: [
            {
              incidentId: v.incident,
              reason: v.reason,
              identity: await ctx.identity(),
              scope: parseScope(v.scope),
              dryRun: v.dryRun,
              forceLeases: v.force,
              ...(concurrency ? { concurrency } : {}),
              ...(v.freeze ? { freeze: v.freeze } : {}),
            },
          ],
        });
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError)
          throw new CliError(
            `incident ${v.incident} already has a revoke-all (workflow ${workflowId})`,
            `follow it with 'rotor incident report ${v.incident}'`,
          );
        throw err;
      }
      if (!v.wait && !v.dryRun) {
        console.log(`started ${workflowId}; follow it with 'rotor incident report ${v.incident}'`);
        return 0;
      }
      const stop = liveProgress(
        handle,
        incidentProgressQuery,
        (p) => `done ${p.done} / failed ${p.failed} / remaining ${p.remaining} (of ${p.total})`,
        v.json,
        1000,
      );
      try {
        const report = await handle.result();
        if (v.json) console.log(JSON.stringify(report, null, 2));
        else printReport(report);
        return report.summary.failed ? 1 : 0;
      } catch (err) {
        if (err instanceof WorkflowFailedError)
          throw new CliError(`revoke-all failed: ${(err.cause as Error | undefined)?.message ?? err.message}`);
        throw err;
      } finally {
        stop();
      }
    }
    case 'report': {
      if (!id) throw usageError('missing <id>', 'name the incident, e.g. rotor incident report inc-2041');
      try {
        const report = await ctx.client.workflow.getHandle(incidentWorkflowId(id)).query(incidentReportQuery);
        if (v.json) console.log(JSON.stringify(report, null, 2));
        else printReport(report);
        return report.summary.failed ? 1 : 0;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError)
          throw new CliError(`no revoke-all for incident ${id}`, "start one with 'rotor incident revoke-all'");
        throw err;
      }
    }
    case 'unfreeze': {
      if (!id) throw usageError('missing <id>', 'name the incident whose freeze to lift');
      try {
        await ctx.client.workflow.execute(unfreeze, {
          taskQueue: ctx.env.ROTOR_TASK_QUEUE,
          workflowId: unfreezeWorkflowId(id, Date.now()),
          args: [{ incidentId: id, identity: await ctx.identity() }],
        });
      } catch (err) {
        if (err instanceof WorkflowFailedError)
          throw new CliError(
            `unfreeze refused: ${((err.cause as Error | undefined)?.cause as Error | undefined)?.message ?? (err.cause as Error | undefined)?.message ?? err.message}`,
          );
        throw err;
      }
      console.log(`freeze of incident ${id} lifted by ${await actor(ctx)}`);
      return 0;
    }
    case 'end-revocation': {
      if (!id) throw usageError('missing <secret>', 'name the secret whose emergency revocation to end');
      if (!v.reason)
        throw usageError('missing --reason', 'say how the old credential was dealt with, e.g. --reason "role dropped by hand"');
      try {
        await ctx.client.workflow.getHandle(rotationWorkflowId(id)).executeUpdate(endRevocationUpdate, {
          args: [{ identity: await ctx.identity(), reason: v.reason }],
        });
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) throw new CliError(`no rotation of ${id} is running`);
        if (err instanceof WorkflowUpdateFailedError)
          throw new CliError(`end-revocation refused: ${(err.cause as Error | undefined)?.message ?? err.message}`);
        throw err;
      }
      console.log(`emergency revocation of ${id} ended by ${await actor(ctx)}`);
      return 0;
    }
    default:
      throw usageError(
        sub ? `unknown incident command "${sub}"` : 'missing incident command',
        'use one of: revoke-all, report, unfreeze, end-revocation',
      );
  }
}
