import type pg from 'pg';
import type { AuditAnchor } from './audit-anchor.js';
import { GENESIS_HASH, hashEntry, type AuditDetail } from './audit-entry.js';
import { verifyMacs, type AuditVault } from './audit-key.js';

/**
 * What is wrong with the log, first problem first:
 * - `hash_mismatch`: a row's stored columns no longer produce its stored hash (the row was changed).
 * - `broken_link`: a row's `prev_hash` is not the hash of the row before it (a row was deleted,
 *   inserted out of band or reordered, and the chain was not recomputed).
 * - `mac_mismatch`: a row's MAC is not the audit key's MAC of its hash: the row was written or its
 *   chain recomputed by someone without the key (a changed or deleted row upstream of it, a forged row).
 * - `unkeyed_row`: a row without a MAC after the first row with one (rows before it are legacy,
 *   written before rows were keyed).
 * - `anchor_mismatch`: the row Vault's anchor names is gone or differs from the anchored one.
 * - `truncated`: the log ends before the row Vault's anchor names (its tail was cut).
 *
 * Plain seq gaps are not reported: the sequence legitimately skips values on a rolled-back insert,
 * and a deleted row shows up as a broken link or a MAC mismatch.
 */
export const AuditProblem = {
  HASH_MISMATCH: 'hash_mismatch',
  BROKEN_LINK: 'broken_link',
  MAC_MISMATCH: 'mac_mismatch',
  UNKEYED_ROW: 'unkeyed_row',
  ANCHOR_MISMATCH: 'anchor_mismatch',
  TRUNCATED: 'truncated',
  /** The anchor was written and its latest version deleted in Vault: the tail cannot be vouched for. */
  ANCHOR_MISSING: 'anchor_missing',
} as const;
export type AuditProblem = (typeof AuditProblem)[keyof typeof AuditProblem];

/**
 * The result of walking the audit chain. `rows` counts the rows that verified (on failure: the rows
 * before {@link firstBadSeq}); `legacyRows` of them carry no MAC (written before rows were keyed).
 * `anchor` is the anchor that was checked, if Vault had one.
 */
export type AuditVerification =
  | { ok: true; rows: number; legacyRows: number; lastSeq: number; lastHash: string; anchor: AuditAnchor | undefined }
  | { ok: false; rows: number; firstBadSeq: number; problem: AuditProblem; detail: string };

/** Rows read per query by default, so that verifying a long log needs bounded memory (and one Vault call per page). */
export const VERIFY_PAGE_SIZE = 1000;

/** One audit row as read for verification: every column as text where a driver could change what gets hashed. */
export interface StoredAuditRow {
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
  mac: string | null;
}

