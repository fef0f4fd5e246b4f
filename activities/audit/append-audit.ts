import type pg from 'pg';
import { AuditOutcome, GENESIS_HASH, hashEntry, type AuditEntry } from './audit-entry.js';
import { macHashes, type AuditVault } from './audit-key.js';

/** Serialises appends across workers so that seq order, commit order and chain order are the same. */
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

/** A committed row: its seq (assigned by the database) and chain hash. */
export interface AppendedRow {
  seq: number;
  hash: string;
}

interface Pending {
  entry: AuditEntry;
  at: Date;
  resolve: (result: AppendedRow | undefined) => void;
  reject: (err: unknown) => void;
}

/** The most rows one transaction appends; the rest wait for the next one. */
const MAX_BATCH = 256;

/**
 * Group commit, one writer per pool: entries that arrive while a transaction is in flight are
 * appended together by the next one. Under load (an incident rotating hundreds of secrets) this
 * turns five round trips, one Vault MAC call and one global-lock hold per row into the same per
 * batch; alone, an entry is written at once, as before.
 */
class AuditWriter {
  private queue: Pending[] = [];
  private writing = false;

  constructor(
    private readonly db: pg.Pool,
    private readonly vault: AuditVault,
  ) {}

  append(entry: AuditEntry): Promise<AppendedRow | undefined> {
    return new Promise((resolve, reject) => {
      this.queue.push({ entry, at: new Date(), resolve, reject });
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.queue.length) {
        const batch = this.queue.splice(0, MAX_BATCH);
        try {
          const results = await appendBatch(this.db, this.vault, batch);
          batch.forEach((p, i) => p.resolve(results[i]));
          notifyObservers(this.db, batch, results);
        } catch (err) {
          batch.forEach((p) => p.reject(err));
        }
      }
    } finally {
      this.writing = false;
    }
  }
}

const writers = new WeakMap<pg.Pool, AuditWriter>();

/** A row this process committed, as observers see it: the entry (references only), when, and its seq. */
export type ObservedAuditRow = AuditEntry & { at: Date; seq: number };
export type AuditObserver = (row: ObservedAuditRow) => void;

const observers = new WeakMap<pg.Pool, Set<AuditObserver>>();

/**
 * Calls `observer` with every row appended through `db` in this process, once committed (a retried
 * entry that was already there is not seen again). For services beside the activities (metrics,
 * notifications); an observer must be quick and cannot fail an append. Returns the unsubscribe.
 */
export function observeAuditLog(db: pg.Pool, observer: AuditObserver): () => void {
  const set = observers.get(db) ?? new Set<AuditObserver>();
  observers.set(db, set);
  set.add(observer);
  return () => void set.delete(observer);
}

function notifyObservers(db: pg.Pool, batch: readonly Pending[], results: readonly (AppendedRow | undefined)[]): void {
  const set = observers.get(db);
  if (!set?.size) return;
  batch.forEach((p, i) => {
    const committed = results[i];
    if (!committed) return;
    for (const observer of set) {
      try {
        observer({ ...p.entry, at: p.at, seq: committed.seq });
      } catch {
        // An observer's bug must not turn a committed append into a failed activity.
      }
    }
  });
}

/**
 * Makes `db` an audit log writer whose rows are MACed through `vault` (the worker's session): one
 * group-commit writer per pool. Called where the pool and the Vault session meet (the activity
 * context); calling it again for the same pool changes nothing.
 */
export function keyAuditLog(db: pg.Pool, vault: AuditVault): void {
  if (!writers.has(db)) writers.set(db, new AuditWriter(db, vault));
}

/**
 * Appends `entry` to the hash-chained, MAC-keyed audit log and returns its seq and hash once
 * committed, or `undefined` when an entry with the same `eventKey` already exists (a retried
 * activity). Refuses (throws, inserting nothing) an entry that fails {@link assertAuditable}, and
 * appends nothing when Vault cannot MAC it (an unkeyed row would read as tampering).
 */
export async function appendAudit(db: pg.Pool, entry: AuditEntry): Promise<AppendedRow | undefined> {
  assertAuditable(entry);
  const writer = writers.get(db);
  if (!writer) throw new Error('this database pool has no audit key: call keyAuditLog(pool, vault) where the pool is created');
  return writer.append(entry);
}

/**
 * One transaction under the global advisory lock, so seq order, commit order and chain order are
 * the same across every worker: read the chain's head and which keys exist, hash the new rows in
 * order, MAC the hashes with one Vault call, insert them. The database assigns seq (migration 004)
 * in insert order, which is chain order.
 *
 * The MAC call is made under the lock because a row's MAC covers its link to the row before
 * (audit-key.ts), which only the lock holder knows; group commit keeps it one call per batch.
 */
