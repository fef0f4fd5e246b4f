import type pg from 'pg';

/**
 * When each secret's last rotation that ended `rotated` finished, from its `rotation_finished`
 * row: one probe per secret of migrations/008_metrics_indexes.sql's partial index (whose predicate
 * is this query's), so the cost follows the secrets asked about, not the log's history. Secrets
 * never rotated are absent. For metrics (every scrape) and the debt report.
 */
export async function lastSuccessfulRotations(db: pg.Pool, secretIds: readonly string[]): Promise<Map<string, Date>> {
  const { rows } = await db.query<{ secret_id: string; at: Date }>(
    `SELECT s.id AS secret_id, l.at
       FROM unnest($1::text[]) AS s(id)
       CROSS JOIN LATERAL (SELECT at FROM audit_log
                            WHERE step = 'rotation_finished' AND outcome = 'succeeded' AND secret_id = s.id
                            ORDER BY at DESC LIMIT 1) l`,
    [secretIds],
  );
  return new Map(rows.map((r) => [r.secret_id, r.at]));
}
