import type pg from 'pg';
import type { WorkflowExecutionInfo } from '@temporalio/client';
import { activeFreezes, freezeHolds, type IncidentFreeze } from '../../activities/incident/freeze-store.js';
import { collectDebt, type RotationRun } from '../debt-sources.js';
import { operatorDatabasePool } from '../operator-database.js';
import { operatorVaultError } from '../operator-session.js';
import { formatDuration } from '../../config/duration.js';
import { deadDeliveries } from '../../notifications/outbox-store.js';
import { listRunningRotations } from '../../observe/running-rotations.js';
import type { RotationStatus } from '../../workflows/rotation-types.js';
import { OUTCOME, PHASE } from '../../workflows/search-attributes.js';
import type { CliContext } from '../cli-context.js';
import { rotationScheduleId, rotationWorkflowId, statusQuery } from '../../workflows/contracts.js';

export const statusHelp = `usage: rotor status [--json]

Every secret of the inventory with its current Vault version, its last rotation and outcome,
its next scheduled run, and any rotation in flight with its phase and consumers.

--json prints an array of objects, one per secret, with these stable fields:
  id, path, owner, currentVersion (number|null), lastRotation ({workflowId, runId, status,
  outcome, startedAt, closedAt}|null), inFlight ({phase, fromVersion, toVersion, consumers,
  revocationRetrying?: {since, firstFailure}}|null),
  nextRun (ISO time|null), schedulePaused (boolean|null), frozenBy ({incidentId, reason, startedBy,
  startedAt}|null: an active incident freeze that holds this secret's scheduled rotations),
  debt ({ageSeconds, compliance, lastSuccessAt, failures30d}: as 'rotor report debt' defines them)

After the secrets, one line per owner gives its secret-debt score ('rotor report debt --help').
Above them (text only): active incident freezes, and notifications given up in the last 7 days
(a target that refused or stayed unreachable for 24 hours; README, "Notifications").`;

export interface SecretStatus {
  id: string;
  path: string;
  owner: string;
  currentVersion: number | null;
  lastRotation: RotationRun | null;
  inFlight:
    | (Pick<RotationStatus, 'phase' | 'fromVersion' | 'toVersion' | 'consumers' | 'revocationRetrying'> & {
        /** Set by `rotor status`: when the phase began, how long it may last, and whether it has outlasted that. */
        phaseSince?: string;
        phaseLimitSeconds?: number | null;
        stuck?: boolean;
      })
    | null;
  nextRun: string | null;
  schedulePaused: boolean | null;
  frozenBy: { incidentId: string; reason: string; startedBy: string; startedAt: string } | null;
  /** Set by `rotor status` (not by collectStatus): the secret-debt facts of `rotor report debt`. */
  debt?: { ageSeconds: number | null; compliance: string; lastSuccessAt: string | null; failures30d: number };
}

async function lastRotation(ctx: CliContext, secretId: string): Promise<WorkflowExecutionInfo | undefined> {
  for await (const execution of ctx.client.workflow.list({ query: `WorkflowId = "${rotationWorkflowId(secretId)}"`, pageSize: 1 }))
    return execution;
  return undefined;
}

export async function collectStatus(ctx: CliContext, freezes: IncidentFreeze[]): Promise<SecretStatus[]> {
  const inventory = await ctx.inventory();
  // Versions come from KV metadata, which the operator policy may read (values it may not).
  const vault = ctx.session.vault;
  return Promise.all(
    inventory.secrets.map(async (s): Promise<SecretStatus> => {
      const meta = await vault.kvMetadata(ctx.env.ROTOR_VAULT_KV_MOUNT, s.path).catch((err: unknown) => {
        throw operatorVaultError(err, `reading the versions of ${s.id} (${ctx.env.ROTOR_VAULT_KV_MOUNT}/metadata/${s.path})`);
      });
      const last = await lastRotation(ctx, s.id);
      let inFlight: SecretStatus['inFlight'] = null;
      if (last?.status.name === 'RUNNING') {
        const q = await ctx.client.workflow
          .getHandle(last.workflowId, last.runId)
          .query(statusQuery)
          .catch(() => undefined);
        if (q) {
          const { phase, fromVersion, toVersion, consumers, revocationRetrying } = q;
          inFlight = { phase, fromVersion, toVersion, consumers, ...(revocationRetrying ? { revocationRetrying } : {}) };
        }
      }
      let nextRun: string | null = null;
      let schedulePaused: boolean | null = null;
      try {
        const schedule = await ctx.client.schedule.getHandle(rotationScheduleId(s.id)).describe();
        nextRun = upcomingRun(schedule.info.nextActionTimes, Date.now());
        schedulePaused = schedule.state.paused;
      } catch {
        // no schedule for this secret
      }
      return {
        id: s.id,
        path: s.path,
        owner: s.owner,
        currentVersion: meta?.current_version ?? null,
        lastRotation: last
          ? {
              workflowId: last.workflowId,
              runId: last.runId,
              status: last.status.name,
              outcome: (last.typedSearchAttributes.get(OUTCOME) as string | undefined) ?? null,
              startedAt: last.startTime.toISOString(),
              closedAt: last.closeTime?.toISOString() ?? null,
            }
          : null,
        inFlight:
          inFlight ??
          (last?.status.name === 'RUNNING'
            ? { phase: (last.typedSearchAttributes.get(PHASE) as RotationStatus['phase']) ?? 'prechecks', consumers: [] }
            : null),
        nextRun,
        schedulePaused,
        frozenBy: frozenBy(freezes, s.id),
      };
    }),
  );
}

