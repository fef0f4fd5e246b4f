import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendAudit } from '../../activities/audit/append-audit.js';
import { AuditOutcome, GENESIS_HASH, type AuditEntry } from '../../activities/audit/audit-entry.js';
import { verifyAudit } from '../../activities/audit/verify-audit.js';
import { readStackFile, type StackFile } from '../../stack/up.js';
import { superuserClient } from '../helpers/test-stack.js';

/** Other test files share this database: every event key of this file is unique to this run. */
const run = randomUUID();

function entry(name: string, overrides: Partial<AuditEntry> = {}): AuditEntry {
  return {
    eventKey: `audit-test/${run}/${name}`,
    actor: 'test:audit',
    workflowId: `rotate-${run}`,
    runId: run,
    secretId: 'tests/audit',
    step: name,
    outcome: AuditOutcome.SUCCEEDED,
    fromVersion: 1,
    toVersion: 2,
    detail: { path: `rotor/tests/audit/${run}`, attempt: 1, emergency: false, note: null },
    ...overrides,
  };
}

describe('the hash-chained audit log in PostgreSQL', () => {
  let file: StackFile;
  let app: pg.Pool;
  let su: pg.Client;

  beforeAll(async () => {
    file = await readStackFile('test');
    const url = file.env.ROTOR_DATABASE_URL;
    if (!url) throw new Error('stack.json has no ROTOR_DATABASE_URL');
    app = new pg.Pool({ connectionString: url, max: 4 });
    su = await superuserClient(file, 'rotor');
  });

  afterAll(async () => {
    await app?.end();
    await su?.end();
  });

  it('appends entries as rotor_app and verifies the whole chain', async () => {
    const appended = [];
    for (const name of ['stage', 'apply', 'promote']) {
      const result = await appendAudit(app, entry(name));
      expect(result).toMatchObject({ seq: expect.any(Number), hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
      appended.push(result!);
    }
    expect(appended[1]!.seq).toBeGreaterThan(appended[0]!.seq);
    expect(appended[2]!.seq).toBeGreaterThan(appended[1]!.seq);

    const stored = await app.query<{ seq: string; at: Date; detail: unknown; prev_hash: string }>(
      'SELECT seq, at, detail, prev_hash FROM audit_log WHERE seq = $1',
      [appended[0]!.seq],
    );
    expect(stored.rows[0]?.detail).toEqual({ path: `rotor/tests/audit/${run}`, attempt: 1, emergency: false, note: null });
    expect(stored.rows[0]?.prev_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(Math.abs(stored.rows[0]!.at.getTime() - Date.now())).toBeLessThan(60_000);

    const verification = await verifyAudit(app);
    expect(verification).toMatchObject({ ok: true });
    if (!verification.ok) return;
    expect(verification.rows).toBeGreaterThanOrEqual(3);
    expect(verification.lastHash).not.toBe(GENESIS_HASH);
  });

  it('keeps one chain under concurrent appends, and verifies the same across page boundaries', async () => {
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => appendAudit(app, entry(`concurrent-${i}`))));
    expect(results.every((r) => r !== undefined)).toBe(true);
    expect(new Set(results.map((r) => r!.seq)).size).toBe(12);
    const whole = await verifyAudit(app);
    expect(whole).toMatchObject({ ok: true });
    for (const pageSize of [1, 2, 7]) expect(await verifyAudit(app, { pageSize })).toMatchObject({ ok: true });
  });

  it('keeps one chain when several workers (pools) append in batches at once, duplicates included', async () => {
    const other = new pg.Pool({ connectionString: file.env.ROTOR_DATABASE_URL, max: 2 });
    try {
      const keys = Array.from({ length: 150 }, (_, i) => `batch-${i % 100}`); // 50 keys appended twice
      const results = await Promise.all(keys.map((k, i) => appendAudit(i % 2 ? other : app, entry(k))));
      const inserted = results.filter((r) => r !== undefined);
      expect(inserted).toHaveLength(100);
      expect(new Set(inserted.map((r) => r.seq)).size).toBe(100);
      const stored = await app.query<{ n: string }>('SELECT count(*) AS n FROM audit_log WHERE event_key LIKE $1', [
        `audit-test/${run}/batch-%`,
      ]);
      expect(Number(stored.rows[0]!.n)).toBe(100);
      expect(await verifyAudit(app)).toMatchObject({ ok: true });
    } finally {
      await other.end();
    }
  });

  it('is idempotent per event key: a retried append inserts nothing and returns undefined', async () => {
    const first = await appendAudit(app, entry('idempotent'));
    const again = await appendAudit(app, entry('idempotent', { outcome: AuditOutcome.FAILED }));
    expect(first).toBeDefined();
    expect(again).toBeUndefined();
    const rows = await app.query<{ outcome: string }>('SELECT outcome FROM audit_log WHERE event_key = $1', [
      `audit-test/${run}/idempotent`,
    ]);
    expect(rows.rows).toEqual([{ outcome: 'succeeded' }]);
  });

  it('refuses a detail field that might hold a secret and inserts nothing', async () => {
    const bad = entry('leak', { detail: { path: 'rotor/db/app', password: 'hunter2' } });
    const err = await appendAudit(app, bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/"password"/);
    expect((err as Error).message).not.toMatch(/hunter2/);
    const rows = await app.query('SELECT 1 FROM audit_log WHERE event_key = $1', [bad.eventKey]);
    expect(rows.rowCount).toBe(0);
    const anywhere = await su.query("SELECT 1 FROM audit_log WHERE detail::text LIKE '%hunter2%'");
    expect(anywhere.rowCount).toBe(0);
  });

  it('does not let rotor_app UPDATE, DELETE or TRUNCATE audit rows', async () => {
    const appended = await appendAudit(app, entry('immutable'));
    expect(appended).toBeDefined();
    for (const sql of [
      `UPDATE audit_log SET outcome = 'failed' WHERE seq = ${appended!.seq}`,
      `DELETE FROM audit_log WHERE seq = ${appended!.seq}`,
      'TRUNCATE audit_log',
    ]) {
      const err = await app.query(sql).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect(err).toMatchObject({ code: '42501' });
      expect((err as Error).message).toMatch(/permission denied/);
    }
  });

  it('stops even the owner through the append-only trigger', async () => {
    const err = await su.query("UPDATE audit_log SET outcome = 'failed' WHERE false").catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/append-only/);
  });

  it('detects a changed row (hash_mismatch) and a deleted row (broken_link); the tampering is rolled back', async () => {
    const rows = [];
    for (const name of ['tamper-a', 'tamper-b', 'tamper-c']) rows.push(await appendAudit(app, entry(name)));
    const middle = rows[1];
    if (!middle) throw new Error('the middle entry was not appended');

    // Every change happens inside one superuser transaction that is rolled back, so test files that
    // share this database never see a broken chain (ALTER TABLE holds audit_log exclusively meanwhile).
    await su.query('BEGIN');
    try {
      await su.query('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only');

      await su.query("UPDATE audit_log SET outcome = 'failed' WHERE seq = $1", [middle.seq]);
      const changed = await verifyAudit(su);
      expect(changed).toMatchObject({ ok: false, problem: 'hash_mismatch', firstBadSeq: middle.seq });

      await su.query("UPDATE audit_log SET outcome = 'succeeded' WHERE seq = $1", [middle.seq]);
      expect(await verifyAudit(su)).toMatchObject({ ok: true });

      // Sub-millisecond changes to `at` are caught too, although the hash covers milliseconds.
      await su.query("UPDATE audit_log SET at = at + interval '1 microsecond' WHERE seq = $1", [middle.seq]);
      expect(await verifyAudit(su)).toMatchObject({ ok: false, problem: 'hash_mismatch', firstBadSeq: middle.seq });
      await su.query("UPDATE audit_log SET at = at - interval '1 microsecond' WHERE seq = $1", [middle.seq]);

      const next = await su.query<{ seq: string }>('SELECT min(seq)::text AS seq FROM audit_log WHERE seq > $1', [middle.seq]);
      await su.query('DELETE FROM audit_log WHERE seq = $1', [middle.seq]);
      const deleted = await verifyAudit(su, { pageSize: 2 });
      expect(deleted).toMatchObject({ ok: false, problem: 'broken_link', firstBadSeq: Number(next.rows[0]?.seq) });
      expect(deleted.ok ? 0 : deleted.rows).toBeGreaterThanOrEqual(1);
    } finally {
      await su.query('ROLLBACK');
      // The rollback undid DISABLE TRIGGER already; this makes sure of it whatever happened above.
      await su.query('ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only');
    }

    const trigger = await su.query<{ tgenabled: string }>("SELECT tgenabled FROM pg_trigger WHERE tgname = 'audit_log_append_only'");
    expect(trigger.rows).toEqual([{ tgenabled: 'O' }]);
    const restored = await app.query<{ n: string }>('SELECT count(*)::text AS n FROM audit_log WHERE seq = $1', [middle.seq]);
    expect(restored.rows[0]?.n).toBe('1');
    expect(await verifyAudit(app)).toMatchObject({ ok: true });
  });
});
