import { randomBytes, randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIT_ADVISORY_LOCK, appendAudit, keyAuditLog } from '../../activities/audit/append-audit.js';
import { AuditOutcome, type AuditEntry } from '../../activities/audit/audit-entry.js';
import { verifyAudit } from '../../activities/audit/verify-audit.js';
import { postgresProvider } from '../../activities/providers/postgres/provider.js';
import { postgresAdmin, postgresSpec, type PostgresCredential } from '../../activities/providers/postgres/schema.js';
import { ProviderCaches } from '../../activities/providers/provider-caches.js';
import { TargetUnavailableError } from '../../activities/providers/provider.js';
import { toFailure } from '../../activities/rotation/to-failure.js';
import { migrate } from '../../migrations/migrate.js';
import { VaultSession } from '../../vault/vault-session.js';
import { FailureType } from '../../workflows/failure-types.js';
import { rotorDatabasePool } from '../../workers/create-worker.js';
import { DEMO_ADMIN_PATH, kvVersion, postgresSecretYaml, rotate, roleNames, seed } from '../helpers/rotation-fixtures.js';
import { canLogin, createLogger, startTestStack, superuserClient, type TestStack } from '../helpers/test-stack.js';

/**
 * A session that holds a lock rotor needs (a role's row, the provider's create-role advisory lock,
 * the audit log's advisory lock) makes rotor's statement fail within lock_timeout with an error
 * naming what was locked, instead of waiting for as long as that session likes; once it lets go,
 * the same step succeeds. Real locks taken by real sessions. The target and audit locks are taken
 * in scratch databases of this file (advisory locks are per database), so other test files'
 * rotations and audit rows, running at the same time, are never held up.
 */
const suffix = randomBytes(4).toString('hex');
const TARGET_DB = `lockcheck_${suffix}`;
const AUDIT_DB = `lockcheck_audit_${suffix}`;
const [ROLE_A, ROLE_B] = [`lockcheck_${suffix}_a`, `lockcheck_${suffix}_b`];
const SECRET = `lock-retry-${suffix}`;
const CREATE_ROLE_LOCK = "hashtext('rotor:postgres-provider:create-role')";
/** lock_timeout is 5 s: an answer later than this means rotor waited on the lock unbounded. */
const DEADLINE_MS = 15_000;

type Settled = { ok: true; ms: number } | { ok: false; err: Error; ms: number } | 'still waiting';

