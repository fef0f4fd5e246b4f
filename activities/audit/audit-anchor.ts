import type pg from 'pg';
import { AUDIT_ANCHOR_PATH } from '../../vault/policies/operator-policy.js';
import { VaultRequestError } from '../../vault/vault-error.js';
import { withVault, type AuditVault } from './audit-key.js';

/**
 * The audit chain's head as last seen by a worker, kept in Vault KV (`<mount>/data/_rotor/audit/anchor`),
 * outside the database whose owner could cut the log's tail. Because each row's hash covers the
 * row before it, the anchored hash pins every row up to the anchored seq; rows after it are pinned
 * by their MACs. Workers only ever advance it (check-and-set), and only from a head that still
 * contains the anchored row, so a cut tail stays reported instead of being anchored over.
 */
export interface AuditAnchor {
  seq: number;
  hash: string;
  /** The anchored row's MAC; null when the head was a legacy (pre-MAC) row. */
  mac: string | null;
  /** When the worker wrote it (ISO 8601). */
  at: string;
  /** Where the anchored log lives, `host:port/dbname` as the worker reaches it (no user, no password). */
  database?: string;
}

/** The anchor in Vault is not one a worker wrote: someone with write access to the path changed it. */
export class MalformedAnchorError extends Error {
  constructor(field: string) {
    super(`the audit anchor in Vault (${AUDIT_ANCHOR_PATH}) has no valid "${field}": it was not written by a rotor worker`);
    this.name = 'MalformedAnchorError';
  }
}

const HASH = /^[0-9a-f]{64}$/;

export function parseAnchor(data: Record<string, unknown>): AuditAnchor {
  const { seq, hash, mac, at, database } = data;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) throw new MalformedAnchorError('seq');
  if (typeof hash !== 'string' || !HASH.test(hash)) throw new MalformedAnchorError('hash');
  if (mac !== null && typeof mac !== 'string') throw new MalformedAnchorError('mac');
  if (typeof at !== 'string') throw new MalformedAnchorError('at');
  if (database !== undefined && typeof database !== 'string') throw new MalformedAnchorError('database');
  return { seq, hash, mac, at, ...(database === undefined ? {} : { database }) };
}

/** The current anchor and its KV version (0: none written yet), or a MalformedAnchorError. */
export async function readAuditAnchor(vault: AuditVault, kvMount: string): Promise<{ anchor: AuditAnchor | undefined; version: number }> {
  return withVault(vault, async (v) => {
    const current = await v.kvRead<Record<string, unknown>>(kvMount, AUDIT_ANCHOR_PATH);
    if (current) return { anchor: parseAnchor(current.data), version: current.metadata.version };
    // A deleted latest version reads as absent; check-and-set still needs the version number.
    const meta = await v.kvMetadata(kvMount, AUDIT_ANCHOR_PATH);
    return { anchor: undefined, version: meta?.current_version ?? 0 };
  });
}

export type AnchorAdvance =
  | { outcome: 'written'; anchor: AuditAnchor }
  /** The log is empty, or its head is already anchored. */
  | { outcome: 'unchanged' }
  /** Another worker advanced it first: fine, it anchored a head at least as recent. */
  | { outcome: 'lost_race' }
  /** The anchored row is gone or changed: the anchor is kept so that `rotor audit verify` reports it. */
  | { outcome: 'refused'; reason: string };

/**
 * Writes the log's head to the anchor when it is beyond the anchored seq. Reads the anchor before
 * the head, so the head it compares is at least as recent as anything anchored by then.
 */
export async function advanceAuditAnchor(
  db: pg.Pool | pg.ClientBase,
  vault: AuditVault,
  kvMount: string,
  database?: string,
): Promise<AnchorAdvance> {
  let current: Awaited<ReturnType<typeof readAuditAnchor>>;
  try {
    current = await readAuditAnchor(vault, kvMount);
  } catch (err) {
    if (err instanceof MalformedAnchorError) return { outcome: 'refused', reason: err.message };
    throw err;
  }
  const head = await db.query<{ seq: string; hash: string; mac: string | null }>(
    // audit_log.seq, not the text alias: "99" sorts after "131".
    'SELECT seq::text AS seq, hash, mac FROM audit_log ORDER BY audit_log.seq DESC LIMIT 1',
  );
  const row = head.rows[0];
  // Written once and deleted since: re-anchoring over it would bless whatever the log is now.
  if (!current.anchor && current.version > 0)
    return {
      outcome: 'refused',
      reason: 'the anchor in Vault was deleted; run `rotor audit verify`, then restore or re-create it by hand',
    };
  if (!row)
    return current.anchor ? { outcome: 'refused', reason: 'the audit log is empty but an anchor exists' } : { outcome: 'unchanged' };
  const seq = Number(row.seq);
  const { anchor } = current;
  if (anchor) {
    if (seq <= anchor.seq) return { outcome: 'unchanged' };
    const anchored = await db.query<{ hash: string; mac: string | null }>('SELECT hash, mac FROM audit_log WHERE seq = $1', [anchor.seq]);
    const kept = anchored.rows[0];
    if (!kept || kept.hash !== anchor.hash || (anchor.mac !== null && kept.mac !== anchor.mac))
      return {
        outcome: 'refused',
        reason: `anchored row ${anchor.seq} is ${kept ? 'changed' : 'missing'} in the database; run \`rotor audit verify\``,
      };
  }
  const next: AuditAnchor = { seq, hash: row.hash, mac: row.mac, at: new Date().toISOString(), ...(database ? { database } : {}) };
  try {
    await withVault(vault, (v) => v.kvWrite(kvMount, AUDIT_ANCHOR_PATH, { ...next }, current.version));
  } catch (err) {
    if (err instanceof VaultRequestError && err.isCasMismatch) return { outcome: 'lost_race' };
    throw err;
  }
  return { outcome: 'written', anchor: next };
}