// Columns are read as text where the driver's (configurable) type parsers could otherwise change
// what gets hashed: seq is bigint, `at` keeps the microseconds that a JS Date would drop. ORDER BY
// and WHERE name the table's column: a bare `seq` in ORDER BY would sort by the text alias.
const PAGE_QUERY = `
  SELECT seq::text AS seq,
         to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS at,
         event_key, actor, workflow_id, run_id, secret_id, step, outcome, from_version, to_version,
         detail::text AS detail, prev_hash, hash, mac
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

function recomputedHash(row: StoredAuditRow): string | undefined {
  const at = hashedAt(row.at);
  return at
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
}

type Failure = Extract<AuditVerification, { ok: false }>;

/**
 * The walk over the chain, fed page by page in seq order: every row's hash and link, the MACs of
 * keyed rows (one batched Vault call per page), that no unkeyed row follows a keyed one, and that
 * the anchored row is present and unchanged. Kept apart from the paging so it can be fed rows directly.
 */
export class AuditChainCheck {
  private rows = 0;
  private legacyRows = 0;
  private prevHash = GENESIS_HASH;
  private lastSeq = 0;
  private keyed = false;
  private anchorChecked = false;

  constructor(
    private readonly verify: (items: readonly { hash: string; mac: string }[]) => Promise<boolean[]>,
    private readonly anchor: AuditAnchor | undefined,
  ) {}

  /** Checks the next page; returns the first problem in it, or undefined when every row verified. */
  async page(page: readonly StoredAuditRow[]): Promise<Failure | undefined> {
    // Structure first, row by row (it needs no key); then the MACs of the rows before the first
    // structural problem, so the problem reported is the earliest whatever its kind.
    let { prevHash, keyed, anchorChecked } = this;
    let structural: { index: number; problem: AuditProblem; detail: string } | undefined;
    const macs: { index: number; hash: string; mac: string }[] = [];
    for (const [index, row] of page.entries()) {
      const problem = this.rowProblem(row, { prevHash, keyed, anchorChecked, first: this.rows + index === 0 });
      if (problem) {
        structural = { index, ...problem };
        break;
      }
      if (this.anchor && Number(row.seq) >= this.anchor.seq) anchorChecked = true;
      if (row.mac !== null) {
        keyed = true;
        macs.push({ index, hash: row.hash, mac: row.mac });
      }
      prevHash = row.hash;
    }
    const valid = await this.verify(macs.map(({ hash, mac }) => ({ hash, mac })));
    const forged = macs.find((_, i) => !valid[i]);
    if (forged) {
      const row = page[forged.index]!;
      return this.failure(
        forged.index,
        Number(row.seq),
        'mac_mismatch',
        `row ${row.seq}'s MAC is not the audit key's MAC of its hash ${row.hash}: the row, or the chain before it, was rewritten without the key`,
      );
    }
    if (structural) return this.failure(structural.index, Number(page[structural.index]!.seq), structural.problem, structural.detail);
    this.rows += page.length;
    this.legacyRows += page.length - macs.length;
    this.prevHash = prevHash;
    this.keyed = keyed;
    this.anchorChecked = anchorChecked;
    if (page.length) this.lastSeq = Number(page.at(-1)!.seq);
    return undefined;
  }

  /** What is wrong with `row` without asking for the key, given the walk's state before it. */
  private rowProblem(
    row: StoredAuditRow,
    state: { prevHash: string; keyed: boolean; anchorChecked: boolean; first: boolean },
  ): { problem: AuditProblem; detail: string } | undefined {
    const seq = Number(row.seq);
    const expected = recomputedHash(row);
    if (expected !== row.hash) {
      const why = expected ? `recomputed ${expected}` : `its time ${row.at} has sub-millisecond precision`;
      return { problem: 'hash_mismatch', detail: `row ${seq} stores hash ${row.hash} but ${why}` };
    }
    if (row.prev_hash !== state.prevHash) {
      const before = state.first ? 'the chain starts at genesis' : `the row before it has hash ${state.prevHash}`;
      return { problem: 'broken_link', detail: `row ${seq} links to ${row.prev_hash} but ${before}` };
    }
    if (row.mac === null && state.keyed)
      return {
        problem: 'unkeyed_row',
        detail: `row ${seq} has no MAC although an earlier row has one: it was written without the audit key`,
      };
    const a = this.anchor;
    if (a && !state.anchorChecked && seq > a.seq)
      return {
        problem: 'anchor_mismatch',
        detail: `row ${a.seq}, anchored in Vault at ${a.at}, is missing (the log goes on at row ${seq})`,
      };
    if (a && !state.anchorChecked && seq === a.seq && (row.hash !== a.hash || row.mac !== a.mac)) {
      const what =
        row.hash !== a.hash ? `hash ${row.hash}, the anchor ${a.hash}` : `MAC ${row.mac ?? 'none'}, the anchor ${a.mac ?? 'none'}`;
      return { problem: 'anchor_mismatch', detail: `row ${seq} differs from Vault's anchor (written ${a.at}): it has ${what}` };
    }
    return undefined;
  }

  /** After the last page: the log must reach the anchored row. */
  finish(): AuditVerification {
    const a = this.anchor;
    if (a && !this.anchorChecked) {
      const end = this.rows ? `the log ends at row ${this.lastSeq}` : 'the log is empty';
      return {
        ok: false,
        rows: this.rows,
        firstBadSeq: a.seq,
        problem: 'truncated',
        detail: `${end}, but Vault's anchor (written ${a.at}) names row ${a.seq}: rows after ${this.lastSeq} were cut`,
      };
    }
    return { ok: true, rows: this.rows, legacyRows: this.legacyRows, lastSeq: this.lastSeq, lastHash: this.prevHash, anchor: a };
  }

  private failure(index: number, seq: number, problem: AuditProblem, detail: string): Failure {
    return { ok: false, rows: this.rows + index, firstBadSeq: seq, problem, detail };
  }
}

export interface VerifyAuditOptions {
  /** Checks MACs through `transit/verify` (an operator's token suffices: verifying cannot forge). */
  vault: AuditVault;
  /** The anchor read from Vault before the walk (audit-anchor.ts); undefined when there is none. */
  anchor: AuditAnchor | undefined;
  pageSize?: number;
}

/**
 * Walks the whole audit log in seq order (see {@link AuditChainCheck}) and reports the first bad
 * row. Accepts a client so that a caller can verify inside its own transaction. Read the anchor
 * before calling: rows appended meanwhile are after it.
 */
export async function verifyAudit(db: pg.Pool | pg.ClientBase, options: VerifyAuditOptions): Promise<AuditVerification> {
  const pageSize = options.pageSize ?? VERIFY_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 1) throw new Error('verifyAudit: pageSize must be a positive integer');
  const check = new AuditChainCheck((items) => verifyMacs(options.vault, items), options.anchor);
  let afterSeq = '0';
  for (;;) {
    const page = await db.query<StoredAuditRow>(PAGE_QUERY, [afterSeq, pageSize]);
    const failure = await check.page(page.rows);
    if (failure) return failure;
    if (page.rows.length < pageSize) return check.finish();
    afterSeq = page.rows.at(-1)!.seq;
  }
}