/** The first of a schedule's action times still ahead: a paused schedule keeps those it computed before the pause. */
export function upcomingRun(actionTimes: Date[], now: number): string | null {
  return actionTimes.find((t) => t.getTime() > now)?.toISOString() ?? null;
}

/** ` since <time>`, and `STUCK (limit 7m)` once the phase has outlasted its limit. */
function phaseTiming(f: NonNullable<SecretStatus['inFlight']>): string {
  if (!f.phaseSince) return '';
  const limit = f.phaseLimitSeconds == null ? '' : ` (limit ${formatDuration(f.phaseLimitSeconds * 1000)})`;
  return ` since ${f.phaseSince}${f.stuck ? ` STUCK${limit}` : ''}`;
}

/** The first active freeze that holds this secret (a freeze without secret ids holds them all). */
function frozenBy(freezes: IncidentFreeze[], secretId: string): SecretStatus['frozenBy'] {
  const f = freezes.find((f) => freezeHolds(f, secretId));
  return f ? { incidentId: f.incidentId, reason: f.reason, startedBy: f.startedBy, startedAt: f.startedAt.toISOString() } : null;
}

export async function status(ctx: CliContext, args: { json: boolean }): Promise<number> {
  const pool = await operatorDatabasePool(ctx.session.vault, ctx.env);
  try {
    return await statusWith(ctx, pool, args);
  } finally {
    await pool.end();
  }
}

async function statusWith(ctx: CliContext, pool: pg.Pool, args: { json: boolean }): Promise<number> {
  // Active incident freezes are shown above the secrets: they hold rotations and grants.
  const freezes = await activeFreezes(pool);
  const rows = await collectStatus(ctx, freezes);
  const running = await listRunningRotations({
    client: ctx.client,
    db: pool,
    inventory: await ctx.inventory(),
    taskQueue: ctx.env.ROTOR_TASK_QUEUE,
  });
  for (const r of running) {
    const inFlight = rows.find((s) => s.id === r.secretId)?.inFlight;
    if (inFlight?.phase !== r.phase) continue;
    Object.assign(inFlight, {
      phaseSince: r.phaseSince.toISOString(),
      phaseLimitSeconds: r.limitMs === null ? null : r.limitMs / 1000,
      stuck: r.stuck,
    });
  }
  const debt = await collectDebt(ctx, { status: rows, pool, unmanaged: false, leases: false });
  for (const r of rows) {
    const d = debt.secrets.find((s) => s.id === r.id);
    if (d)
      r.debt = { ageSeconds: d.ageSeconds, compliance: d.compliance, lastSuccessAt: d.lastSuccessAt, failures30d: d.failures30d.count };
  }
  if (!args.json) {
    for (const f of freezes) {
      console.log(
        `INCIDENT FREEZE ${f.incidentId} since ${f.startedAt.toISOString()} by ${f.startedBy}: ${f.reason}${f.secretIds ? ` (secrets: ${f.secretIds.join(', ')})` : ' (everything)'}; lift with 'rotor incident unfreeze ${f.incidentId}'`,
      );
    }
  }
  if (!args.json) {
    const weekAgo = new Date(Date.now() - 7 * 24 * 3600_000);
    const dead = await deadDeliveries(pool, ctx.env.ROTOR_TASK_QUEUE, 20, weekAgo).catch((err: unknown) => {
      // A deployment whose auditor login predates notifications (it may read the audit log only).
      if ((err as { code?: string }).code !== '42501' && (err as { code?: string }).code !== '42P01') throw err;
      console.log(
        'notifications given up: not readable with this login (grant SELECT on notification_outbox to the rotor-auditor role: README, "Notifications")',
      );
      return [];
    });
    for (const d of dead) {
      console.log(
        `NOTIFICATION GIVEN UP ${d.kind}${d.secretId ? ` (${d.secretId})` : ''} to ${d.target} at ${d.createdAt.toISOString()} after ${d.attempts} attempt(s): ${d.lastError ?? 'no answer'}`,
      );
    }
  }
  if (args.json) {
    console.log(JSON.stringify(rows, null, 2));
    return 0;
  }
  for (const r of rows) {
    const last = r.lastRotation
      ? `${r.lastRotation.outcome ?? r.lastRotation.status.toLowerCase()} at ${r.lastRotation.closedAt ?? r.lastRotation.startedAt}`
      : 'never rotated';
    const flight = r.inFlight
      ? `  IN FLIGHT: ${r.inFlight.phase}${phaseTiming(r.inFlight)} ${r.inFlight.consumers.map((c) => `${c.name}=${c.status}`).join(' ')}` +
        (r.inFlight.revocationRetrying
          ? `  REVOCATION RETRYING since ${r.inFlight.revocationRetrying.since}: ${r.inFlight.revocationRetrying.firstFailure}`
          : '')
      : '';
    const next = r.nextRun
      ? `next ${r.nextRun}${r.schedulePaused ? ' (paused)' : ''}`
      : r.schedulePaused
        ? 'schedule paused'
        : 'no schedule';
    console.log(`${r.id.padEnd(20)} v${r.currentVersion ?? '-'}  last: ${last}  ${next}${flight}`);
  }
  for (const o of debt.owners) console.log(`debt ${o.line}`);
  return 0;
}
