import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { AuditRow } from './audit-events.js';
import type { NotificationEvent } from './notification-event.js';

/**
 * The delivery id of one event to one target in one deployment: stable, so a re-queued delivery
 * keeps it, and receivers deduplicate retries by it (Idempotency-Key).
 */
export function deliveryId(scope: string, eventId: string, target: string): string {
  return createHash('sha256')
    .update(JSON.stringify([scope, eventId, target]), 'utf8')
    .digest('hex')
    .slice(0, 32);
}

export interface Enqueue {
  event: NotificationEvent;
  target: string;
}

/** How long a claimed delivery is another worker's: longer than an attempt (deliver.ts ATTEMPT_TIMEOUT_MS). */
export const CLAIM_LEASE_MS = 60_000;

/** An audit row (or one of its deliveries) the tail could not queue: logged at error level and passed over. */
export interface SkippedEvent {
  seq?: number;
  eventId?: string;
  target?: string;
  error: string;
}

/**
 * One tail step, in one transaction: lock this scope's cursor (another worker holding it is tailing:
 * skip), read the audit rows after it, queue what `route` makes of them, move the cursor. Returns
 * how many rows were read and deliveries queued, or undefined when another worker holds the cursor.
 * The first tail of a scope starts at the log's head: enabling notifications does not replay history.
 */
export async function tailAuditLog(
  db: pg.Pool,
  scope: string,
  route: (row: AuditRow) => Enqueue[],
  batch = 500,
): Promise<{ rows: number; queued: number; skipped: SkippedEvent[] } | undefined> {
  const client = await db.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    await client.query(
      `INSERT INTO notification_cursor (scope, last_seq) SELECT $1, coalesce(max(seq), 0) FROM audit_log ON CONFLICT (scope) DO NOTHING`,
      [scope],
    );
    const cursor = await client.query<{ last_seq: string }>(
      'SELECT last_seq::text FROM notification_cursor WHERE scope = $1 FOR UPDATE SKIP LOCKED',
      [scope],
    );
    if (!cursor.rowCount) {
      await client.query('ROLLBACK');
      return undefined;
    }
    const after = cursor.rows[0]!.last_seq;
    // Aliased to the AuditRow fields, so the rows need no mapping but seq (bigint, read as text).
    const rows = await client.query<Omit<AuditRow, 'seq'> & { seq: string }>(
      `SELECT seq::text, event_key AS "eventKey", at, actor, workflow_id AS "workflowId", run_id AS "runId",
              secret_id AS "secretId", step, outcome, from_version AS "fromVersion", to_version AS "toVersion", detail
         FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2`,
      [after, batch],
    );
    const queue: Enqueue[] = [];
    const skipped: SkippedEvent[] = [];
    for (const r of rows.rows) {
      try {
        queue.push(...route({ ...r, seq: Number(r.seq) }));
      } catch (err) {
        // A row that cannot be routed would otherwise stop this scope's tail for good.
        skipped.push({ seq: Number(r.seq), error: (err as Error).message });
      }
    }
    const queued = await insertOrSkip(client, scope, queue, skipped);
    if (rows.rowCount)
      await client.query('UPDATE notification_cursor SET last_seq = $2, updated_at = now() WHERE scope = $1', [
        scope,
        rows.rows.at(-1)!.seq,
      ]);
    await client.query('COMMIT');
    return { rows: rows.rowCount ?? 0, queued, skipped };
  } catch (err) {
    await client.query('ROLLBACK').catch((e: unknown) => {
      broken = e instanceof Error ? e : new Error('ROLLBACK failed');
    });
    throw err;
  } finally {
    client.release(broken);
  }
}

/**
 * Queues the batch in one statement; if the database refuses it, one delivery at a time, passing
 * over (into `skipped`) each one it refuses, so one bad event cannot hold back every later one.
 * A lost connection fails the savepoint rollback too, and with it the whole tail step (retried).
 */
async function insertOrSkip(client: pg.ClientBase, scope: string, queue: readonly Enqueue[], skipped: SkippedEvent[]): Promise<number> {
  await client.query('SAVEPOINT deliveries');
  try {
    return await insertDeliveries(client, scope, queue);
  } catch {
    await client.query('ROLLBACK TO SAVEPOINT deliveries');
  }
  let queued = 0;
  for (const q of queue) {
    await client.query('SAVEPOINT delivery');
    try {
      queued += await insertDeliveries(client, scope, [q]);
      await client.query('RELEASE SAVEPOINT delivery');
    } catch (err) {
      await client.query('ROLLBACK TO SAVEPOINT delivery');
      skipped.push({ eventId: q.event.id, target: q.target, error: (err as Error).message.slice(0, 300) });
    }
  }
  return queued;
}