/** How `work` ended, or 'still waiting' after DEADLINE_MS (it keeps running; the caller releases the lock). */
async function within(work: Promise<unknown>): Promise<Settled> {
  const started = Date.now();
  const settled = work.then(
    () => ({ ok: true as const, ms: Date.now() - started }),
    (err: unknown) => ({ ok: false as const, err: err as Error, ms: Date.now() - started }),
  );
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'still waiting'>((resolve) => (timer = setTimeout(() => resolve('still waiting'), DEADLINE_MS)));
  try {
    return await Promise.race([settled, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The failure as the activity reports it to Temporal: retryable, typed TargetUnavailable. */
function expectRetryable(err: Error): void {
  const failure = toFailure(err);
  expect(failure).toBeInstanceOf(ApplicationFailure);
  expect((failure as ApplicationFailure).nonRetryable).toBe(false);
  expect((failure as ApplicationFailure).type).toBe(FailureType.TargetUnavailable);
}

function expectLockTimeout(result: Settled, message: RegExp): Error {
  expect(result, 'rotor waited on the lock instead of giving up after lock_timeout').not.toBe('still waiting');
  if (result === 'still waiting' || result.ok) throw new Error(`expected a lock timeout, got ${JSON.stringify(result)}`);
  expect(result.err).toBeInstanceOf(TargetUnavailableError);
  expect(result.err.message).toMatch(message);
  expect(result.ms).toBeGreaterThanOrEqual(4_000); // it did wait on the lock, for lock_timeout
  return result.err;
}

describe('lock and statement timeouts on target and audit connections', () => {
  let stack: TestStack;
  let admin: pg.Client; // superuser on the cluster's "postgres" database, for setup and cleanup
  const caches = new ProviderCaches();
  let provider: ReturnType<typeof postgresProvider>;

  /** A superuser session on `database` that takes a lock and keeps it until `release()`. */
  async function holder(database: string) {
    const c = await superuserClient(stack.file, database);
    return {
      query: (sql: string) => c.query(sql),
      async release() {
        await c.query('ROLLBACK').catch(() => undefined);
        await c.end();
      },
    };
  }

  beforeAll(async () => {
    stack = await startTestStack(
      'locks',
      `secrets:\n${postgresSecretYaml(SECRET).replace('database: demo }', `database: ${TARGET_DB} }`)}`,
    );
    admin = await superuserClient(stack.file, 'postgres');
    await admin.query(`CREATE DATABASE ${TARGET_DB}`);
    await admin.query(`GRANT ALL ON DATABASE ${TARGET_DB} TO rotor_admin WITH GRANT OPTION`);
    await admin.query(`REVOKE CONNECT ON DATABASE ${TARGET_DB} FROM PUBLIC`);
    await admin.query(`CREATE DATABASE ${AUDIT_DB}`);
    const auditDb = await superuserClient(stack.file, AUDIT_DB);
    try {
      await migrate(auditDb); // rotor's real schema: audit_log, its grants to rotor_app
    } finally {
      await auditDb.end();
    }
    const stored = await stack.rootVault.kvRead<Record<string, string>>('rotor', DEMO_ADMIN_PATH);
    provider = postgresProvider(
      postgresSpec.parse({ type: 'postgres', adminPath: DEMO_ADMIN_PATH, users: [ROLE_A, ROLE_B], database: TARGET_DB }),
      { admin: postgresAdmin.parse(stored!.data), database: TARGET_DB },
      caches,
    );
  });

  afterAll(async () => {
    await caches.close();
    await stack?.close();
    if (!admin) return;
    for (const db of [TARGET_DB, AUDIT_DB]) await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => undefined);
    for (const role of [ROLE_A, ROLE_B, ...roleNames(SECRET)]) await admin.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    await admin.end();
  });

  const credential = (username: string): PostgresCredential => ({
    username,
    password: randomBytes(18).toString('base64url'),
    host: stack.file.postgres.host,
    port: String(stack.file.postgres.port),
    database: TARGET_DB,
  });
  const logsIn = (c: PostgresCredential) => canLogin(stack.file, c.username, c.password, TARGET_DB);

  it("apply gives up within lock_timeout while another session holds the role's row, naming it; it succeeds once released", async () => {
    await provider.source.apply(credential(ROLE_A)); // creates the role, as seeding does
    const next = credential(ROLE_A);
    const lock = await holder(TARGET_DB);
    let err: Error;
    try {
      await lock.query('BEGIN');
      await lock.query(`ALTER ROLE ${ROLE_A} VALID UNTIL 'infinity'`); // uncommitted: holds the role's row
      err = expectLockTimeout(
        await within(provider.source.apply(next)),
        new RegExp(`could not set the password of role "${ROLE_A}": the role row of "${ROLE_A}" is locked by another session`),
      );
    } finally {
      await lock.release();
    }
    expectRetryable(err);
    expect(err.message).not.toContain(next.password);
    expect(await logsIn(next)).toBe(false); // the failed attempt changed nothing
    await provider.source.apply(next);
    expect(await logsIn(next)).toBe(true);
  });

  it("apply gives up within lock_timeout while another session holds rotor's create-role advisory lock; it succeeds once released", async () => {
    const next = credential(ROLE_B);
    const lock = await holder(TARGET_DB);
    let err: Error;
    try {
      await lock.query(`SELECT pg_advisory_lock(${CREATE_ROLE_LOCK})`); // a session-level hold, as a stuck session would
      err = expectLockTimeout(
        await within(provider.source.apply(next)),
        /could not set the password of role ".*": rotor's create-role section on .* \(advisory lock, database "lockcheck_.*"\) is locked by another session/,
      );
    } finally {
      await lock.release(); // ending the session releases its advisory lock
    }
    expectRetryable(err);
    await provider.source.apply(next);
    expect(await logsIn(next)).toBe(true);
  });

  it("revoke gives up within lock_timeout while another session holds the role's row, naming it; it succeeds once released", async () => {
    const current = credential(ROLE_B);
    await provider.source.apply(current);
    expect(await logsIn(current)).toBe(true);
    const lock = await holder(TARGET_DB);
    let err: Error;
    try {
      await lock.query('BEGIN');
      await lock.query(`ALTER ROLE ${ROLE_B} CONNECTION LIMIT 50`);
      err = expectLockTimeout(
        await within(provider.revoke(current, { terminateSessions: true })),
        new RegExp(`could not revoke role "${ROLE_B}": the role row of "${ROLE_B}" is locked by another session`),
      );
    } finally {
      await lock.release();
    }
    expectRetryable(err);
    expect(await provider.isRevoked(current)).toBe(false);
    await provider.revoke(current, { terminateSessions: true });
    expect(await provider.isRevoked(current)).toBe(true);
  });

  it('a rotation whose apply hit a locked role row is retried by Temporal and rotates once the lock is gone', async () => {
    const [, standby] = roleNames(SECRET);
    expect(await seed(stack, SECRET)).toBe(1);
    expect(await rotate(stack, SECRET)).toMatchObject({ outcome: 'rotated', toVersion: 2 }); // creates the second role
    const su = await superuserClient(stack.file, 'rotor');
    const lock = await holder(TARGET_DB);
    try {
      await lock.query('BEGIN');
      const [first] = roleNames(SECRET);
      await lock.query(`ALTER ROLE ${first} VALID UNTIL 'infinity'`); // the role the next rotation gives a password
      const rotation = rotate(stack, SECRET);
      rotation.catch(() => undefined);
      // The apply step fails (audited, retryable) instead of waiting for the lock.
      const deadline = Date.now() + 20_000;
      let failed: { detail: { error: string } } | undefined;
      while (!failed && Date.now() < deadline) {
        const rows = await su.query<{ detail: { error: string } }>(
          "SELECT detail FROM audit_log WHERE workflow_id = $1 AND step = 'apply' AND outcome = 'failed' ORDER BY seq",
          [`rotate/${SECRET}`],
        );
        failed = rows.rows[0];
        if (!failed) await new Promise((r) => setTimeout(r, 250));
      }
      expect(failed, 'no failed apply was audited: the step waited on the lock').toBeDefined();
      expect(failed!.detail.error).toMatch(new RegExp(`the role row of "${first}" is locked by another session`));
      await lock.release();
      expect(await rotation).toMatchObject({ outcome: 'rotated', toVersion: 3 });
    } finally {
      await lock.release().catch(() => undefined);
      await su.end();
    }
    const now = await kvVersion(stack, SECRET);
    expect(now.data.username).not.toBe(standby);
    expect(await canLogin(stack.file, now.data.username, now.data.password, TARGET_DB)).toBe(true);
  });

  describe('audit log', () => {
    const run = randomUUID();
    const entry = (name: string): AuditEntry => ({
      eventKey: `lock-test/${run}/${name}`,
      actor: 'test:locks',
      workflowId: `lock-test-${run}`,
      runId: run,
      step: name,
      outcome: AuditOutcome.SUCCEEDED,
      detail: { note: name },
    });
    let pool: pg.Pool;

    beforeAll(() => {
      const url = new URL(stack.env.ROTOR_DATABASE_URL);
      url.pathname = `/${AUDIT_DB}`;
      pool = rotorDatabasePool(url.toString(), createLogger('warn'), 2); // the worker's pool, on the scratch copy
      // Rows MACed with the worker's own AppRole, as in a worker.
      keyAuditLog(pool, new VaultSession(stack.env.ROTOR_VAULT_ADDR, stack.env.ROTOR_VAULT_ROLE_ID, stack.env.ROTOR_VAULT_SECRET_ID));
    });
    afterAll(async () => {
      await pool?.end();
    });

    it("the worker's sessions carry the limits: lock_timeout 5 s, statement_timeout 20 s, idle in transaction 10 s", async () => {
      const show = async (name: string) => (await pool.query<Record<string, string>>(`SHOW ${name}`)).rows[0]![name];
      expect([await show('lock_timeout'), await show('statement_timeout'), await show('idle_in_transaction_session_timeout')]).toEqual([
        '5s',
        '20s',
        '10s',
      ]);
    });

    it('an append fails within lock_timeout while a hung transaction holds the audit lock; after release appends work and the chain verifies', async () => {
      expect(await appendAudit(pool, entry('before'))).toBeDefined();
      const lock = await holder(AUDIT_DB);
      let result: Settled;
      try {
        await lock.query(`BEGIN; SELECT pg_advisory_xact_lock(${AUDIT_ADVISORY_LOCK})`); // an open transaction that never ends
        result = await within(appendAudit(pool, entry('blocked')));
      } finally {
        await lock.release();
      }
      expect(result, 'the append waited on the audit lock instead of giving up after lock_timeout').not.toBe('still waiting');
      if (result === 'still waiting' || result.ok) throw new Error(`expected a lock timeout, got ${JSON.stringify(result)}`);
      expect((result.err as Error).message).toMatch(/audit log's append lock \(advisory lock 7202\) .* held by another session/);
      expect(result.ms).toBeGreaterThanOrEqual(4_000);
      // An activity's failure is retryable: toFailure leaves a database error as a plain (retryable) error.
      expect(toFailure(result.err)).not.toBeInstanceOf(ApplicationFailure);

      expect(await appendAudit(pool, entry('blocked'))).toBeDefined(); // the retried append lands, once
      expect(await appendAudit(pool, entry('after'))).toBeDefined();
      const rows = await pool.query<{ step: string }>('SELECT step FROM audit_log ORDER BY seq');
      expect(rows.rows.map((r) => r.step)).toEqual(['before', 'blocked', 'after']);
      // No anchor: Vault's anchor is the stack database's, not this scratch copy's.
      expect(await verifyAudit(pool, { vault: stack.rootVault, anchor: undefined })).toMatchObject({ ok: true, rows: 3 });
    });
  });
});
