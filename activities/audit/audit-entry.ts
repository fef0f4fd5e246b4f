import { createHash } from 'node:crypto';

/** How an audited step ended (or that it began). */
export const AuditOutcome = {
  STARTED: 'started',
  SUCCEEDED: 'succeeded',
  FAILED: 'failed',
  REFUSED: 'refused',
  SKIPPED: 'skipped',
} as const;
export type AuditOutcome = (typeof AuditOutcome)[keyof typeof AuditOutcome];

/** A flat map of references (paths, versions, counts, flags) — never a secret value. */
export type AuditDetail = Record<string, string | number | boolean | null>;

/**
 * One audited event: who or what ({@link actor}) did which {@link step} to which secret version,
 * and how it ended. {@link eventKey} is unique per event and makes appending idempotent, so a
 * retried activity derives it deterministically (e.g. from workflow id + step + attempt-independent data).
 */
export interface AuditEntry {
  eventKey: string;
  actor: string;
  workflowId?: string;
  runId?: string;
  secretId?: string;
  step: string;
  outcome: AuditOutcome;
  fromVersion?: number;
  toVersion?: number;
  detail?: AuditDetail;
}

/**
 * The fields an audit row's hash covers. Optional columns may be `null` (as read back from the
 * database); `outcome` is a plain string because verification hashes whatever is stored.
 */
export interface AuditHashInput {
  eventKey: string;
  /** Hashed as `at.toISOString()`, i.e. UTC with millisecond precision. */
  at: Date;
  actor: string;
  workflowId?: string | null;
  runId?: string | null;
  secretId?: string | null;
  step: string;
  outcome: string;
  fromVersion?: number | null;
  toVersion?: number | null;
  detail?: Readonly<AuditDetail> | null;
}

/** The `prev_hash` of the first row of the chain. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * The detail object as JSON with its keys in sorted (UTF-16 code unit) order. Built by hand because
 * `JSON.stringify` puts integer-like keys first whatever the insertion order. Keys whose value is
 * `undefined` are left out, as they are when the object is stored as jsonb.
 */
function canonicalDetail(detail: Readonly<AuditDetail> | null | undefined): string {
  const keys = Object.keys(detail ?? {})
    .filter((k) => detail?.[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(detail?.[k])}`).join(',')}}`;
}

/**
 * The canonical text that {@link hashEntry} hashes: a JSON array of
 * `[prevHash, eventKey, at, actor, workflowId, runId, secretId, step, outcome, fromVersion, toVersion, detail]`
 * with absent optional fields as `null` and the detail's keys sorted.
 */
export function canonicalAuditRow(prevHash: string, row: AuditHashInput): string {
  const fields: unknown[] = [
    prevHash,
    row.eventKey,
    row.at.toISOString(),
    row.actor,
    row.workflowId ?? null,
    row.runId ?? null,
    row.secretId ?? null,
    row.step,
    row.outcome,
    row.fromVersion ?? null,
    row.toVersion ?? null,
  ];
  return `[${fields.map((f) => JSON.stringify(f)).join(',')},${canonicalDetail(row.detail)}]`;
}

/** The sha256 (lowercase hex) chaining `row` to the row before it, whose hash is `prevHash` ({@link GENESIS_HASH} for the first). */
export function hashEntry(prevHash: string, row: AuditHashInput): string {
  return createHash('sha256').update(canonicalAuditRow(prevHash, row), 'utf8').digest('hex');
}
