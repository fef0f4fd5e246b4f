import type pg from 'pg';
import { GENESIS_HASH, hashEntry, type AuditDetail } from './audit-entry.js';

/**
 * The result of walking the audit chain. `rows` counts the rows that verified (on failure: the rows
 * before {@link firstBadSeq}).
 *
 * - `hash_mismatch`: a row's stored columns no longer produce its stored hash (the row was changed).
 * - `broken_link`: a row's `prev_hash` is not the hash of the row before it (a row was deleted,
 *   inserted out of band or reordered, or a changed row's hash was recomputed).
 *
 * Plain seq gaps are not reported: bigserial legitimately skips values on a rolled-back insert,
 * and a deleted row shows up as a broken link.
 */
export type AuditVerification =
  | { ok: true; rows: number; lastHash: string }
  | { ok: false; rows: number; firstBadSeq: number; problem: 'hash_mismatch' | 'broken_link'; detail: string };

/** Rows read per query by default, so that verifying a long log needs bounded memory. */
export const VERIFY_PAGE_SIZE = 1000;

interface StoredRow {
  seq: string;
  /** UTC, microsecond precision, without zone: `YYYY-MM-DDTHH:MI:SS.ffffff`. */
  at: string;
  event_key: string;
  actor: string;
  workflow_id: string | null;
  run_id: string | null;
  secret_id: string | null;
  step: string;
  outcome: string;
  from_version: number | null;
  to_version: number | null;
  detail: string;
  prev_hash: string;
  hash: string;
}

// Columns are read as text where the driver's (configurable) type parsers could otherwise change
// what gets hashed: seq is bigint, `at` keeps the microseconds that a JS Date would drop. ORDER BY
// and WHERE name the table's column: a bare `seq` in ORDER BY would sort by the text alias.
const PAGE_QUERY = `
  SELECT seq::text AS seq,
         to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS at,
         event_key, actor, workflow_id, run_id, secret_id, step, outcome, from_version, to_version,
         detail::text AS detail, prev_hash, hash
    FROM audit_log
   WHERE audit_log.seq > $1::bigint
   ORDER BY audit_log.seq
   LIMIT $2`;

/** The Date that was hashed for a stored `at`, or undefined when no appended row can have it (sub-millisecond part). */
function hashedAt(stored: string): Date | undefined {
  const match = /^(.*\.\d{3})(\d{3})$/.exec(stored);
  if (!match || match[2] !== '000') return undefined;
  const at = new Date(`${match[1]}Z`);
  return Number.isNaN(at.getTime()) ? undefined : at;
}

/**
 * Walks the whole audit log in seq order, recomputing each row's hash from its stored columns and
 * checking that each row links to the one before it (the first to {@link GENESIS_HASH}). Reports
 * the first bad row. Accepts a client so that a caller can verify inside its own transaction.
 */
export async function verifyAudit(db: pg.Pool | pg.ClientBase, options: { pageSize?: number } = {}): Promise<AuditVerification> {
  const pageSize = options.pageSize ?? VERIFY_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 1) throw new Error('verifyAudit: pageSize must be a positive integer');
  let rows = 0;
  let prevHash = GENESIS_HASH;
  let afterSeq = '0';
  for (;;) {
    const page = await db.query<StoredRow>(PAGE_QUERY, [afterSeq, pageSize]);
    for (const row of page.rows) {
      const seq = Number(row.seq);
      const at = hashedAt(row.at);
      const expected = at
        ? hashEntry(row.prev_hash, {
            eventKey: row.event_key,
            at,
            actor: row.actor,
            workflowId: row.workflow_id,
            runId: row.run_id,
            secretId: row.secret_id,
            step: row.step,
            outcome: row.outcome,
            fromVersion: row.from_version,
            toVersion: row.to_version,
            detail: JSON.parse(row.detail) as AuditDetail,
          })
        : undefined;
      if (expected !== row.hash) {
        const why = at ? `recomputed ${expected}` : `its time ${row.at} has sub-millisecond precision`;
        return { ok: false, rows, firstBadSeq: seq, problem: 'hash_mismatch', detail: `row ${seq} stores hash ${row.hash} but ${why}` };
      }
      if (row.prev_hash !== prevHash) {
        const before = rows === 0 ? 'the chain starts at genesis' : `the row before it has hash ${prevHash}`;
        return { ok: false, rows, firstBadSeq: seq, problem: 'broken_link', detail: `row ${seq} links to ${row.prev_hash} but ${before}` };
      }
      prevHash = row.hash;
      afterSeq = row.seq;
      rows += 1;
    }
    if (page.rows.length < pageSize) return { ok: true, rows, lastHash: prevHash };
  }
}
