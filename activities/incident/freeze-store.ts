import type pg from 'pg';

/**
 * The incident freeze, stored in rotor's database (`incident_freeze`, migrations 002 and 003): the
 * only module that reads or writes that table. An incident response starts a freeze; while it is
 * active, ordinary rotations and new break-glass grants of the secrets it holds are refused (a
 * freeze without secret ids holds every secret). Lifting it is a separate act by someone else.
 */

/** A pool or a connected client: whatever runs one query. */
type Queryable = Pick<pg.Pool, 'query'>;

export interface IncidentFreeze {
  incidentId: string;
  reason: string;
  startedBy: string;
  startedAt: Date;
  /** The secrets it holds; null: every secret. */
  secretIds: string[] | null;
}

interface FreezeRow {
  incident_id: string;
  reason: string;
  started_by: string;
  started_at: Date;
  secret_ids: string[] | null;
}

const COLUMNS = 'incident_id, reason, started_by, started_at, secret_ids';

const fromRow = (r: FreezeRow): IncidentFreeze => ({
  incidentId: r.incident_id,
  reason: r.reason,
  startedBy: r.started_by,
  startedAt: r.started_at,
  secretIds: r.secret_ids,
});

/** Does this freeze hold the secret? */
export function freezeHolds(freeze: Pick<IncidentFreeze, 'secretIds'>, secretId: string): boolean {
  return freeze.secretIds === null || freeze.secretIds.includes(secretId);
}

/** Every active (not lifted) freeze, oldest first. */
export async function activeFreezes(db: Queryable): Promise<IncidentFreeze[]> {
  const rows = await db.query<FreezeRow>(`SELECT ${COLUMNS} FROM incident_freeze WHERE lifted_at IS NULL ORDER BY started_at`);
  return rows.rows.map(fromRow);
}

/** The oldest active freeze that holds this secret, or null. */
export async function activeFreezeOf(db: Queryable, secretId: string): Promise<IncidentFreeze | null> {
  const rows = await db.query<FreezeRow>(
    `SELECT ${COLUMNS} FROM incident_freeze WHERE lifted_at IS NULL AND (secret_ids IS NULL OR $1 = ANY(secret_ids)) ORDER BY started_at LIMIT 1`,
    [secretId],
  );
  const row = rows.rows[0];
  return row ? fromRow(row) : null;
}

/** Starts the incident's freeze; starting it again (a retried step) changes nothing. */
export async function startFreeze(
  db: Queryable,
  freeze: { incidentId: string; reason: string; startedBy: string; secretIds: string[] | null },
): Promise<void> {
  await db.query(
    'INSERT INTO incident_freeze (incident_id, reason, started_by, secret_ids) VALUES ($1, $2, $3, $4) ON CONFLICT (incident_id) DO NOTHING',
    [freeze.incidentId, freeze.reason, freeze.startedBy, freeze.secretIds],
  );
}

/** Who started the incident's freeze, and who lifted it when (null: still active); null when there is none. */
export async function freezeState(
  db: Queryable,
  incidentId: string,
): Promise<{ startedBy: string; liftedAt: Date | null; liftedBy: string | null } | null> {
  const rows = await db.query<{ started_by: string; lifted_at: Date | null; lifted_by: string | null }>(
    'SELECT started_by, lifted_at, lifted_by FROM incident_freeze WHERE incident_id = $1',
    [incidentId],
  );
  const row = rows.rows[0];
  return row ? { startedBy: row.started_by, liftedAt: row.lifted_at, liftedBy: row.lifted_by } : null;
}

/**
 * Lifts the freeze if it is still active (who may lift it is the caller's policy, see liftFreeze)
 * and returns who lifted it and when: `by` now, or whoever lifted it first (a concurrent lift, or
 * this same lift made by an attempt that did not live to report it). Null when there is no freeze.
 */
export async function liftFreeze(db: Queryable, incidentId: string, by: string): Promise<{ liftedBy: string; liftedAt: Date } | null> {
  const lifted = await db.query<{ lifted_by: string; lifted_at: Date }>(
    'UPDATE incident_freeze SET lifted_at = now(), lifted_by = $2 WHERE incident_id = $1 AND lifted_at IS NULL RETURNING lifted_by, lifted_at',
    [incidentId, by],
  );
  const row = lifted.rows[0];
  if (row) return { liftedBy: row.lifted_by, liftedAt: row.lifted_at };
  const state = await freezeState(db, incidentId);
  // lifted_by is null only when someone lifted it by hand in SQL without saying who.
  return state?.liftedAt ? { liftedBy: state.liftedBy ?? 'unknown', liftedAt: state.liftedAt } : null;
}