/** Queues deliveries; one that exists already (same scope, event and target) is left as it is. Returns how many are new. */
export async function insertDeliveries(db: pg.Pool | pg.ClientBase, scope: string, queue: readonly Enqueue[]): Promise<number> {
  if (!queue.length) return 0;
  const result = await db.query(
    `INSERT INTO notification_outbox (id, scope, event_id, kind, target, secret_id, event)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[])
     ON CONFLICT DO NOTHING`,
    [
      queue.map((q) => deliveryId(scope, q.event.id, q.target)),
      queue.map(() => scope),
      queue.map((q) => q.event.id),
      queue.map((q) => q.event.kind),
      queue.map((q) => q.target),
      queue.map((q) => q.event.secretId),
      queue.map((q) => JSON.stringify(q.event)),
    ],
  );
  return result.rowCount ?? 0;
}

export interface ClaimedDelivery {
  id: string;
  target: string;
  event: NotificationEvent;
  /** This attempt's number (1 = first). */
  attempt: number;
  ageMs: number;
}

/**
 * Claims up to `limit` due deliveries of `scope` (SKIP LOCKED: workers never claim the same one)
 * and leases them for CLAIM_LEASE_MS, committing at once: the HTTP request is made outside any
 * transaction. A worker that dies mid-attempt leaves the lease to run out; the delivery is then
 * due again, with the same id.
 */
export async function claimDue(db: pg.Pool, scope: string, limit: number): Promise<ClaimedDelivery[]> {
  const claimed = await db.query<{ id: string; target: string; event: NotificationEvent; attempts: number; age_ms: string }>(
    `UPDATE notification_outbox o
        SET attempts = o.attempts + 1, next_attempt_at = now() + $3 * interval '1 millisecond'
      WHERE o.id IN (SELECT id FROM notification_outbox
                      WHERE scope = $1 AND state = 'pending' AND next_attempt_at <= now()
                      ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED)
      RETURNING o.id, o.target, o.event, o.attempts, (extract(epoch FROM now() - o.created_at) * 1000)::bigint::text AS age_ms`,
    [scope, limit, CLAIM_LEASE_MS],
  );
  return claimed.rows.map((r) => ({ id: r.id, target: r.target, event: r.event, attempt: r.attempts, ageMs: Number(r.age_ms) }));
}

/*
 * Each records how one attempt ended, and only while that attempt's claim is the latest: an attempt
 * that outlived its lease (another worker claimed the delivery since) must not undo what the later
 * one recorded, e.g. mark dead a delivery that was delivered.
 */

export async function markDelivered(db: pg.Pool, d: Pick<ClaimedDelivery, 'id' | 'attempt'>): Promise<void> {
  await db.query(
    `UPDATE notification_outbox SET state = 'delivered', delivered_at = now(), last_error = NULL WHERE id = $1 AND attempts = $2 AND state = 'pending'`,
    [d.id, d.attempt],
  );
}

export async function markRetry(db: pg.Pool, d: Pick<ClaimedDelivery, 'id' | 'attempt'>, delayMs: number, error: string): Promise<void> {
  await db.query(
    `UPDATE notification_outbox SET next_attempt_at = now() + $3 * interval '1 millisecond', last_error = $4
      WHERE id = $1 AND attempts = $2 AND state = 'pending'`,
    [d.id, d.attempt, delayMs, error],
  );
}

export async function markDead(db: pg.Pool, d: Pick<ClaimedDelivery, 'id' | 'attempt'>, error: string): Promise<void> {
  await db.query(`UPDATE notification_outbox SET state = 'dead', last_error = $3 WHERE id = $1 AND attempts = $2 AND state = 'pending'`, [
    d.id,
    d.attempt,
    error,
  ]);
}

/** Deliveries given up (state dead) in `scope`, newest first: what an operator must look at. */
export async function deadDeliveries(
  db: pg.Pool | pg.ClientBase,
  scope: string,
  limit = 50,
  since = new Date(0),
): Promise<
  { id: string; kind: string; target: string; secretId: string | null; attempts: number; lastError: string | null; createdAt: Date }[]
> {
  const r = await db.query<{
    id: string;
    kind: string;
    target: string;
    secret_id: string | null;
    attempts: number;
    last_error: string | null;
    created_at: Date;
  }>(
    `SELECT id, kind, target, secret_id, attempts, last_error, created_at FROM notification_outbox
      WHERE scope = $1 AND state = 'dead' AND created_at >= $3 ORDER BY created_at DESC LIMIT $2`,
    [scope, limit, since],
  );
  return r.rows.map((x) => ({
    id: x.id,
    kind: x.kind,
    target: x.target,
    secretId: x.secret_id,
    attempts: x.attempts,
    lastError: x.last_error,
    createdAt: x.created_at,
  }));
}
