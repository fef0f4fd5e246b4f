import type { Client } from '@temporalio/client';
import type pg from 'pg';
import type { Inventory } from '../config/inventory-schema.js';
import { rotationWorkflowId } from '../workflows/contracts.js';
import { Phase } from '../workflows/rotation-types.js';
import { PHASE, SECRET_ID } from '../workflows/search-attributes.js';
import { phaseLimitMs, phaseSince, type RunRow } from './phase-limits.js';

/** A rotation in progress as an operator watches it: where it is, since when, and whether that is too long. */
export interface RunningRotation {
  secretId: string;
  workflowId: string;
  runId: string;
  phase: Phase;
  phaseSince: Date;
  /** How long this phase may last before the rotation counts as stuck; null when nothing bounds it. */
  limitMs: number | null;
  stuck: boolean;
}

const PHASES: ReadonlySet<string> = new Set(Object.values(Phase));

export interface RunningRotationsDeps {
  client: Client;
  db: pg.Pool;
  inventory: Inventory;
  /** Only rotations on this task queue (several rotor deployments, or test stacks, can share a namespace). */
  taskQueue?: string;
  now?: Date;
  /** The most the visibility listing may take (default 10 s): a Temporal that does not answer fails it, not hangs it. */
  timeoutMs?: number;
}

/**
 * The running rotations of the inventory's secrets, read from Temporal's visibility (the RotorPhase
 * search attribute every non-emergency rotation keeps current) and the audit log (when the phase
 * began). One visibility listing and one query for all of them, so it can run on every scrape.
 * Emergency rotations keep no phase on the way and are left out; a rotation claimed by a
 * schedule's run is listed once, under rotate/<secretId>.
 */
export async function listRunningRotations(deps: RunningRotationsDeps): Promise<RunningRotation[]> {
  const specs = new Map(deps.inventory.secrets.map((s) => [s.id, s]));
  const query = ['WorkflowType = "rotateSecret"', 'ExecutionStatus = "Running"'];
  if (deps.taskQueue) query.push(`TaskQueue = "${deps.taskQueue.replace(/["\\]/g, '')}"`);
  const found: Array<{ secretId: string; workflowId: string; runId: string; phase: Phase; startedAt: Date }> = [];
  await deps.client.connection.withDeadline(Date.now() + (deps.timeoutMs ?? 10_000), async () => {
    for await (const w of deps.client.workflow.list({ query: query.join(' AND ') })) {
      const secretId = w.typedSearchAttributes.get(SECRET_ID);
      const phase = w.typedSearchAttributes.get(PHASE);
      if (!secretId || !specs.has(secretId) || w.workflowId !== rotationWorkflowId(secretId)) continue;
      if (!phase || !PHASES.has(phase)) continue;
      found.push({ secretId, workflowId: w.workflowId, runId: w.runId, phase: phase as Phase, startedAt: w.startTime });
    }
  });
  if (!found.length) return [];
  const { rows } = await deps.db.query<RunRow & { run_id: string }>(
    'SELECT run_id, step, outcome, at FROM audit_log WHERE run_id = ANY($1::text[])',
    [found.map((f) => f.runId)],
  );
  const byRun = new Map<string, RunRow[]>();
  for (const r of rows) byRun.set(r.run_id, [...(byRun.get(r.run_id) ?? []), r]);
  const now = (deps.now ?? new Date()).getTime();
  return found.map(({ startedAt, ...f }) => {
    const spec = specs.get(f.secretId);
    const since = phaseSince(f.phase, byRun.get(f.runId) ?? [], startedAt, spec);
    const limitMs = phaseLimitMs(f.phase, spec);
    return { ...f, phaseSince: since, limitMs, stuck: limitMs !== null && now - since.getTime() > limitMs };
  });
}
