import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AUDIT_ADVISORY_LOCK, appendAudit, keyAuditLog, type AppendedRow } from '../../activities/audit/append-audit.js';
import { advanceAuditAnchor, readAuditAnchor, type AuditAnchor } from '../../activities/audit/audit-anchor.js';
import { AuditOutcome, GENESIS_HASH, hashEntry, type AuditDetail, type AuditEntry } from '../../activities/audit/audit-entry.js';
import { MAC_FORMAT } from '../../activities/audit/audit-key.js';
import { verifyAudit, type AuditVerification } from '../../activities/audit/verify-audit.js';
import { auditVerify } from '../../cli/commands/audit-verify.js';
import { operatorDatabasePool } from '../../cli/operator-database.js';
import { migrate } from '../../migrations/migrate.js';
import { bootstrapAudit } from '../../stack/bootstrap-audit.js';
import { readStackFile, type StackFile } from '../../stack/up.js';
import { AUDIT_TRANSIT_KEY, OPERATOR_POLICY_NAME, operatorPolicy } from '../../vault/policies/operator-policy.js';
import { VaultClient } from '../../vault/vault-client.js';
import { VaultRequestError } from '../../vault/vault-error.js';
import { VaultSession } from '../../vault/vault-session.js';
import { databaseLocation, startAuditAnchoring } from '../../workers/audit-anchoring.js';
import { createLogger, superuserClient } from '../helpers/test-stack.js';

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

interface Row {
  seq: string;
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
  detail: AuditDetail;
  prev_hash: string;
  hash: string;
}

/** A row's hash recomputed from its columns, as anyone who can read the table can (no key needed). */
function rehash(prevHash: string, r: Row): string {
  return hashEntry(prevHash, {
    eventKey: r.event_key,
    at: new Date(r.at),
    actor: r.actor,
    workflowId: r.workflow_id,
    runId: r.run_id,
    secretId: r.secret_id,
    step: r.step,
    outcome: r.outcome,
    fromVersion: r.from_version,
    toVersion: r.to_version,
    detail: r.detail,
  });
}

/**
 * What an attacker who owns the database but not the audit key does to hide a change: recompute
 * every row's link and hash from `seq` on, so that the unkeyed part of the chain is consistent.
 */
async function recomputeChainFrom(db: pg.ClientBase, seq: number, prevHash: string): Promise<void> {
  const rows = await db.query<Row>(
    `SELECT seq::text AS seq, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at, event_key, actor, workflow_id,
            run_id, secret_id, step, outcome, from_version, to_version, detail, prev_hash, hash
       FROM audit_log WHERE seq >= $1 ORDER BY seq`,
    [seq],
  );
  let prev = prevHash;
  for (const r of rows.rows) {
    const hash = rehash(prev, r);
    await db.query('UPDATE audit_log SET prev_hash = $1, hash = $2 WHERE seq = $3', [prev, hash, r.seq]);
    prev = hash;
  }
}

