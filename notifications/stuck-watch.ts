import type { Client } from '@temporalio/client';
import type pg from 'pg';
import type { Inventory } from '../config/inventory-schema.js';
import { listRunningRotations, type RunningRotation } from '../observe/running-rotations.js';
import type { StuckEvent } from './notification-event.js';
import { NotificationKind } from './notification-kind.js';
import { insertDeliveries, type Enqueue } from './outbox-store.js';
import { targetsOf } from './routing.js';

/** With the scope's hash, held (session-level, non-blocking) by the one worker of a deployment checking for stuck rotations; 7201/7202 are migrations and audit appends. */
export const STUCK_WATCH_LOCK = 7203;

/**
 * A stuck rotation's event. Its id names the run and the phase, so it is queued once per phase a
 * run gets stuck in, however many workers see it and however often.
 */
export function stuckEvent(r: RunningRotation): StuckEvent {
  return {
    id: `stuck/${r.workflowId}/${r.runId}/${r.phase}`,
    kind: NotificationKind.STUCK,
    secretId: r.secretId,
    workflowId: r.workflowId,
    runId: r.runId,
    // The moment it became stuck, so the event is the same whenever it is seen.
    at: new Date(r.phaseSince.getTime() + (r.limitMs ?? 0)).toISOString(),
    versions: {},
    phase: r.phase,
    phaseSince: r.phaseSince.toISOString(),
    limitMs: r.limitMs,
  };
}

export interface StuckWatchDeps {
  client: Client;
  db: pg.Pool;
  inventory: Inventory;
  /** The deployment: its task queue (outbox scope and the rotations looked at). */
  scope: string;
  now?: Date;
}

export type StuckCheck = { kind: 'checked'; stuck: number; queued: number } | { kind: 'skipped'; why: 'another worker is checking' };

/**
 * Lists the running rotations of this deployment and queues a notification for each stuck one.
 * One worker at a time (advisory lock), as the listing costs a visibility query; the outbox's
 * unique key would make a second one harmless anyway.
 */
export async function checkStuckRotations(deps: StuckWatchDeps): Promise<StuckCheck> {
  const session = await deps.db.connect();
  let broken: Error | undefined;
  try {
    const locked = await session.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::int, hashtext($2)) AS ok', [
      STUCK_WATCH_LOCK,
      deps.scope,
    ]);
    if (!locked.rows[0]!.ok) return { kind: 'skipped', why: 'another worker is checking' };
    try {
      const running = await listRunningRotations({
        client: deps.client,
        db: deps.db,
        inventory: deps.inventory,
        taskQueue: deps.scope,
        ...(deps.now ? { now: deps.now } : {}),
      });
      const queue: Enqueue[] = running
        .filter((r) => r.stuck)
        .map(stuckEvent)
        .flatMap((event) => targetsOf(event, deps.inventory).map((target) => ({ event, target })));
      const queued = await insertDeliveries(deps.db, deps.scope, queue);
      return { kind: 'checked', stuck: running.filter((r) => r.stuck).length, queued };
    } finally {
      await session.query('SELECT pg_advisory_unlock($1::int, hashtext($2))', [STUCK_WATCH_LOCK, deps.scope]).catch((e: unknown) => {
        // A session that kept the lock must not go back to the pool holding it.
        broken = e instanceof Error ? e : new Error('advisory unlock failed');
      });
    }
  } finally {
    session.release(broken);
  }
}
