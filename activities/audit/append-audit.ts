import type pg from 'pg';
import { AuditOutcome, GENESIS_HASH, hashEntry, type AuditEntry } from './audit-entry.js';

/** Serialises appends so that seq order, commit order and chain order are the same. */
export const AUDIT_ADVISORY_LOCK = 7202;

/** A detail key that might carry a secret value; audit rows hold references (paths, versions) only. */
export const SECRET_LIKE_DETAIL_KEY = /password|secret|token|credential|key$/i;

const OUTCOMES: ReadonlySet<string> = new Set(Object.values(AuditOutcome));

/**
 * Throws a plain Error naming the offending field (never its value) when `entry` cannot be audited
 * as is: a detail key that looks like it might hold a secret, a detail value that is not a flat
 * string/finite number/boolean/null, or an unknown outcome.
 */
export function assertAuditable(entry: AuditEntry): void {
  if (!OUTCOMES.has(entry.outcome)) throw new Error(`audit entry ${entry.eventKey}: unknown outcome`);
  for (const field of ['fromVersion', 'toVersion'] as const) {
    const v = entry[field];
    if (v !== undefined && !Number.isInteger(v)) throw new Error(`audit entry ${entry.eventKey}: ${field} must be an integer`);
  }
  for (const [key, value] of Object.entries(entry.detail ?? {})) {
    if (SECRET_LIKE_DETAIL_KEY.test(key)) {
      throw new Error(`audit detail field "${key}" refused: it might hold a secret value; audit rows carry references only`);
    }
    const ok =
      value === null || typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
    if (!ok) throw new Error(`audit detail field "${key}" refused: only strings, finite numbers, booleans and null are allowed`);
  }
}

/**
 * Appends `entry` to the hash-chained audit log in one transaction and returns its seq and hash,
 * or `undefined` when an entry with the same `eventKey` already exists (a retried activity).
 * Refuses (throws, inserting nothing) an entry that fails {@link assertAuditable}.
 */
export async function appendAudit(db: pg.Pool, entry: AuditEntry): Promise<{ seq: number; hash: string } | undefined> {
  assertAuditable(entry);
  const client = await db.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_ADVISORY_LOCK]);
    const last = await client.query<{ hash: string }>('SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1');
    const prevHash = last.rows[0]?.hash ?? GENESIS_HASH;
    // A JS Date has millisecond precision: the ISO string stored is exactly the one hashed, and
    // timestamptz (microseconds) keeps it unchanged.
    const at = new Date();
    const hash = hashEntry(prevHash, { ...entry, at });
    const inserted = await client.query<{ seq: string }>(
      `INSERT INTO audit_log
         (event_key, at, actor, workflow_id, run_id, secret_id, step, outcome, from_version, to_version, detail, prev_hash, hash)
       VALUES ($1, $2::timestamptz, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12, $13)
       ON CONFLICT (event_key) DO NOTHING
       RETURNING seq::text AS seq`,
      [
        entry.eventKey,
        at.toISOString(),
        entry.actor,
        entry.workflowId ?? null,
        entry.runId ?? null,
        entry.secretId ?? null,
        entry.step,
        entry.outcome,
        entry.fromVersion ?? null,
        entry.toVersion ?? null,
        JSON.stringify(entry.detail ?? {}),
        prevHash,
        hash,
      ],
    );
    await client.query('COMMIT');
    const row = inserted.rows[0];
    return row ? { seq: Number(row.seq), hash } : undefined;
  } catch (err) {
    await client.query('ROLLBACK').catch((rollbackErr: unknown) => {
      broken = rollbackErr instanceof Error ? rollbackErr : new Error('ROLLBACK failed');
    });
    throw err;
  } finally {
    // A connection whose rollback failed is destroyed rather than returned to the pool mid-transaction.
    client.release(broken);
  }
}