describe('the keyed, anchored audit log in PostgreSQL and Vault', () => {
  let file: StackFile;
  let mount: string;
  let app: pg.Pool;
  let su: pg.Client;
  /** The worker's own AppRole: MACs rows and writes the anchor, as a worker does. */
  let worker: VaultSession;
  /** A person's token with the rotor-operator policy only. */
  let operator: VaultClient;
  let location: string;

  /** Verification as `rotor audit verify` does it: the anchor first, MACs checked with the operator's token. */
  async function verifyAsOperator(db: pg.Pool | pg.ClientBase, pageSize?: number): Promise<AuditVerification> {
    const { anchor } = await readAuditAnchor(operator, mount);
    return verifyAudit(db, { vault: operator, anchor, pageSize });
  }

  /** Anchors the head until the anchor covers `seq` (another worker may win a round with an older head). */
  async function anchorAtLeast(seq: number): Promise<AuditAnchor> {
    for (let i = 0; i < 10; i++) {
      await advanceAuditAnchor(app, worker, mount, location);
      const { anchor } = await readAuditAnchor(operator, mount);
      if (anchor && anchor.seq >= seq) return anchor;
    }
    throw new Error(`the anchor never reached row ${seq}`);
  }

  /**
   * Inside a tampering transaction (which keeps appends out, see asOwnerRolledBack): anchors the
   * committed head, so the anchor no worker can move any more is the one the test expects.
   */
  async function anchorCommittedHead(): Promise<AuditAnchor> {
    const head = await app.query<{ seq: string }>('SELECT max(seq)::text AS seq FROM audit_log');
    return anchorAtLeast(Number(head.rows[0]!.seq));
  }

  /** Runs `tamper` as the database owner in a transaction that is rolled back, so that test files sharing this database never see it. */
  async function asOwnerRolledBack(tamper: () => Promise<void>): Promise<void> {
    await su.query('BEGIN');
    try {
      await su.query('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only');
      await tamper();
    } finally {
      await su.query('ROLLBACK');
      await su.query('ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only');
    }
  }

  beforeAll(async () => {
    file = await readStackFile('test');
    mount = file.env.ROTOR_VAULT_KV_MOUNT!;
    const url = file.env.ROTOR_DATABASE_URL;
    if (!url) throw new Error('stack.json has no ROTOR_DATABASE_URL');
    location = databaseLocation(url)!;
    worker = new VaultSession(file.env.ROTOR_VAULT_ADDR!, file.env.ROTOR_VAULT_ROLE_ID!, file.env.ROTOR_VAULT_SECRET_ID!);
    app = new pg.Pool({ connectionString: url, max: 4 });
    keyAuditLog(app, worker);
    su = await superuserClient(file, 'rotor');

    const root = new VaultClient(file.env.ROTOR_VAULT_ADDR!, file.vaultRootToken);
    const existing = await root.request('GET', `sys/policies/acl/${OPERATOR_POLICY_NAME}`).catch((err: unknown) => {
      if (err instanceof VaultRequestError && err.status === 404) return undefined;
      throw err;
    });
    if (!existing) await root.putPolicy(OPERATOR_POLICY_NAME, operatorPolicy(mount));
    const token = await root.request<{ auth: { client_token: string } }>('POST', 'auth/token/create', {
      policies: [OPERATOR_POLICY_NAME],
      ttl: '30m',
    });
    operator = new VaultClient(file.env.ROTOR_VAULT_ADDR!, token.auth.client_token);
  });

  afterAll(async () => {
    await app?.end();
    await su?.end();
  });

  it('appends MAC-keyed rows as rotor_app with seqs the database assigns, and verifies the whole chain', async () => {
    const appended: AppendedRow[] = [];
    for (const name of ['stage', 'apply', 'promote']) {
      const result = await appendAudit(app, entry(name));
      expect(result).toMatchObject({ seq: expect.any(Number), hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
      appended.push(result!);
    }
    expect(appended[1]!.seq).toBeGreaterThan(appended[0]!.seq);
    expect(appended[2]!.seq).toBeGreaterThan(appended[1]!.seq);

    const stored = await app.query<{ seq: string; at: Date; detail: unknown; prev_hash: string; hash: string; mac: string }>(
      'SELECT seq, at, detail, prev_hash, hash, mac FROM audit_log WHERE seq = ANY($1) ORDER BY seq',
      [appended.map((a) => a.seq)],
    );
    expect(stored.rows[0]?.detail).toEqual({ path: `rotor/tests/audit/${run}`, attempt: 1, emergency: false, note: null });
    expect(stored.rows[1]?.prev_hash).toBe(stored.rows[0]?.hash);
    for (const row of stored.rows) expect(row.mac).toMatch(MAC_FORMAT);
    expect(Math.abs(stored.rows[0]!.at.getTime() - Date.now())).toBeLessThan(60_000);

    const verification = await verifyAsOperator(app);
    expect(verification).toMatchObject({ ok: true, legacyRows: 0 });
    if (!verification.ok) return;
    expect(verification.rows).toBeGreaterThanOrEqual(3);
    expect(verification.lastSeq).toBeGreaterThanOrEqual(appended[2]!.seq);
    expect(verification.lastHash).not.toBe(GENESIS_HASH);
  });

  it('keeps one chain under concurrent appends, and verifies the same across page boundaries', async () => {
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => appendAudit(app, entry(`concurrent-${i}`))));
    expect(results.every((r) => r !== undefined)).toBe(true);
    expect(new Set(results.map((r) => r!.seq)).size).toBe(12);
    expect(await verifyAsOperator(app)).toMatchObject({ ok: true });
    for (const pageSize of [1, 2, 7]) expect(await verifyAsOperator(app, pageSize)).toMatchObject({ ok: true });
  });

  it('keeps one chain when several workers (pools) append in batches at once, duplicates included', async () => {
    const other = new pg.Pool({ connectionString: file.env.ROTOR_DATABASE_URL, max: 2 });
    keyAuditLog(other, worker);
    try {
      const keys = Array.from({ length: 150 }, (_, i) => `batch-${i % 100}`); // 50 keys appended twice
      const results = await Promise.all(keys.map((k, i) => appendAudit(i % 2 ? other : app, entry(k))));
      const inserted = results.filter((r) => r !== undefined);
      expect(inserted).toHaveLength(100);
      expect(new Set(inserted.map((r) => r.seq)).size).toBe(100);
      const stored = await app.query<{ n: string; keyed: string }>(
        'SELECT count(*) AS n, count(mac) AS keyed FROM audit_log WHERE event_key LIKE $1',
        [`audit-test/${run}/batch-%`],
      );
      expect(stored.rows[0]).toEqual({ n: '100', keyed: '100' });
      expect(await verifyAsOperator(app)).toMatchObject({ ok: true });
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

  it('does not let rotor_app choose a seq, move the sequence, or insert an unkeyed row; a forged MAC is reported', async () => {
    const client = await app.connect();
    try {
      const head = (
        await client.query<{ seq: string; hash: string }>(
          'SELECT seq::text AS seq, hash FROM audit_log ORDER BY audit_log.seq DESC LIMIT 1',
        )
      ).rows[0]!;
      const cols = 'event_key, at, actor, step, outcome, prev_hash, hash, mac';
      const values = (mac: string) =>
        `'audit-test/${run}/forged', now(), 'attacker', 'forged', 'succeeded', '${head.hash}', '${'e'.repeat(64)}', ${mac}`;
      const seq = Number(head.seq) + 1000;
      for (const sql of [
        `INSERT INTO audit_log (seq, ${cols}) VALUES (${seq}, ${values("'vault:v1:AAAA'")})`,
        `INSERT INTO audit_log (seq, ${cols}) OVERRIDING SYSTEM VALUE VALUES (${seq}, ${values("'vault:v1:AAAA'")})`,
      ]) {
        const err = await client.query(sql).catch((e: unknown) => e);
        expect(err, sql).toMatchObject({ code: '428C9' });
        expect((err as Error).message).toMatch(/assigned by the database/);
      }
      await expect(client.query("SELECT setval('audit_log_seq_seq', 1)")).rejects.toMatchObject({ code: '42501' });
      await expect(client.query("SELECT nextval('audit_log_seq_seq')")).rejects.toMatchObject({ code: '42501' });
      await expect(client.query(`INSERT INTO audit_log (${cols}) VALUES (${values('NULL')})`)).rejects.toMatchObject({ code: '23514' });

      // What rotor_app can still do, a row with a MAC it made up, is reported. Rolled back: the
      // audit lock keeps real appends out meanwhile, so the forged row is the last one.
      await client.query('BEGIN');
      try {
        await client.query(`SELECT pg_advisory_xact_lock(${AUDIT_ADVISORY_LOCK})`);
        const last = (await client.query<{ hash: string }>('SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1')).rows[0]!;
        const at = new Date();
        const forged = { eventKey: `audit-test/${run}/forged`, at, actor: 'attacker', step: 'forged', outcome: 'succeeded' };
        const hash = hashEntry(last.hash, forged);
        const inserted = await client.query<{ seq: string }>(
          `INSERT INTO audit_log (event_key, at, actor, step, outcome, prev_hash, hash, mac)
           VALUES ($1, $2, 'attacker', 'forged', 'succeeded', $3, $4, 'vault:v1:QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=') RETURNING seq::text AS seq`,
          [forged.eventKey, at.toISOString(), last.hash, hash],
        );
        expect(Number(inserted.rows[0]!.seq)).toBeGreaterThan(Number(head.seq));
        expect(await verifyAsOperator(client)).toMatchObject({
          ok: false,
          problem: 'mac_mismatch',
          firstBadSeq: Number(inserted.rows[0]!.seq),
        });
      } finally {
        await client.query('ROLLBACK');
      }
    } finally {
      client.release();
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

    await asOwnerRolledBack(async () => {
      await su.query("UPDATE audit_log SET outcome = 'failed' WHERE seq = $1", [middle.seq]);
      expect(await verifyAsOperator(su)).toMatchObject({ ok: false, problem: 'hash_mismatch', firstBadSeq: middle.seq });

      await su.query("UPDATE audit_log SET outcome = 'succeeded' WHERE seq = $1", [middle.seq]);
      expect(await verifyAsOperator(su)).toMatchObject({ ok: true });

      // Sub-millisecond changes to `at` are caught too, although the hash covers milliseconds.
      await su.query("UPDATE audit_log SET at = at + interval '1 microsecond' WHERE seq = $1", [middle.seq]);
      expect(await verifyAsOperator(su)).toMatchObject({ ok: false, problem: 'hash_mismatch', firstBadSeq: middle.seq });
      await su.query("UPDATE audit_log SET at = at - interval '1 microsecond' WHERE seq = $1", [middle.seq]);

      const next = await su.query<{ seq: string }>('SELECT min(seq)::text AS seq FROM audit_log WHERE seq > $1', [middle.seq]);
      await su.query('DELETE FROM audit_log WHERE seq = $1', [middle.seq]);
      const deleted = await verifyAsOperator(su, 2);
      expect(deleted).toMatchObject({ ok: false, problem: 'broken_link', firstBadSeq: Number(next.rows[0]?.seq) });
      expect(deleted.ok ? 0 : deleted.rows).toBeGreaterThanOrEqual(1);
    });

    const trigger = await su.query<{ tgenabled: string }>("SELECT tgenabled FROM pg_trigger WHERE tgname = 'audit_log_append_only'");
    expect(trigger.rows).toEqual([{ tgenabled: 'O' }]);
    const restored = await app.query<{ n: string }>('SELECT count(*)::text AS n FROM audit_log WHERE seq = $1', [middle.seq]);
    expect(restored.rows[0]?.n).toBe('1');
    expect(await verifyAsOperator(app)).toMatchObject({ ok: true });
  });

  it('detects a changed row whose chain the owner recomputed without the key (mac_mismatch), with or without an anchor', async () => {
    const rows = [];
    for (const name of ['recompute-a', 'recompute-b', 'recompute-c']) rows.push((await appendAudit(app, entry(name)))!);
    const [, middle] = rows as [AppendedRow, AppendedRow, AppendedRow];

    await asOwnerRolledBack(async () => {
      const prev = (await su.query<{ prev_hash: string }>('SELECT prev_hash FROM audit_log WHERE seq = $1', [middle.seq])).rows[0]!;
      await su.query(`UPDATE audit_log SET detail = detail || '{"note":"nothing happened"}' WHERE seq = $1`, [middle.seq]);
      await recomputeChainFrom(su, middle.seq, prev.prev_hash);

      const result = await verifyAsOperator(su);
      expect(result).toMatchObject({ ok: false, problem: 'mac_mismatch', firstBadSeq: middle.seq });
      // The hashes and links alone are consistent again: only the key tells.
      expect(await verifyAudit(su, { vault: operator, anchor: undefined })).toMatchObject({
        ok: false,
        problem: 'mac_mismatch',
        firstBadSeq: middle.seq,
      });
    });
    expect(await verifyAsOperator(app)).toMatchObject({ ok: true });
  });

  it('detects a deleted middle row whose later links the owner recomputed (mac_mismatch at the next row)', async () => {
    const rows = [];
    for (const name of ['gap-a', 'gap-b', 'gap-c']) rows.push((await appendAudit(app, entry(name)))!);
    const [first, middle, last] = rows as [AppendedRow, AppendedRow, AppendedRow];

    await asOwnerRolledBack(async () => {
      await su.query('DELETE FROM audit_log WHERE seq = $1', [middle.seq]);
      await recomputeChainFrom(su, last.seq, first.hash);
      const links = await su.query<{ prev_hash: string }>('SELECT prev_hash FROM audit_log WHERE seq = $1', [last.seq]);
      expect(links.rows[0]?.prev_hash).toBe(first.hash); // the chain closes over the gap

      expect(await verifyAsOperator(su)).toMatchObject({ ok: false, problem: 'mac_mismatch', firstBadSeq: last.seq });
    });
    expect(await verifyAsOperator(app)).toMatchObject({ ok: true });
  });

  it('detects a cut tail through the anchor in Vault, which the workers never move back or over the cut', async () => {
    const rows: AppendedRow[] = [];
    for (const name of ['tail-a', 'tail-b', 'tail-c']) rows.push((await appendAudit(app, entry(name)))!);
    expect(await anchorAtLeast(rows[2]!.seq)).toMatchObject({ database: location, mac: expect.stringMatching(MAC_FORMAT) });

    await asOwnerRolledBack(async () => {
      const anchor = await anchorCommittedHead();
      // The attacker cuts the last rows: every row from ours on (rows other files appended since included).
      await su.query('DELETE FROM audit_log WHERE seq >= $1', [rows[0]!.seq]);
      const result = await verifyAsOperator(su);
      expect(result).toMatchObject({ ok: false, problem: 'truncated', firstBadSeq: anchor.seq });
      // Chain and MACs of what is left are fine: only the anchor tells.
      expect(await verifyAudit(su, { vault: operator, anchor: undefined })).toMatchObject({ ok: true });

      // A worker that sees the cut log does not anchor it: the evidence stays in Vault.
      expect(await advanceAuditAnchor(su, worker, mount, location)).toEqual({ outcome: 'unchanged' });
      // Nor once the log has grown past the anchored seq again without the anchored row.
      const head = (await su.query<{ hash: string }>('SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1')).rows[0]!;
      await su.query(
        `INSERT INTO audit_log (event_key, at, actor, step, outcome, prev_hash, hash, mac)
         VALUES ($1, now(), 'attacker', 'refill', 'succeeded', $2, $3, 'vault:v1:AAAA')`,
        [`audit-test/${run}/refill`, head.hash, 'f'.repeat(64)],
      );
      expect(await advanceAuditAnchor(su, worker, mount, location)).toMatchObject({
        outcome: 'refused',
        reason: expect.stringMatching(/missing/),
      });
      expect((await readAuditAnchor(operator, mount)).anchor).toEqual(anchor);
    });

    await asOwnerRolledBack(async () => {
      const anchor = await anchorCommittedHead();
      // Changing the anchored row itself, chain recomputed: the anchor tells, and without it the MAC.
      await su.query(`UPDATE audit_log SET actor = 'someone else' WHERE seq = $1`, [anchor.seq]);
      const prev = (await su.query<{ prev_hash: string }>('SELECT prev_hash FROM audit_log WHERE seq = $1', [anchor.seq])).rows[0]!;
      await recomputeChainFrom(su, anchor.seq, prev.prev_hash);
      expect(await verifyAsOperator(su)).toMatchObject({ ok: false, firstBadSeq: anchor.seq, problem: 'anchor_mismatch' });
      expect(await verifyAudit(su, { vault: operator, anchor: undefined })).toMatchObject({
        ok: false,
        firstBadSeq: anchor.seq,
        problem: 'mac_mismatch',
      });
    });

    await asOwnerRolledBack(async () => {
      const anchor = await anchorCommittedHead();
      // Every MAC stripped, so that the whole log would pass for legacy rows: the anchored MAC tells.
      await su.query('ALTER TABLE audit_log DROP CONSTRAINT audit_log_mac_required');
      await su.query('UPDATE audit_log SET mac = NULL');
      expect(await verifyAudit(su, { vault: operator, anchor: undefined })).toMatchObject({ ok: true });
      expect(await verifyAsOperator(su)).toMatchObject({ ok: false, firstBadSeq: anchor.seq, problem: 'anchor_mismatch' });
    });
    expect(await verifyAsOperator(app)).toMatchObject({ ok: true });
  });

  it('a deleted anchor is reported, and no worker anchors over it', async () => {
    // A KV mount of this test's own: deleting the shared anchor would fail other files' verifications.
    const root = new VaultClient(file.env.ROTOR_VAULT_ADDR!, file.vaultRootToken);
    const scratch = `audit-anchor-${run}`;
    await root.enableEngine(scratch, 'kv', { version: '2' });
    try {
      const head = (await appendAudit(app, entry('deleted-anchor')))!;
      expect(await advanceAuditAnchor(app, root, scratch, location)).toMatchObject({ outcome: 'written' });
      await root.request('DELETE', `${scratch}/data/_rotor/audit/anchor`);
      const printed: string[] = [];
      const log = vi.spyOn(console, 'log').mockImplementation((line: string) => void printed.push(line));
      let code: number;
      try {
        code = await auditVerify(root, { ROTOR_AUDIT_DATABASE: location, ROTOR_VAULT_KV_MOUNT: scratch }, { json: true });
      } finally {
        log.mockRestore();
      }
      expect(code).toBe(1);
      expect(JSON.parse(printed[0]!)).toMatchObject({ ok: false, problem: 'anchor_missing' });
      expect(await advanceAuditAnchor(app, root, scratch, location)).toMatchObject({
        outcome: 'refused',
        reason: expect.stringMatching(/deleted/),
      });
      expect(head.seq).toBeGreaterThan(0);
    } finally {
      await root.request('DELETE', `sys/mounts/${scratch}`);
    }
  });

  it('anchors the head once at start and then on schedule, as every worker does', async () => {
    const appended = (await appendAudit(app, entry('anchored-at-start')))!;
    const anchoring = startAuditAnchoring(
      { db: app, vault: worker, kvMount: mount, databaseUrl: file.env.ROTOR_DATABASE_URL!, logger: createLogger('warn') },
      200,
    );
    try {
      await vi.waitFor(
        async () => {
          const { anchor } = await readAuditAnchor(operator, mount);
          expect(anchor?.seq).toBeGreaterThanOrEqual(appended.seq);
        },
        { timeout: 10_000, interval: 100 },
      );
      const later = (await appendAudit(app, entry('anchored-on-schedule')))!;
      await vi.waitFor(async () => expect((await readAuditAnchor(operator, mount)).anchor?.seq).toBeGreaterThanOrEqual(later.seq), {
        timeout: 10_000,
        interval: 100,
      });
    } finally {
      await anchoring.stop();
    }
  });

  it('verifies with an operator token (rotor-operator only) and a short-lived read-only login, as `rotor audit verify` does', async () => {
    await anchorAtLeast((await appendAudit(app, entry('operator-check')))!.seq);
    const printed: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((line: string) => void printed.push(line));
    let code: number;
    let fromAnchor: number;
    try {
      code = await auditVerify(operator, { ROTOR_AUDIT_DATABASE: location, ROTOR_VAULT_KV_MOUNT: mount }, { json: false });
      // Without ROTOR_AUDIT_DATABASE: where the workers recorded the log in the anchor.
      fromAnchor = await auditVerify(operator, { ROTOR_VAULT_KV_MOUNT: mount }, { json: true });
    } finally {
      log.mockRestore();
    }
    expect(code).toBe(0);
    expect(printed[0]).toMatch(/^audit log intact: \d+ rows, last hash [0-9a-f]{16}…, anchored in Vault at row \d+/);
    expect(fromAnchor).toBe(0);
    expect(JSON.parse(printed[1]!)).toMatchObject({ ok: true, legacyRows: 0, anchor: { database: location } });

    // A second bootstrap (npm start reuses its state dir) keeps the key and the role working.
    await bootstrapAudit({ ...file.postgres, stop: async () => undefined }, file.env.ROTOR_VAULT_ADDR!, file.vaultRootToken);
    expect(await verifyAsOperator(app)).toMatchObject({ ok: true });

    // The operator may check MACs but not make them.
    const forge = await operator
      .request('POST', `transit/hmac/${AUDIT_TRANSIT_KEY}`, { input: Buffer.from('x').toString('base64') })
      .catch((e: unknown) => e);
    expect(forge).toMatchObject({ status: 403 });

    // The login reads the audit log and the freeze, and nothing else; it cannot write.
    const pool = await operatorDatabasePool(operator, { ROTOR_AUDIT_DATABASE: location, ROTOR_VAULT_KV_MOUNT: mount });
    try {
      const who = await pool.query<{ user: string; until: string | null }>(
        'SELECT current_user AS user, rolvaliduntil::text AS until FROM pg_roles WHERE rolname = current_user',
      );
      expect(who.rows[0]?.user).not.toMatch(/^(rotor_app|postgres|rotor_audit_admin)$/);
      expect(who.rows[0]?.until).not.toBeNull();
      await expect(pool.query('SELECT count(*) FROM incident_freeze')).resolves.toBeDefined();
      await expect(pool.query('SELECT count(*) FROM schema_migrations')).rejects.toMatchObject({ code: '42501' });
      await expect(
        pool.query(
          "INSERT INTO audit_log (event_key, at, actor, step, outcome, prev_hash, hash, mac) VALUES ('x', now(), 'a', 's', 'o', 'p', 'h', 'm')",
        ),
      ).rejects.toMatchObject({ code: '42501' });
    } finally {
      await pool.end();
    }
  });
});

describe('an audit log from before rows were keyed', () => {
  const database = `audit_upgrade_${run.slice(0, 8)}`;
  let file: StackFile;
  let admin: pg.Client;
  let db: pg.Client;
  let app: pg.Pool;
  let root: VaultClient;

  beforeAll(async () => {
    file = await readStackFile('test');
    root = new VaultClient(file.env.ROTOR_VAULT_ADDR!, file.vaultRootToken);
    admin = await superuserClient(file, 'postgres');
    await admin.query(`CREATE DATABASE ${database}`);
    db = await superuserClient(file, database);
  });

  afterAll(async () => {
    await app?.end();
    await db?.end();
    await admin?.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin?.end();
  });

  it('migrates with its rows kept, verifies them as legacy rows, and refuses an unkeyed row after a keyed one', async () => {
    // The database as the previous release left it: migrations 001-003, rows with explicit seqs and no MAC.
    await db.query('CREATE TABLE schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    for (const name of ['001_audit_log.sql', '002_incident_freeze.sql', '003_freeze_scope.sql']) {
      await db.query(await readFile(new URL(`../../migrations/${name}`, import.meta.url), 'utf8'));
      await db.query('INSERT INTO schema_migrations (name) VALUES ($1)', [name]);
    }
    let prev = GENESIS_HASH;
    for (const name of ['legacy-a', 'legacy-b', 'legacy-c']) {
      const at = new Date();
      const hash = hashEntry(prev, { eventKey: name, at, actor: 'old-worker', step: name, outcome: 'succeeded', detail: { n: 1 } });
      await db.query(
        `INSERT INTO audit_log (seq, event_key, at, actor, step, outcome, detail, prev_hash, hash)
         VALUES (nextval('audit_log_seq_seq'), $1, $2, 'old-worker', $1, 'succeeded', '{"n":1}', $3, $4)`,
        [name, at.toISOString(), prev, hash],
      );
      prev = hash;
    }

    expect(await migrate(db)).toEqual([
      '004_audit_keyed.sql',
      '005_audit_by_run.sql',
      '006_audit_by_step.sql',
      '007_notifications.sql',
      '008_metrics_indexes.sql',
    ]);
    expect(await migrate(db)).toEqual([]); // a second start (npm start reuses the state dir) applies nothing

    const url = new URL(file.env.ROTOR_DATABASE_URL!);
    url.pathname = `/${database}`;
    app = new pg.Pool({ connectionString: url.toString(), max: 2 });
    keyAuditLog(app, new VaultSession(file.env.ROTOR_VAULT_ADDR!, file.env.ROTOR_VAULT_ROLE_ID!, file.env.ROTOR_VAULT_SECRET_ID!));
    const keyed = await appendAudit(app, entry('after-upgrade'));
    expect(keyed?.seq).toBe(4);

    expect(await verifyAudit(app, { vault: root, anchor: undefined })).toMatchObject({ ok: true, rows: 4, legacyRows: 3, lastSeq: 4 });

    // An unkeyed row once a keyed one exists: the constraint refuses it; the owner who drops the
    // constraint to write one is reported.
    const hash = hashEntry(keyed!.hash, {
      eventKey: 'sneaked',
      at: new Date('2030-01-01T00:00:00.000Z'),
      actor: 'owner',
      step: 's',
      outcome: 'succeeded',
    });
    const insert = `INSERT INTO audit_log (event_key, at, actor, step, outcome, prev_hash, hash)
                    VALUES ('sneaked', '2030-01-01T00:00:00.000Z', 'owner', 's', 'succeeded', '${keyed!.hash}', '${hash}')`;
    await expect(db.query(insert)).rejects.toMatchObject({ code: '23514' });
    await db.query('BEGIN');
    try {
      await db.query('ALTER TABLE audit_log DROP CONSTRAINT audit_log_mac_required');
      const sneaked = await db.query<{ seq: string }>(`${insert} RETURNING seq::text AS seq`);
      expect(await verifyAudit(db, { vault: root, anchor: undefined })).toMatchObject({
        ok: false,
        problem: 'unkeyed_row',
        firstBadSeq: Number(sneaked.rows[0]!.seq),
      });
    } finally {
      await db.query('ROLLBACK');
    }
  });
});