async function appendBatch(db: pg.Pool, vault: AuditVault, batch: Pending[]): Promise<(AppendedRow | undefined)[]> {
  const client = await db.connect();
  let broken: Error | undefined;
  try {
    await client.query(`BEGIN; SELECT pg_advisory_xact_lock(${AUDIT_ADVISORY_LOCK})`);
    const head = await client.query<{ last: string | null; existing: string[] }>(
      `SELECT (SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1) AS last,
              ARRAY(SELECT event_key FROM audit_log WHERE event_key = ANY($1::text[])) AS existing`,
      [batch.map((p) => p.entry.eventKey)],
    );
    const { last, existing } = head.rows[0]!;
    const taken = new Set(existing);
    let prevHash = last ?? GENESIS_HASH;
    const rows: { p: Pending; prevHash: string; hash: string }[] = [];
    const indexOf = new Map<string, number>();
    batch.forEach((p, i) => {
      if (taken.has(p.entry.eventKey)) return;
      taken.add(p.entry.eventKey);
      indexOf.set(p.entry.eventKey, i);
      // A JS Date has millisecond precision: the ISO string stored is exactly the one hashed, and
      // timestamptz (microseconds) keeps it unchanged.
      const hash = hashEntry(prevHash, { ...p.entry, at: p.at });
      rows.push({ p, prevHash, hash });
      prevHash = hash;
    });
    const results: (AppendedRow | undefined)[] = batch.map(() => undefined);
    if (rows.length) {
      const macs = await macHashes(
        vault,
        rows.map((r) => r.hash),
      );
      const column = <T>(pick: (e: AuditEntry, row: (typeof rows)[number], i: number) => T) => rows.map((r, i) => pick(r.p.entry, r, i));
      // ORDER BY n: the trigger draws seqs in insert order, which must be chain order.
      const inserted = await client.query<{ seq: string; event_key: string; hash: string }>(
        `INSERT INTO audit_log
           (event_key, at, actor, workflow_id, run_id, secret_id, step, outcome, from_version, to_version, detail, prev_hash, hash, mac)
         SELECT event_key, at, actor, workflow_id, run_id, secret_id, step, outcome, from_version, to_version, detail, prev_hash, hash, mac
           FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                       $9::int[], $10::int[], $11::jsonb[], $12::text[], $13::text[], $14::text[])
                WITH ORDINALITY AS r(event_key, at, actor, workflow_id, run_id, secret_id, step, outcome, from_version, to_version,
                                     detail, prev_hash, hash, mac, n)
          ORDER BY n
         RETURNING seq::text AS seq, event_key, hash`,
        [
          column((e) => e.eventKey),
          column((_, r) => r.p.at.toISOString()),
          column((e) => e.actor),
          column((e) => e.workflowId ?? null),
          column((e) => e.runId ?? null),
          column((e) => e.secretId ?? null),
          column((e) => e.step),
          column((e) => e.outcome),
          column((e) => e.fromVersion ?? null),
          column((e) => e.toVersion ?? null),
          column((e) => JSON.stringify(e.detail ?? {})),
          column((_, r) => r.prevHash),
          column((_, r) => r.hash),
          column((_, _r, i) => macs[i]!),
        ],
      );
      for (const row of inserted.rows) results[indexOf.get(row.event_key)!] = { seq: Number(row.seq), hash: row.hash };
    }
    await client.query('COMMIT');
    return results;
  } catch (err) {
    await client.query('ROLLBACK').catch((rollbackErr: unknown) => {
      broken = rollbackErr instanceof Error ? rollbackErr : new Error('ROLLBACK failed');
    });
    throw lockWaitOnAudit(err) ?? err;
  } finally {
    // A connection whose rollback failed is destroyed rather than returned to the pool mid-transaction.
    client.release(broken);
  }
}

/** A lock or statement timeout (workers/create-worker.ts sets both) named for what it waited on. */
function lockWaitOnAudit(err: unknown): Error | undefined {
  const code = (err as { code?: string }).code;
  if (code === '55P03')
    return new Error(
      `the audit log's append lock (advisory lock ${AUDIT_ADVISORY_LOCK}) or table is held by another session (lock_timeout); retried`,
    );
  if (code === '57014') return new Error('an audit append was cancelled (statement_timeout, or an operator); retried');
  return undefined;
}
